from django import forms
from django.conf import settings
from django.contrib import admin, messages
from django.contrib.auth import get_user_model
from django.contrib.auth.admin import UserAdmin
from django.shortcuts import redirect, render
from django.urls import path, reverse
from django.utils.html import format_html, format_html_join
from rest_framework.authtoken.admin import TokenAdmin
from rest_framework.authtoken.models import TokenProxy

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
from annotate.services.accounts import token_issue, token_revoke, user_admin_saved, user_audit_state
from annotate.services.import_jobs import prompts_import_upload
from annotate.services.imports import ImportFailed
from annotate.services.judging_settings import judging_changes_check, judging_fit_check
from annotate.services.project_admin import (
    project_admin_save,
    project_member_change,
    project_member_remove,
    project_members_add,
)
from annotate.services.projects import AUDITED_SETTINGS
from core.admin import ReadOnlyAdmin


class ImportForm(forms.Form):
    file = forms.FileField(help_text=".jsonl or .jsonl.gz")
    format = forms.ChoiceField(choices=[(f, f) for f in FORMATS], initial="rankwise")
    annotator = forms.CharField(
        required=False,
        help_text="The annotator to credit with the file's judgements when its lines name none "
        "(pairwise and hh-rlhf files).",
    )


class MembershipInline(admin.TabularInline):
    model = Membership
    extra = 0
    autocomplete_fields = ["user"]


class ProjectAdminForm(forms.ModelForm):
    class Meta:
        model = Project
        fields = "__all__"  # noqa: DJ007 - the admin edits every setting

    def clean(self):
        # The same checks as the API's (presets expanded, the mode and its scale fit).
        data = judging_changes_check(changes=super().clean())
        judging_fit_check(
            judging_mode=data.get("judging_mode"),
            strength_levels=data.get("strength_levels") or [],
            gap_levels=data.get("gap_levels") or [],
        )
        return data


@admin.register(Project)
class ProjectAdmin(admin.ModelAdmin):
    form = ProjectAdminForm
    list_display = [
        "name", "slug", "judging_mode", "overlap", "max_overlap", "gold_rate", "ties_allowed",
        "created_at",
    ]  # fmt: skip
    list_filter = ["judging_mode", "ties_allowed", "require_all_placed"]
    search_fields = ["name", "slug"]
    prepopulated_fields = {"slug": ("name",)}
    inlines = [MembershipInline]
    change_form_template = "admin/annotate/project/change_form.html"
    # Changed through /api/v1/projects/<slug>/loop/ (loop.services), which rescores the queue.
    readonly_fields = ["priority", "shown_k", "machine_in_consensus"]

    # Settings and memberships go through the services, which record them in the audit log.
    def save_model(self, request, obj, form, change):
        changes = {f: form.cleaned_data[f] for f in form.changed_data if f in AUDITED_SETTINGS}
        project_admin_save(project=obj, changes=changes, actor=request.user, created=not change)

    def save_formset(self, request, form, formset, change):
        if formset.model is not Membership:
            return super().save_formset(request, form, formset, change)
        memberships_save(formset, project=form.instance, actor=request.user)

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
class ImportJobAdmin(ReadOnlyAdmin):
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
    readonly_fields = ["submitted_count", "priority", "priority_lineage", "shown_ids"]
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
    readonly_fields = ["lineage", "confidence"]  # written by the queue and machine judges
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

    def save_model(self, request, obj, form, change):
        if change:
            old = Membership.objects.select_related("user").get(pk=obj.pk).user
            project_member_change(project=obj.project, old_user=old, new_user=obj.user,
                                  actor=request.user)  # fmt: skip
        else:
            project_members_add(project=obj.project, usernames=[obj.user.username],
                                actor=request.user)  # fmt: skip
            obj.pk = Membership.objects.get(project=obj.project, user=obj.user).pk

    def delete_model(self, request, obj):
        project_member_remove(project=obj.project, user=obj.user, actor=request.user)

    def delete_queryset(self, request, queryset):
        for membership in queryset.select_related("project", "user"):
            self.delete_model(request, membership)


def memberships_save(formset, *, project, actor) -> None:
    """A project's membership inline, saved through the membership services."""
    formset.save(commit=False)
    for membership in formset.deleted_objects:
        project_member_remove(project=project, user=membership.user, actor=actor)
    for membership, _ in formset.changed_objects:
        old = Membership.objects.select_related("user").get(pk=membership.pk).user
        project_member_change(project=project, old_user=old, new_user=membership.user,
                              actor=actor)  # fmt: skip
    for membership in formset.new_objects:
        project_members_add(project=project, usernames=[membership.user.username], actor=actor)


admin.site.unregister(get_user_model())


@admin.register(get_user_model())
class AuditedUserAdmin(UserAdmin):
    """Django's user admin; role (group) and access changes are recorded in the audit log."""

    def save_model(self, request, obj, form, change):
        stored = type(obj).objects.filter(pk=obj.pk).first() if change else None
        request._audit_user_before = user_audit_state(user=stored) if stored else None
        super().save_model(request, obj, form, change)

    def save_related(self, request, form, formsets, change):
        super().save_related(request, form, formsets, change)
        user_admin_saved(user=form.instance, before=request._audit_user_before, actor=request.user)


admin.site.unregister(TokenProxy)


@admin.register(TokenProxy)
class AuditedTokenAdmin(TokenAdmin):
    """DRF's token admin; issuing and revoking go through the audited services."""

    def save_model(self, request, obj, form, change):
        token = token_issue(user=obj.user, rotate=True, actor=request.user)
        obj.key, obj.created = token.key, token.created

    def delete_model(self, request, obj):
        token_revoke(user=obj.user, actor=request.user)

    def delete_queryset(self, request, queryset):
        for token in queryset.select_related("user"):
            self.delete_model(request, token)


@admin.register(Claim)
class ClaimAdmin(admin.ModelAdmin):
    list_display = ["prompt", "user", "project", "claimed_at", "expires_at"]
    list_filter = ["project"]
    search_fields = ["user__username", "prompt__external_id"]
    raw_id_fields = ["prompt", "user"]
    list_select_related = ["prompt", "user", "project"]
    readonly_fields = ["claimed_at", "shown_order"]
