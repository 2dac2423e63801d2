from django import forms
from django.contrib import admin, messages
from django.shortcuts import redirect, render
from django.urls import path, reverse
from django.utils.html import format_html

from annotate.models import Project
from exports.models import DatasetSnapshot
from exports.options import (
    DEFAULT_SPLIT,
    OPTION_FIELDS,
    SPLITS,
    ExportOptionsError,
    OptionField,
    clean_options,
)
from exports.reproduce import snapshot_cli_command, snapshot_python_snippet
from exports.services import (
    SnapshotNotReady,
    snapshot_create,
    snapshot_delete,
    snapshot_verify,
    snapshots_recreate,
)


def _option_form_fields(option: OptionField) -> dict[str, forms.Field]:
    """The admin form's fields for one export setting (a split is one field per fraction)."""
    text = option.help[:1].lower() + option.help[1:].rstrip(".") if option.help else ""
    if option.kind == "choice":
        return {option.name: forms.ChoiceField(choices=[(c, c) for c in option.choices])}
    if option.kind == "optional_choice":
        choices = [("", "project default"), *((c, c) for c in option.choices)]
        return {option.name: forms.ChoiceField(choices=choices, required=False, help_text=text)}
    if option.kind == "fraction":
        return {option.name: forms.FloatField(required=False, min_value=0, max_value=1)}
    if option.kind in ("flags", "usernames"):
        what = "flag keys" if option.kind == "flags" else "usernames"
        return {option.name: forms.CharField(required=False, help_text=f"comma-separated {what}")}
    if option.kind == "bool":
        return {option.name: forms.BooleanField(required=False, help_text=text)}
    if option.kind == "datetime":
        return {option.name: forms.DateTimeField(required=False, help_text=text)}
    if option.kind == "seed":
        return {option.name: forms.IntegerField(min_value=0, initial=option.default)}
    if option.kind == "split":
        return {
            name: forms.FloatField(min_value=0, max_value=1, initial=fraction)
            for name, fraction in DEFAULT_SPLIT.items()
        }
    raise ValueError(f"no form field for {option.kind!r}")


def export_form_options(data: dict) -> dict:
    """The form's cleaned data as export settings (the split's fractions gathered)."""
    return {
        option.name: {name: data[name] for name in SPLITS}
        if option.kind == "split"
        else data[option.name]
        for option in OPTION_FIELDS
    }


class ExportFormBase(forms.Form):
    project = forms.ModelChoiceField(queryset=Project.objects.order_by("name"))
    format = forms.ChoiceField(choices=DatasetSnapshot.Format.choices)

    def clean(self):
        """Every error at once: the settings' own rules (exports.options) are checked one by one
        on whatever parsed, so a bad split shows beside a bad date, not after it is fixed."""
        data = super().clean()
        project = data.get("project")
        if project is None:
            return data
        single = {
            "split": (SPLITS, lambda d: {k: d[k] for k in SPLITS}),
            "min_agreement": (("min_agreement",), lambda d: d["min_agreement"]),
            "exclude_flags": (("exclude_flags",), lambda d: d["exclude_flags"]),
            "holdout_annotators": (("holdout_annotators",), lambda d: d["holdout_annotators"]),
            "annotated_to": (("annotated_from", "annotated_to"), None),
        }  # fmt: skip
        for key, (fields, value) in single.items():
            if any(f not in data for f in fields):
                continue  # that field has its own error already
            options = {f: data[f] for f in fields} if value is None else {key: value(data)}
            try:
                clean_options(project, options)
            except ExportOptionsError as exc:
                self.add_error(fields[0] if key == "split" else key, exc.message)
        return data


ExportForm = type(
    "ExportForm",
    (ExportFormBase,),
    {
        "__module__": __name__,
        **{n: f for option in OPTION_FIELDS for n, f in _option_form_fields(option).items()},
    },
)


@admin.register(DatasetSnapshot)
class DatasetSnapshotAdmin(admin.ModelAdmin):
    list_display = ["id", "project", "format", "status", "progress_percent", "rows_written",
                    "short_sha", "created_by", "created_at"]  # fmt: skip
    list_filter = ["status", "format", "project"]
    list_select_related = ["project", "created_by"]
    search_fields = ["sha256", "project__slug"]
    actions = ["verify", "export_again"]
    # Snapshots are immutable: every field is read-only and there is no change form to save.
    readonly_fields = [*(f.name for f in DatasetSnapshot._meta.fields), "reproduce"]
    change_list_template = "admin/exports/datasetsnapshot/change_list.html"

    @admin.display(description="progress")
    def progress_percent(self, obj):
        return f"{obj.progress:.0%}"

    @admin.display(description="sha256")
    def short_sha(self, obj):
        return format_html("<code>{}</code>", obj.sha256[:12]) if obj.sha256 else "-"

    @admin.display(description="reproduce with the client / command line")
    def reproduce(self, obj):
        return format_html(
            '<pre class="reproduce-python">{}</pre><pre class="reproduce-cli">{}</pre>',
            snapshot_python_snippet(obj), snapshot_cli_command(obj),
        )  # fmt: skip

    def has_add_permission(self, request):
        return False  # new snapshots come from the export form (see get_urls)

    def has_change_permission(self, request, obj=None):
        return request.method in ("GET", "HEAD") and super().has_view_permission(request, obj)

    def get_urls(self):
        new = path("new/", self.admin_site.admin_view(self.export_view), name="exports_new")
        return [new, *super().get_urls()]

    def export_view(self, request):
        if not self.has_view_permission(request) or not request.user.has_perm(
            "exports.add_datasetsnapshot"
        ):
            return redirect("admin:exports_datasetsnapshot_changelist")
        form = ExportForm(request.POST or None)
        if request.method == "POST" and form.is_valid():
            data = form.cleaned_data
            options = export_form_options(data)
            try:
                snapshot = snapshot_create(
                    project=data["project"], fmt=data["format"], options=options,
                    user=request.user,
                )  # fmt: skip
            except ExportOptionsError as exc:
                name = exc.field if exc.field in form.fields else None
                form.add_error(name, exc.message)
            else:
                messages.success(request, f"Snapshot {snapshot.pk} queued.")
                return redirect(reverse("admin:exports_datasetsnapshot_change", args=[snapshot.pk]))
        context = {
            **self.admin_site.each_context(request),
            "title": "New dataset export",
            "form": form,
            "opts": self.model._meta,
        }
        return render(request, "admin/exports/datasetsnapshot/new.html", context)

    @admin.action(description="Verify files against their SHA-256")
    def verify(self, request, queryset):
        for snapshot in queryset:
            try:
                problems = snapshot_verify(snapshot=snapshot)
            except SnapshotNotReady as exc:
                messages.warning(request, str(exc))
                continue
            if problems:
                messages.error(request, f"Snapshot {snapshot.pk}: " + "; ".join(problems))
            else:
                messages.success(request, f"Snapshot {snapshot.pk}: intact.")

    @admin.action(description="Export again with the same settings (a new snapshot)")
    def export_again(self, request, queryset):
        originals = list(queryset)
        created = snapshots_recreate(snapshots=originals, user=request.user)
        for new, snapshot in zip(created, originals, strict=True):
            messages.success(request, f"Snapshot {new.pk} queued (settings of {snapshot.pk}).")

    def delete_model(self, request, obj):
        snapshot_delete(snapshot=obj, actor=request.user)

    def delete_queryset(self, request, queryset):
        for snapshot in queryset:
            snapshot_delete(snapshot=snapshot, actor=request.user)
