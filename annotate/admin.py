from django import forms
from django.conf import settings
from django.contrib import admin, messages
from django.shortcuts import redirect, render
from django.urls import path, reverse
from django.utils.html import format_html, format_html_join

from annotate.imports.formats import FORMATS
from annotate.imports.reader import size_text
from annotate.imports.records import LineError
from annotate.judgements import JudgementError, JudgementRules, clean_ranking
from annotate.models import (
    Annotation,
    AnnotationRevision,
    Claim,
    Completion,
    ImportJob,
    Membership,
    Project,
    Prompt,
)
from annotate.services.import_jobs import prompts_import_upload
from annotate.services.imports import ImportFailed


class ImportForm(forms.Form):
    file = forms.FileField(help_text=".jsonl or .jsonl.gz")
    format = forms.ChoiceField(choices=[(f, f) for f in FORMATS], initial="rankwise")
    annotator = forms.CharField(required=False, help_text="for formats whose lines name none")


class MembershipInline(admin.TabularInline):
    model = Membership
    extra = 0
    autocomplete_fields = ["user"]


@admin.register(Project)
class ProjectAdmin(admin.ModelAdmin):
    list_display = [
        "name", "slug", "overlap", "max_overlap", "gold_rate", "ties_allowed", "created_at",
    ]  # fmt: skip
    list_filter = ["ties_allowed", "require_all_placed"]
    search_fields = ["name", "slug"]
    prepopulated_fields = {"slug": ("name",)}
    inlines = [MembershipInline]
    change_form_template = "admin/annotate/project/change_form.html"

    def get_urls(self):
        custom = [
            path(
                "<int:pk>/import/",
                self.admin_site.admin_view(self.import_view),
                name="annotate_project_import",
            )
        ]
        return custom + super().get_urls()

    def import_view(self, request, pk):
        project = self.get_object(request, pk)
        if project is None or not self.has_change_permission(request, project):
            return redirect("admin:annotate_project_changelist")
        form = ImportForm(request.POST or None, request.FILES or None)
        errors = []
        if request.method == "POST" and form.is_valid():
            try:
                outcome = prompts_import_upload(
                    project=project,
                    upload=form.cleaned_data["file"],
                    fmt=form.cleaned_data["format"],
                    annotator=form.cleaned_data["annotator"] or None,
                    actor=request.user,
                )
            except ImportFailed as exc:
                errors = [str(e) for e in exc.errors]
                messages.error(request, "Nothing was imported: fix the lines below and retry.")
            else:
                if outcome.job is not None:
                    messages.success(
                        request, f"The file is large: import job #{outcome.job.pk} runs it in "
                        "the background. This page shows its progress; reload to follow it.",
                    )  # fmt: skip
                    return redirect(
                        reverse("admin:annotate_importjob_change", args=[outcome.job.pk])
                    )
                summary = ", ".join(
                    f"{k.replace('_', ' ')}: {v}" for k, v in outcome.result.as_dict().items()
                )
                messages.success(request, f"Imported into {project}: {summary}")
                return redirect(reverse("admin:annotate_project_change", args=[project.pk]))
        context = {
            **self.admin_site.each_context(request),
            "title": f"Import into {project}",
            "form": form,
            "errors": errors,
            "project": project,
            "sync_max": size_text(settings.RANKWISE_IMPORT_SYNC_MAX_BYTES),
            "opts": self.model._meta,
        }
        return render(request, "admin/annotate/project/import.html", context)


@admin.register(ImportJob)
class ImportJobAdmin(admin.ModelAdmin):
    """Read-only progress of background imports; they are started from a project's page."""

    list_display = [
        "id", "project", "file_name", "status", "lines_read", "error_count", "prompts_created",
        "created_by", "created_at", "finished_at",
    ]  # fmt: skip
    list_filter = ["status", "project"]
    list_select_related = ["project", "created_by"]
    search_fields = ["file_name", "project__slug"]
    fields = [
        "project", "status", "format", "annotator", "file_name", "file_size", "lines_read",
        "error_count", "prompts_created", "error_lines", "result", "created_by", "created_at",
        "started_at", "finished_at", "updated_at",
    ]  # fmt: skip
    readonly_fields = fields

    def has_add_permission(self, request):
        return False

    def has_change_permission(self, request, obj=None):
        return False

    def has_delete_permission(self, request, obj=None):
        return False

    @admin.display(description="errors")
    def error_lines(self, job):
        if not job.errors:
            return "-"
        items = format_html_join(
            "", "<li>{}</li>", ((str(LineError(e["field"], e["message"], e["line"])),)
                                for e in job.errors),
        )  # fmt: skip
        more = " (more errors not shown)" if job.errors_truncated else ""
        return format_html('<ul class="errorlist" id="import-errors">{}</ul>{}', items, more)


