"""Input parsing and output rendering of the annotate API; rules live in the services."""

from __future__ import annotations

from django.urls import reverse
from rest_framework import serializers

from annotate.imports.formats import FORMATS
from annotate.letters import letters_seen
from annotate.models import (
    Annotation,
    AnnotationRevision,
    Completion,
    ImportJob,
    Project,
    Prompt,
)
from core.api.fields import MESSAGES_SCHEMA, STRINGS, FreeObjectField, typed_json_field
from core.api.permissions import roles_of
from core.roles import Roles

RankingField = typed_json_field(
    "RankingField",
    {"type": "array", "items": STRINGS, "example": [["A"], ["C", "D"], ["B"]]},
)
RatingsField = typed_json_field(
    "RatingsField",
    {"type": "object", "additionalProperties": {"type": "integer"}, "example": {"A": 6, "B": 3}},
)
FlagsField = typed_json_field(
    "FlagsField",
    {"type": "object", "additionalProperties": STRINGS, "example": {"B": ["hallucination"]}},
)
MessagesField = typed_json_field("MessagesField", {**MESSAGES_SCHEMA, "nullable": True})
RatingScaleField = typed_json_field(
    "RatingScaleField",
    {"type": "object", "properties": {"min": {"type": "integer"}, "max": {"type": "integer"},
     "label": {"type": "string"}}, "example": {"min": 1, "max": 7, "label": "Overall quality"},
     "description": "Empty to rate nothing."},
)  # fmt: skip
ProjectFlagsField = typed_json_field(
    "ProjectFlagsField",
    {"type": "array", "items": {"type": "object", "properties": {
        "key": {"type": "string"}, "label": {"type": "string"}}, "required": ["key"]}},
)  # fmt: skip
ShownOrderField = typed_json_field("ShownOrderField", STRINGS)
LevelsField = typed_json_field(
    "LevelsField",
    {"oneOf": [STRINGS, {"type": "string"}], "example": ["slightly better", "better", "much better"],
     "description": "Labels weakest first, or a preset name (strength: helpsteer3, llama2; gaps: "
     "default)."},
)  # fmt: skip
DimensionsSettingField = typed_json_field(
    "DimensionsSettingField",
    {"type": "array", "items": {"type": "object", "properties": {
        "key": {"type": "string"}, "name": {"type": "string"},
        "instructions": {"type": "string"}}, "required": ["key"]}},
)  # fmt: skip
GapsField = typed_json_field(
    "GapsField",
    {"type": "array", "items": {"type": "integer", "nullable": True}, "example": [1, 3],
     "description": "Ranking mode: the gap level (1 = weakest) between each pair of adjacent "
     "rank groups; null = not marked."},
)  # fmt: skip
DimensionChoicesField = typed_json_field(
    "DimensionChoicesField",
    {"type": "object", "additionalProperties": {"type": "object", "properties": {
        "ranking": {"type": "array", "items": STRINGS}, "strength": {"type": "integer"},
        "tie_kind": {"type": "string"}, "gaps": {"type": "array", "items": {"type": "integer"}}}},
     "example": {"harmlessness": {"ranking": [["A", "B"]], "tie_kind": "both_good"}}},
)  # fmt: skip


# --- users and auth -----------------------------------------------------------------------------


class LoginSerializer(serializers.Serializer):
    username = serializers.CharField(max_length=150)
    password = serializers.CharField(max_length=128, style={"input_type": "password"})


class UserSerializer(serializers.Serializer):
    id = serializers.IntegerField(read_only=True)
    username = serializers.CharField(read_only=True)
    email = serializers.CharField(read_only=True, help_text="May be empty.")
    is_active = serializers.BooleanField(read_only=True)
    is_superuser = serializers.BooleanField(read_only=True)
    roles = serializers.SerializerMethodField()
    date_joined = serializers.DateTimeField(read_only=True)
    last_login = serializers.DateTimeField(read_only=True, allow_null=True)

    def get_roles(self, user) -> list[str]:
        return sorted(roles_of(user))


class MeSerializer(UserSerializer):
    projects = serializers.SerializerMethodField()

    def get_projects(self, user) -> list[str]:
        return list(self.context.get("project_slugs", []))


