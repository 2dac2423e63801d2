from __future__ import annotations

from django.urls import reverse
from rest_framework import serializers

from exports.models import DatasetSnapshot
from exports.options import DEFAULT_SPLIT, OPTION_FIELDS, OptionField

SplitSerializer = type(
    "SplitSerializer",
    (serializers.Serializer,),
    {
        "__module__": __name__,
        **{
            name: serializers.FloatField(min_value=0, max_value=1, default=fraction)
            for name, fraction in DEFAULT_SPLIT.items()
        },
    },
)


def _option_field(option: OptionField) -> serializers.Field:
    """The API's field for one export setting (exports.options.OPTION_FIELDS)."""
    text = {"help_text": option.help} if option.help else {}
    if option.kind == "choice":
        return serializers.ChoiceField(choices=option.choices, default=option.default, **text)
    if option.kind == "optional_choice":
        return serializers.ChoiceField(choices=option.choices, required=False, **text)
    if option.kind == "fraction":
        return serializers.FloatField(
            min_value=0, max_value=1, required=False, allow_null=True, **text
        )
    if option.kind in ("flags", "usernames"):
        length = 50 if option.kind == "flags" else 150
        child = serializers.CharField(max_length=length)
        return serializers.ListField(child=child, required=False, **text)
    if option.kind == "bool":
        return serializers.BooleanField(required=False, default=option.default, **text)
    if option.kind == "datetime":
        return serializers.DateTimeField(required=False, allow_null=True, **text)
    if option.kind == "seed":
        return serializers.IntegerField(min_value=0, default=option.default, **text)
    if option.kind == "split":
        return SplitSerializer(required=False)
    raise ValueError(f"no API field for {option.kind!r}")


SnapshotCreateSerializer = type(
    "SnapshotCreateSerializer",
    (serializers.Serializer,),
    {
        "__module__": __name__,
        "project": serializers.SlugField(help_text="Project slug."),
        "format": serializers.ChoiceField(choices=DatasetSnapshot.Format.choices),
        **{option.name: _option_field(option) for option in OPTION_FIELDS},
    },
)


class SnapshotFileSerializer(serializers.Serializer):
    path = serializers.CharField()
    size = serializers.IntegerField()
    sha256 = serializers.CharField()


class SnapshotSerializer(serializers.ModelSerializer):
    project = serializers.CharField(source="project.slug")
    created_by = serializers.CharField(source="created_by.username", allow_null=True)
    progress = serializers.FloatField(help_text="0..1: prompts read / prompts in the project.")
    files = SnapshotFileSerializer(many=True)
    settings = serializers.DictField()
    row_counts = serializers.DictField()
    download_url = serializers.SerializerMethodField()

    class Meta:
        model = DatasetSnapshot
        fields = [
            "id", "project", "format", "status", "progress", "prompts_total", "prompts_done",
            "rows_written", "row_counts", "settings", "sha256", "file_path", "size_bytes",
            "files", "code_version", "data_as_of", "error", "created_by", "created_at",
            "started_at", "finished_at", "download_url",
        ]  # fmt: skip
        read_only_fields = fields

    def get_download_url(self, snapshot) -> str | None:
        if not snapshot.is_ready:
            return None
        return reverse("api:snapshot-download", args=[snapshot.pk])


class SnapshotFilterSerializer(serializers.Serializer):
    project = serializers.SlugField(required=False)
    status = serializers.ChoiceField(choices=DatasetSnapshot.Status.choices, required=False)
    format = serializers.ChoiceField(choices=DatasetSnapshot.Format.choices, required=False)


class SnapshotDownloadSerializer(serializers.Serializer):
    file = serializers.CharField(
        required=False, max_length=300,
        help_text="A path from the snapshot's files; default: the JSONL data (pairwise, "
        "rankings). hf snapshots need it, e.g. parquet/train.parquet.",
    )  # fmt: skip
