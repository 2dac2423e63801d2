"""Login, the current user, and admin management of users and their API tokens."""

from __future__ import annotations

from django.contrib.auth import authenticate, get_user_model, login, logout
from django.db import transaction
from django.middleware.csrf import get_token
from django.shortcuts import get_object_or_404
from django.utils.decorators import method_decorator
from django.views.decorators.csrf import ensure_csrf_cookie
from drf_spectacular.utils import extend_schema
from rest_framework import serializers, status
from rest_framework.authentication import SessionAuthentication
from rest_framework.generics import GenericAPIView, ListAPIView
from rest_framework.response import Response
from rest_framework.throttling import ScopedRateThrottle
from rest_framework.views import APIView

from annotate.api import serializers as s
from annotate.selectors import project_slugs_for_member
from annotate.services.accounts import token_issue, token_revoke, user_update
from annotate.services.users import user_create
from core.api.errors import ApiError, error_responses
from core.api.pagination import OldestFirstCursorPage

User = get_user_model()


def credentials_user(request):
    """The active user named by the body's username and password, else 400 on the password."""
    data = s.LoginSerializer(data=request.data)
    data.is_valid(raise_exception=True)
    user = authenticate(request, **data.validated_data)
    if user is None:
        raise ApiError(
            "invalid_credentials", "Wrong username or password, or the account is inactive.",
            fields={"password": "wrong username or password"},
        )  # fmt: skip
    return user


def _me(request) -> dict:
    context = {"project_slugs": project_slugs_for_member(user=request.user)}
    return s.MeSerializer(request.user, context=context).data


class CsrfSerializer(serializers.Serializer):
    csrftoken = serializers.CharField(help_text="Send it back as the X-CSRFToken header.")


@method_decorator(ensure_csrf_cookie, name="dispatch")
class LoginView(APIView):
    """Session login for browser front-ends.

    CSRF-checked like every session write: otherwise another site could post its own
    credentials and sign a visitor into the attacker's account (login CSRF). GET first for the
    ``csrftoken`` cookie, then POST with it as ``X-CSRFToken``. Scripts use API tokens.
    """

    authentication_classes = []  # a stale session or bad token must not block logging in
    throttle_scope = "login"

    def get_throttles(self):
        return [ScopedRateThrottle()] if self.request.method == "POST" else []

    @extend_schema(responses={200: CsrfSerializer}, tags=["auth"], auth=[])
    def get(self, request):
        return Response({"csrftoken": get_token(request)})

    @extend_schema(
        request=s.LoginSerializer,
        responses={200: s.MeSerializer, **error_responses(400, 403, 429)},
        tags=["auth"],
        auth=[],
    )
    def post(self, request):
        SessionAuthentication().enforce_csrf(request)  # 403 "CSRF Failed: ..."
        user = credentials_user(request)
        login(request, user)
        return Response(_me(request))


class LogoutView(APIView):
    @extend_schema(request=None, responses={204: None, **error_responses(401)}, tags=["auth"])
    def post(self, request):
        logout(request)
        return Response(status=status.HTTP_204_NO_CONTENT)


class MeView(APIView):
    @extend_schema(responses={200: s.MeSerializer, **error_responses(401)}, tags=["auth"])
    def get(self, request):
        return Response(_me(request))


class UserListView(ListAPIView):
    """Every account (imported annotators included); admins only."""

    serializer_class = s.UserSerializer
    pagination_class = OldestFirstCursorPage

    def get_queryset(self):
        return User.objects.prefetch_related("groups")

    @extend_schema(responses={200: s.UserSerializer(many=True), **error_responses(401, 403)},
                   tags=["users"])  # fmt: skip
    def get(self, request, *args, **kwargs):
        return super().get(request, *args, **kwargs)

    @extend_schema(
        request=s.UserCreateSerializer,
        responses={201: s.UserSerializer, **error_responses(400, 401, 403)},
        tags=["users"],
    )
    def post(self, request):
        data = s.UserCreateSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        values = data.validated_data
        if User.objects.filter(username=values["username"]).exists():
            raise ApiError("invalid", "That username is taken.", fields={"username": "taken"})
        with transaction.atomic():
            user = user_create(
                username=values["username"], password=values.get("password") or None,
                roles=values["roles"], email=values.get("email", ""), is_active=values["is_active"],
                actor=request.user,
            )  # fmt: skip
        return Response(s.UserSerializer(user).data, status=status.HTTP_201_CREATED)


class UserDetailView(GenericAPIView):
    serializer_class = s.UserSerializer

    def get_object(self):
        return get_object_or_404(User, username=self.kwargs["username"])

    @extend_schema(responses={200: s.UserSerializer, **error_responses(401, 403, 404)},
                   tags=["users"])  # fmt: skip
    def get(self, request, username):
        return Response(s.UserSerializer(self.get_object()).data)

    @extend_schema(
        request=s.UserUpdateSerializer,
        responses={200: s.UserSerializer, **error_responses(400, 401, 403, 404)},
        tags=["users"],
    )
    def patch(self, request, username):
        user = self.get_object()
        data = s.UserUpdateSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        user = user_update(user=user, actor=request.user, **data.validated_data)
        user._rankwise_roles = None  # roles changed: do not render the cached ones
        return Response(s.UserSerializer(user).data)


class UserTokenView(APIView):
    """Issue (or rotate) and revoke a user's API token; the key is shown in the response only."""

    throttle_classes = [ScopedRateThrottle]
    throttle_scope = "token"

    def _user(self):
        return get_object_or_404(User, username=self.kwargs["username"])

    @extend_schema(
        request=None,
        responses={201: s.TokenSerializer, **error_responses(401, 403, 404, 429)},
        tags=["users"],
    )
    def post(self, request, username):
        token = token_issue(user=self._user(), actor=request.user)
        return Response(s.TokenSerializer(token).data, status=status.HTTP_201_CREATED)

    @extend_schema(
        request=None, responses={204: None, **error_responses(401, 403, 404, 429)}, tags=["users"]
    )
    def delete(self, request, username):
        if not token_revoke(user=self._user(), actor=request.user):
            raise ApiError("not_found", "This user has no token.", status_code=404)
        return Response(status=status.HTTP_204_NO_CONTENT)