class UserCreateSerializer(serializers.Serializer):
    username = serializers.RegexField(r"^[\w.@+-]+\Z", max_length=150)
    password = serializers.CharField(
        max_length=128, required=False, allow_blank=True, write_only=True,
        help_text="Leave out for an account that only uses an API token.",
    )  # fmt: skip
    email = serializers.EmailField(required=False, allow_blank=True)
    roles = serializers.ListField(
        child=serializers.ChoiceField(choices=Roles.ALL), required=False, default=list
    )
    is_active = serializers.BooleanField(required=False, default=True)


class UserUpdateSerializer(serializers.Serializer):
    email = serializers.EmailField(required=False, allow_blank=True)
    roles = serializers.ListField(child=serializers.ChoiceField(choices=Roles.ALL), required=False)
    is_active = serializers.BooleanField(required=False)


class TokenSerializer(serializers.Serializer):
    username = serializers.CharField(source="user.username", read_only=True)
    key = serializers.CharField(read_only=True, help_text="Send as `Authorization: Token <key>`.")
    created = serializers.DateTimeField(read_only=True)


# --- projects -----------------------------------------------------------------------------------


class ProjectSerializer(serializers.ModelSerializer):
    rating_scale = RatingScaleField(required=False)
    flags = ProjectFlagsField(required=False)
    strength_levels = LevelsField(required=False)
    gap_levels = LevelsField(required=False)
    dimensions = DimensionsSettingField(required=False)
    prompt_count = serializers.IntegerField(read_only=True, required=False)
    annotation_count = serializers.IntegerField(read_only=True, required=False)

    class Meta:
        model = Project
        fields = [
            "id", "name", "slug", "instructions", "ties_allowed", "require_all_placed",
            "rating_scale", "flags", "overlap", "claim_timeout_minutes", "judging_mode",
            "strength_levels", "gap_levels", "dimensions", "rationale", "prompt_count",
            "annotation_count", "created_at", "updated_at",
        ]  # fmt: skip
        read_only_fields = ["id", "created_at", "updated_at"]
        # Uniqueness is the service's (full_clean) job, so the check is not made twice.
        extra_kwargs = {
            "slug": {"validators": [], "required": False},
            "overlap": {"min_value": 1},
            "claim_timeout_minutes": {"min_value": 1},
        }


class MembersAddSerializer(serializers.Serializer):
    usernames = serializers.ListField(
        child=serializers.CharField(max_length=150), allow_empty=False, max_length=1000
    )


class MemberSerializer(serializers.Serializer):
    username = serializers.CharField(source="user.username")
    roles = serializers.SerializerMethodField()
    is_active = serializers.BooleanField(source="user.is_active")
    joined = serializers.DateTimeField(source="created_at")

    def get_roles(self, membership) -> list[str]:
        return sorted(g.name for g in membership.user.groups.all())


# --- prompts ------------------------------------------------------------------------------------


class CompletionSerializer(serializers.ModelSerializer):
    id = serializers.CharField(source="external_id")
    model = serializers.CharField(source="model_name")
    metadata = FreeObjectField()

    class Meta:
        model = Completion
        fields = ["id", "position", "text", "model", "metadata"]


class PromptSerializer(serializers.ModelSerializer):
    messages = MessagesField(allow_null=True)
    metadata = FreeObjectField()
    gold_ranking = RankingField(allow_null=True)
    completions = CompletionSerializer(many=True, read_only=True)
    annotation_count = serializers.IntegerField(read_only=True)

    class Meta:
        model = Prompt
        fields = [
            "id", "external_id", "text", "messages", "metadata", "is_gold", "gold_ranking",
            "completions", "annotation_count", "created_at",
        ]  # fmt: skip


class PromptFilterSerializer(serializers.Serializer):
    external_id = serializers.CharField(required=False, max_length=200)
    is_gold = serializers.BooleanField(required=False, allow_null=True, default=None)
    annotated = serializers.BooleanField(
        required=False, allow_null=True, default=None,
        help_text="true: prompts with at least one ranking; false: prompts with none.",
    )  # fmt: skip
    created_after = serializers.DateTimeField(required=False)
    created_before = serializers.DateTimeField(required=False)


class PromptImportSerializer(serializers.Serializer):
    file = serializers.FileField(help_text=".jsonl or .jsonl.gz, one prompt per line")
    format = serializers.ChoiceField(choices=list(FORMATS), default="rankwise")
    annotator = serializers.CharField(
        required=False, allow_blank=True, max_length=150,
        help_text="Annotator for formats whose lines name none (pairwise, hh-rlhf, oasst).",
    )  # fmt: skip


