"""Snapshots: admins create them, admins and ML engineers of the project read and download."""

from __future__ import annotations

from django.http import FileResponse
from django.urls import reverse
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiResponse, extend_schema
from rest_framework import status
from rest_framework.generics import GenericAPIView, ListAPIView
from rest_framework.response import Response

from core.api.errors import ApiError, error_responses
from core.api.pagination import CursorPage
from core.api.permissions import project_visible_get
from exports.api import serializers as s
from exports.models import DatasetSnapshot
from exports.selectors import snapshot_list_for_user
from exports.services import snapshot_create

CONTENT_TYPES = {".jsonl": "application/x-ndjson", ".parquet": "application/vnd.apache.parquet",
                 ".json": "application/json", ".arrow": "application/vnd.apache.arrow.stream"}  # fmt: skip


class SnapshotListView(ListAPIView):
    serializer_class = s.SnapshotSerializer
    pagination_class = CursorPage

    def get_queryset(self):
        if getattr(self, "swagger_fake_view", False):
            return DatasetSnapshot.objects.none()
        f = s.SnapshotFilterSerializer(data=self.request.query_params)
        f.is_valid(raise_exception=True)
        snapshots = snapshot_list_for_user(user=self.request.user)
        for name in ("status", "format"):
            if f.validated_data.get(name):
                snapshots = snapshots.filter(**{name: f.validated_data[name]})
        if f.validated_data.get("project"):
            snapshots = snapshots.filter(project__slug=f.validated_data["project"])
        return snapshots

    @extend_schema(
        parameters=[s.SnapshotFilterSerializer],
        responses={200: s.SnapshotSerializer(many=True), **error_responses(400, 401, 403)},
        tags=["exports"],
    )
    def get(self, request, *args, **kwargs):
        return super().get(request, *args, **kwargs)

    @extend_schema(
        request=s.SnapshotCreateSerializer,
        responses={202: s.SnapshotSerializer, **error_responses(400, 401, 403, 503)},
        tags=["exports"],
        description="Queues the build (a Celery task) and answers 202 at once; poll the "
        "snapshot's URL (Location header) for status and progress.",
    )
    def post(self, request):
        data = s.SnapshotCreateSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        options = dict(data.validated_data)
        slug, fmt = options.pop("project"), options.pop("format")
        project = project_visible_get(request.user, slug)
        if project is None:
            raise ApiError(
                "invalid", "No such project.", fields={"project": f"no project {slug!r}"}
            )
        snapshot = snapshot_create(project=project, fmt=fmt, options=options, user=request.user)
        url = request.build_absolute_uri(reverse("api:snapshot-detail", args=[snapshot.pk]))
        body = s.SnapshotSerializer(snapshot).data
        return Response(body, status=status.HTTP_202_ACCEPTED, headers={"Location": url})


class SnapshotObjectMixin:
    def get_object(self) -> DatasetSnapshot:
        snapshot = (
            snapshot_list_for_user(user=self.request.user).filter(pk=self.kwargs["pk"]).first()
        )
        if snapshot is None:
            raise ApiError("not_found", "No such snapshot.", status_code=404)
        return snapshot


class SnapshotDetailView(SnapshotObjectMixin, GenericAPIView):
    serializer_class = s.SnapshotSerializer

    @extend_schema(responses={200: s.SnapshotSerializer, **error_responses(401, 403, 404)},
                   tags=["exports"])  # fmt: skip
    def get(self, request, pk):
        return Response(s.SnapshotSerializer(self.get_object()).data)


class SnapshotDownloadView(SnapshotObjectMixin, GenericAPIView):
    serializer_class = s.SnapshotDownloadSerializer

    @extend_schema(
        parameters=[s.SnapshotDownloadSerializer],
        responses={
            **{
                (200, content_type): OpenApiResponse(
                    OpenApiTypes.BINARY, description="The file; X-Content-SHA256 is its hash."
                )
                for content_type in [*CONTENT_TYPES.values(), "application/octet-stream"]
            },
            **error_responses(400, 401, 403, 404, 409, 410),
        },
        tags=["exports"],
    )
    def get(self, request, pk):
        snapshot = self.get_object()
        if not snapshot.is_ready:
            raise ApiError("not_ready", f"The snapshot is {snapshot.status}.", status_code=409)
        f = s.SnapshotDownloadSerializer(data=request.query_params)
        f.is_valid(raise_exception=True)
        files = {entry["path"]: entry for entry in snapshot.files}
        wanted = f.validated_data.get("file")
        if wanted is None:
            if snapshot.format == DatasetSnapshot.Format.HF:
                raise ApiError("invalid", "Name the file to download.", fields={
                    "file": "one of " + ", ".join(sorted(files))})  # fmt: skip
            wanted = snapshot.path.name
        entry = files.get(wanted)  # only listed paths, so no path can climb out of the folder
        if entry is None:
            raise ApiError("invalid", f"No file {wanted!r} in this snapshot.",
                           fields={"file": "one of " + ", ".join(sorted(files))})  # fmt: skip
        path = snapshot.folder / entry["path"]
        if not path.is_file():
            raise ApiError("gone", "The file is missing from the artifacts volume.",
                           status_code=status.HTTP_410_GONE)  # fmt: skip
        response = FileResponse(
            open(path, "rb"),  # noqa: SIM115 - FileResponse closes it
            as_attachment=True,
            filename=f"snapshot-{snapshot.pk}-{path.name}",
            content_type=CONTENT_TYPES.get(path.suffix, "application/octet-stream"),
        )
        response["X-Content-SHA256"] = entry["sha256"]
        response["ETag"] = f'"{entry["sha256"]}"'
        return response
