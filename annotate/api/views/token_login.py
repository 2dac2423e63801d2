"""POST /api/v1/auth/token/: a username and password exchanged for the user's API token.

For ``rankwise login`` and scripts: no session, no cookie, so no CSRF exposure (nothing
ambient is set in a browser); throttled like the session login. An existing token is returned
as is (a second machine logging in must not sign out the first); a user without one gets one.
"""

from __future__ import annotations

from drf_spectacular.utils import extend_schema
from rest_framework import serializers
from rest_framework.response import Response
from rest_framework.throttling import ScopedRateThrottle
from rest_framework.views import APIView

from annotate.api import serializers as s
from annotate.api.views.auth import credentials_user
from annotate.services.accounts import token_issue
from core.api.errors import error_responses


class TokenAnswerSerializer(serializers.Serializer):
    token = serializers.CharField()
    username = serializers.CharField()


class TokenLoginView(APIView):
    authentication_classes = []  # a stale token must not block getting the right one
    throttle_classes = [ScopedRateThrottle]
    throttle_scope = "login"

    @extend_schema(
        request=s.LoginSerializer,
        responses={200: TokenAnswerSerializer, **error_responses(400, 429)},
        tags=["auth"], auth=[], summary="Exchange a username and password for an API token",
    )  # fmt: skip
    def post(self, request):
        user = credentials_user(request)
        token = token_issue(user=user, rotate=False, actor=user)
        return Response({"token": token.key, "username": user.get_username()})