class ImportResultSerializer(serializers.Serializer):
    lines = serializers.IntegerField()
    prompts_created = serializers.IntegerField()
    prompts_unchanged = serializers.IntegerField()
    completions_created = serializers.IntegerField()
    annotations_created = serializers.IntegerField()
    annotations_unchanged = serializers.IntegerField()
    annotators = serializers.IntegerField()


class ImportErrorLineSerializer(serializers.Serializer):
    line = serializers.IntegerField(allow_null=True)
    field = serializers.CharField(allow_blank=True, help_text='"" when the line itself is at fault')
    message = serializers.CharField()


class ImportJobSerializer(serializers.ModelSerializer):
    url = serializers.SerializerMethodField(help_text="This job; GET it to follow progress.")
    project = serializers.CharField(source="project.slug", read_only=True)
    created_by = serializers.CharField(source="created_by.username", read_only=True,
                                       allow_null=True, default=None)  # fmt: skip
    errors = ImportErrorLineSerializer(many=True, read_only=True)
    result = ImportResultSerializer(read_only=True, allow_null=True, source="result_or_none")

    class Meta:
        model = ImportJob
        fields = [
            "id", "url", "project", "status", "format", "annotator", "file_name", "file_size",
            "lines_read", "error_count", "prompts_created", "errors", "errors_truncated",
            "result", "created_by", "created_at", "started_at", "finished_at", "updated_at",
        ]  # fmt: skip
        read_only_fields = fields

    def get_url(self, job) -> str:
        return reverse("api:import-job-detail", kwargs={"slug": job.project.slug, "pk": job.pk})


class ImportErrorSerializer(serializers.Serializer):
    error = serializers.CharField(help_text="invalid_import")
    detail = serializers.CharField()
    fields = serializers.DictField(
        child=serializers.CharField(), help_text='{"line 17": "completions: 1 item, need 2 to 9"}'
    )
    errors = ImportErrorLineSerializer(
        many=True, required=False, help_text="With invalid_import: every bad line (up to 20)."
    )
    truncated = serializers.BooleanField(
        required=False, help_text="With invalid_import: more lines had errors than are listed."
    )


# --- annotations --------------------------------------------------------------------------------


class AnnotationSerializer(serializers.ModelSerializer):
    prompt_external_id = serializers.CharField(source="prompt.external_id", read_only=True)
    annotator = serializers.CharField(source="annotator.username", read_only=True)
    ranking = RankingField()
    ratings = RatingsField()
    flags = FlagsField()
    shown_order = ShownOrderField()
    gaps = GapsField()
    dimensions = DimensionChoicesField()
    letters = serializers.SerializerMethodField(
        help_text="The letter the annotator saw for each completion id (A = first shown): what "
        "their comment means by 'B'."
    )

    class Meta:
        model = Annotation
        fields = [
            "id", "prompt", "prompt_external_id", "annotator", "ranking", "ratings", "flags",
            "comment", "skipped", "skip_reason", "time_ms", "shown_order", "strength", "tie_kind",
            "gaps", "dimensions", "rationale", "letters", "source", "created_at", "updated_at",
        ]  # fmt: skip
        read_only_fields = fields

    def get_letters(self, annotation) -> dict[str, str]:
        return letters_seen(annotation.shown_order)


class RevisionSerializer(serializers.ModelSerializer):
    editor = serializers.CharField(source="editor.username", allow_null=True, read_only=True)
    state = FreeObjectField()

    class Meta:
        model = AnnotationRevision
        fields = ["id", "action", "editor", "state", "created_at"]


class AnnotationDetailSerializer(AnnotationSerializer):
    revisions = RevisionSerializer(many=True, read_only=True)

    class Meta(AnnotationSerializer.Meta):
        fields = [*AnnotationSerializer.Meta.fields, "revisions"]
        read_only_fields = fields


class AnnotationFilterSerializer(serializers.Serializer):
    annotator = serializers.CharField(required=False, max_length=150)
    prompt = serializers.IntegerField(required=False, min_value=1, help_text="prompt id")
    prompt_external_id = serializers.CharField(required=False, max_length=200)
    skipped = serializers.BooleanField(required=False, allow_null=True, default=None)
    flag = serializers.CharField(
        required=False, max_length=50, help_text="annotations that flag any output with this key"
    )
    source = serializers.ChoiceField(choices=Annotation.Source.choices, required=False)
    created_after = serializers.DateTimeField(required=False)
    created_before = serializers.DateTimeField(required=False)
