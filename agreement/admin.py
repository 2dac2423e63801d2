from django.contrib import admin

from agreement.models import (
    Adjudication,
    AnnotatorScore,
    PendingConsensus,
    ProjectAgreement,
    PromptConsensus,
)


class ReadOnlyAdmin(admin.ModelAdmin):
    """Derived rows: rebuilt by every recompute, so editing them by hand would be lost."""

    def has_add_permission(self, request):
        return False

    def has_change_permission(self, request, obj=None):
        return False


@admin.register(PromptConsensus)
class PromptConsensusAdmin(ReadOnlyAdmin):
    list_display = ["prompt", "project", "agreement", "n_judgements", "gold_missed", "computed_at"]
    list_filter = ["project", "gold_missed"]
    list_select_related = ["prompt", "project"]
    search_fields = ["prompt__external_id"]


@admin.register(AnnotatorScore)
class AnnotatorScoreAdmin(ReadOnlyAdmin):
    list_display = ["annotator", "project", "weight", "agreement", "n_judgements", "computed_at"]
    list_filter = ["project"]
    list_select_related = ["annotator", "project"]
    search_fields = ["annotator__username"]


@admin.register(ProjectAgreement)
class ProjectAgreementAdmin(ReadOnlyAdmin):
    list_display = ["project", "n_prompts", "n_judgements", "duration_ms", "stale", "computed_at"]


@admin.register(Adjudication)
class AdjudicationAdmin(ReadOnlyAdmin):
    """Audit rows: reviewers add them on the review page; nobody edits them."""

    list_display = ["prompt", "reviewer", "created_at"]
    list_filter = ["prompt__project"]
    list_select_related = ["prompt", "reviewer"]
    search_fields = ["prompt__external_id", "reviewer__username"]


@admin.register(PendingConsensus)
class PendingConsensusAdmin(ReadOnlyAdmin):
    """Prompts waiting for the worker's consensus flush: a long list means no worker runs."""

    list_display = ["prompt", "project", "queued_at"]
    list_filter = ["project"]
    list_select_related = ["prompt", "project"]
