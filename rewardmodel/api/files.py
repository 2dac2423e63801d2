"""A registered model's files over the API: the list, and one file's bytes.

Shared by reward models (here) and PPO policies (training.api.views). Only the model itself is
served (weights, tokenizer, config, card), not training leftovers (``checkpoints/``,
``inputs/``), and only a listed path can be asked for, so no request climbs out of the folder.
"""

from __future__ import annotations

from pathlib import Path

from django.http import FileResponse
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiParameter, OpenApiResponse, extend_schema
from rest_framework import serializers, status
from rest_framework.response import Response
from rest_framework.views import APIView

from core.api.errors import ApiError, error_responses

SKIPPED_DIRS = {"checkpoints", "inputs"}


def model_files_list(folder: Path) -> list[dict]:
    """``[{"path", "size"}]`` of the model's files, sorted; hidden files and the training
    leftovers are not part of the model."""
    files = []
    for path in sorted(folder.rglob("*")):
        rel = path.relative_to(folder)
        if not path.is_file() or rel.parts[0] in SKIPPED_DIRS:
            continue
        if any(part.startswith(".") for part in rel.parts):
            continue
        files.append({"path": rel.as_posix(), "size": path.stat().st_size})
    return files


class ModelFileSerializer(serializers.Serializer):
    path = serializers.CharField()
    size = serializers.IntegerField()


class ModelFilesSerializer(serializers.Serializer):
    id = serializers.IntegerField()
    name = serializers.CharField()
    files = ModelFileSerializer(many=True)


class ModelFilesView(APIView):
    """Subclasses say which model: ``what`` and ``model_get(request, pk)``."""

    what = "model"

    def model_get(self, request, pk: int):  # pragma: no cover - overridden
        raise NotImplementedError

    def folder(self, request, pk: int) -> tuple[object, Path]:
        model = self.model_get(request, pk)
        if model is None:
            raise ApiError("not_found", f"No {self.what} {pk} in your projects.", status_code=404)
        folder = Path(model.resolved_path)
        if not (folder / "config.json").is_file():
            raise ApiError("gone", f"The {self.what}'s files are missing from the artifacts "
                           "volume.", status_code=status.HTTP_410_GONE)  # fmt: skip
        return model, folder


class ModelFileListView(ModelFilesView):
    @extend_schema(summary="The model's files (paths and sizes), for download",
                   responses={200: ModelFilesSerializer, **error_responses(401, 403, 404, 410)})  # fmt: skip
    def get(self, request, pk: int):
        model, folder = self.folder(request, pk)
        return Response({"id": model.pk, "name": model.name, "files": model_files_list(folder)})


class ModelFileDownloadView(ModelFilesView):
    @extend_schema(
        summary="One of the model's files",
        parameters=[OpenApiParameter("file", str, required=True,
                                     description="A path from the files list.")],
        responses={(200, "application/octet-stream"): OpenApiResponse(OpenApiTypes.BINARY),
                   **error_responses(400, 401, 403, 404, 410)},
    )  # fmt: skip
    def get(self, request, pk: int):
        _model, folder = self.folder(request, pk)
        wanted = request.query_params.get("file", "")
        listed = {f["path"] for f in model_files_list(folder)}
        if wanted not in listed:
            raise ApiError("invalid", f"No file {wanted!r} in this {self.what}.",
                           fields={"file": "a path from the files list"})  # fmt: skip
        path = folder / wanted
        return FileResponse(open(path, "rb"), as_attachment=True,
                            filename=path.name, content_type="application/octet-stream")  # fmt: skip
