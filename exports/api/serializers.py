from __future__ import annotations

from django.urls import reverse
from rest_framework import serializers

from exports.models import DatasetSnapshot
from exports.options import MARGINS, MODES, TIE_POLICIES


class SplitSerializer(serializers.Serializer):
    train = serializers.FloatField(min_value=0, max_value=1, default=0.9)
    validation = serializers.FloatField(min_value=0, max_value=1, default=0.05)
    test = serializers.FloatField(min_value=0, max_value=1, default=0.05)


class SnapshotCreateSerializer(serializers.Serializer):
    project = serializers.SlugField(help_text="Project slug.")
    format = serializers.ChoiceField(choices=DatasetSnapshot.Format.choices)
    mode = serializers.ChoiceField(
        choices=MODES, default="all",
        help_text="all: every annotator's pairs; consensus: one consensus ranking per prompt.",
    )  # fmt: skip
    min_agreement = serializers.FloatField(
        min_value=0, max_value=1, required=False, allow_null=True,
        help_text="Leave out prompts whose agreement is below this (or unknown).",
    )  # fmt: skip
    exclude_flags = serializers.ListField(
        child=serializers.CharField(max_length=50), required=False,
        help_text="Leave out prompts where any output carries one of these flags.",
    )  # fmt: skip
    only_reviewed = serializers.BooleanField(required=False, default=False)
    annotated_from = serializers.DateTimeField(required=False, allow_null=True)
    annotated_to = serializers.DateTimeField(
        required=False, allow_null=True, help_text="Exclusive."
    )
    ties = serializers.ChoiceField(
        choices=TIE_POLICIES, default="drop",
        help_text="drop tied pairs, or keep them with tie=true (pairwise and hf).",
    )  # fmt: skip
    margin = serializers.ChoiceField(
        choices=MARGINS, required=False,
        help_text="consensus: 2p - 1; judged: the annotators' strength or rank gaps "
        "(docs/judging.md). Default: judged for projects that judge either.",
    )  # fmt: skip
    seed = serializers.IntegerField(min_value=0, default=0)
    split = SplitSerializer(required=False)
    holdout_annotators = serializers.ListField(
        child=serializers.CharField(max_length=150), required=False,
        help_text="Prompts these annotators judged all go to the test split.",
    )  # fmt: skip


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