class CompletionInline(admin.TabularInline):
    model = Completion
    extra = 0
    fields = ["external_id", "position", "model_name", "text"]


class PromptAdminForm(forms.ModelForm):
    class Meta:
        model = Prompt
        fields = [
            "project", "external_id", "text", "messages", "metadata", "is_gold", "gold_ranking",
            "target_overlap",
        ]  # fmt: skip

    def clean_gold_ranking(self):
        ranking = self.cleaned_data.get("gold_ranking")
        if ranking in (None, "", []) or self.instance.pk is None:
            return ranking or None
        ids = list(self.instance.completions.values_list("external_id", flat=True))
        try:
            return clean_ranking(ranking, ids, JudgementRules.for_project(self.instance.project))
        except JudgementError as exc:
            raise forms.ValidationError(exc.message) from exc


@admin.register(Prompt)
class PromptAdmin(admin.ModelAdmin):
    form = PromptAdminForm
    list_display = [
        "external_id", "project", "short_text", "is_gold", "submitted_count", "target_overlap",
        "created_at",
    ]  # fmt: skip
    list_filter = ["project", "is_gold"]
    search_fields = ["external_id", "text"]
    list_select_related = ["project"]
    readonly_fields = ["submitted_count"]
    inlines = [CompletionInline]
    actions = ["mark_gold", "unmark_gold"]

    @admin.display(description="prompt")
    def short_text(self, obj):
        return obj.display_text[:80]

    @admin.action(description="Mark as gold (needs a gold ranking to score annotators)")
    def mark_gold(self, request, queryset):
        queryset.update(is_gold=True)

    @admin.action(description="Unmark gold")
    def unmark_gold(self, request, queryset):
        queryset.update(is_gold=False)


@admin.register(Completion)
class CompletionAdmin(admin.ModelAdmin):
    list_display = ["prompt", "external_id", "model_name", "position"]
    list_filter = ["prompt__project", "model_name"]
    search_fields = ["text", "prompt__external_id"]
    raw_id_fields = ["prompt"]


class RevisionInline(admin.TabularInline):
    model = AnnotationRevision
    extra = 0
    readonly_fields = ["action", "editor", "state", "created_at"]
    can_delete = False


@admin.register(Annotation)
class AnnotationAdmin(admin.ModelAdmin):
    list_display = ["prompt", "annotator", "ranking", "skipped", "time_ms", "source", "updated_at"]
    list_filter = ["prompt__project", "skipped", "source"]
    search_fields = ["annotator__username", "prompt__external_id", "comment"]
    raw_id_fields = ["prompt", "annotator"]
    list_select_related = ["prompt", "annotator"]
    inlines = [RevisionInline]


@admin.register(AnnotationRevision)
class AnnotationRevisionAdmin(admin.ModelAdmin):
    list_display = ["annotation", "action", "editor", "created_at"]
    list_filter = ["action"]
    raw_id_fields = ["annotation", "editor"]


@admin.register(Membership)
class MembershipAdmin(admin.ModelAdmin):
    list_display = ["project", "user", "created_at"]
    list_filter = ["project"]
    search_fields = ["user__username"]
    raw_id_fields = ["user"]


@admin.register(Claim)
class ClaimAdmin(admin.ModelAdmin):
    list_display = ["prompt", "user", "project", "claimed_at", "expires_at"]
    list_filter = ["project"]
    search_fields = ["user__username", "prompt__external_id"]
    raw_id_fields = ["prompt", "user"]
    list_select_related = ["prompt", "user", "project"]
    readonly_fields = ["claimed_at", "shown_order"]
