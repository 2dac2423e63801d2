"""Projects and their members: members read, admins write."""

from __future__ import annotations

from django.contrib.auth import get_user_model
from django.shortcuts import get_object_or_404
from drf_spectacular.utils import extend_schema
from rest_framework import status
from rest_framework.generics import GenericAPIView
from rest_framework.response import Response
from rest_framework.views import APIView

from annotate.api import serializers as s
from annotate.models import Membership
from annotate.selectors import project_list_for_user
from annotate.services.project_admin import (
    project_delete,
    project_member_remove,
    project_members_add,
    project_setup,
    project_update,
)
from core.api.errors import ApiError, error_responses
from core.api.permissions import ProjectScopedMixin


class ProjectListView(APIView):
    """Projects you are a member of (admins: all); admins create them."""

    @extend_schema(responses={200: s.ProjectSerializer(many=True), **error_responses(401, 403)},
                   tags=["projects"])  # fmt: skip
    def get(self, request):
        projects = project_list_for_user(user=request.user)
        return Response(s.ProjectSerializer(projects, many=True).data)

    @extend_schema(
        request=s.ProjectSerializer,
        responses={201: s.ProjectSerializer, **error_responses(400, 401, 403)},
        tags=["projects"],
    )
    def post(self, request):
        data = s.ProjectSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        project = project_setup(actor=request.user, **data.validated_data)
        project = project_list_for_user(user=request.user).get(pk=project.pk)  # with its counts
        return Response(s.ProjectSerializer(project).data, status=status.HTTP_201_CREATED)


class ProjectDetailView(ProjectScopedMixin, APIView):
    @extend_schema(responses={200: s.ProjectSerializer, **error_responses(401, 403, 404)},
                   tags=["projects"])  # fmt: skip
    def get(self, request, slug):
        project = project_list_for_user(user=request.user).get(pk=self.project.pk)
        return Response(s.ProjectSerializer(project).data)

    @extend_schema(
        request=s.ProjectSerializer,
        responses={200: s.ProjectSerializer, **error_responses(400, 401, 403, 404)},
        tags=["projects"],
    )
    def patch(self, request, slug):
        data = s.ProjectSerializer(self.project, data=request.data, partial=True)
        data.is_valid(raise_exception=True)
        project = project_update(project=self.project, actor=request.user, **data.validated_data)
        project = project_list_for_user(user=request.user).get(pk=project.pk)  # with its counts
        return Response(s.ProjectSerializer(project).data)

    @extend_schema(responses={204: None, **error_responses(401, 403, 404, 409)},
                   tags=["projects"])  # fmt: skip
    def delete(self, request, slug):
        project_delete(project=self.project, actor=request.user)
        return Response(status=status.HTTP_204_NO_CONTENT)


class ProjectMembersView(ProjectScopedMixin, GenericAPIView):
    serializer_class = s.MemberSerializer

    def _members(self):
        return (
            Membership.objects.filter(project=self.project)
            .select_related("user")
            .prefetch_related("user__groups")
            .order_by("user__username")
        )

    @extend_schema(responses={200: s.MemberSerializer(many=True), **error_responses(401, 403, 404)},
                   tags=["projects"])  # fmt: skip
    def get(self, request, slug):
        return Response(s.MemberSerializer(self._members(), many=True).data)

    @extend_schema(
        request=s.MembersAddSerializer,
        responses={200: s.MemberSerializer(many=True), **error_responses(400, 401, 403, 404)},
        tags=["projects"],
    )
    def post(self, request, slug):
        data = s.MembersAddSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        project_members_add(
            project=self.project, usernames=data.validated_data["usernames"], actor=request.user
        )
        return Response(s.MemberSerializer(self._members(), many=True).data)


class ProjectMemberView(ProjectScopedMixin, APIView):
    @extend_schema(responses={204: None, **error_responses(401, 403, 404)}, tags=["projects"])
    def delete(self, request, slug, username):
        user = get_object_or_404(get_user_model(), username=username)
        if not project_member_remove(project=self.project, user=user, actor=request.user):
            raise ApiError("not_found", f"{username} is not a member.", status_code=404)
        return Response(status=status.HTTP_204_NO_CONTENT)
