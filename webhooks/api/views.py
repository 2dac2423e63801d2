"""/api/v1/projects/<slug>/webhooks/...: parse, call a service, render.

Project admins and ML engineers (core.policy); every object is looked up inside the
URL's project, so an id of another project's webhook is 404.
"""

from __future__ import annotations

from drf_spectacular.utils import extend_schema
from rest_framework import status
from rest_framework.generics import ListAPIView
from rest_framework.response import Response
from rest_framework.views import APIView

from core.api.errors import ApiError, error_responses
from core.api.pagination import CursorPage
from core.api.permissions import ProjectScopedMixin
from webhooks import selectors, services
from webhooks.api.serializers import (
    DeliveryFilterSerializer,
    WebhookCreatedSerializer,
    WebhookCreateSerializer,
    WebhookDeliverySerializer,
    WebhookSerializer,
    WebhookUpdateSerializer,
)
from webhooks.models import WebhookDelivery

TAG = ["webhooks"]


def _webhook_or_404(view, pk: int):
    endpoint = selectors.webhook_get(project=view.project, pk=pk)
    if endpoint is None:
        raise ApiError("not_found", f"No webhook {pk} in this project.", status_code=404)
    return endpoint


class WebhookListView(ProjectScopedMixin, APIView):
    @extend_schema(tags=TAG, summary="The project's webhooks",
                   responses={200: WebhookSerializer(many=True),
                              **error_responses(401, 403, 404)})  # fmt: skip
    def get(self, request, slug: str):
        return Response(WebhookSerializer(selectors.webhook_list(project=self.project),
                                          many=True).data)  # fmt: skip

    @extend_schema(
        tags=TAG, summary="Register a webhook",
        description="The URL is checked (http/https; loopback and private addresses are "
        "refused unless the server allows them). The answer carries the signing secret: the "
        "only time it is shown.",
        request=WebhookCreateSerializer,
        responses={201: WebhookCreatedSerializer, **error_responses(400, 401, 403, 404)},
    )  # fmt: skip
    def post(self, request, slug: str):
        data = WebhookCreateSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        endpoint = services.webhook_endpoint_create(project=self.project, user=request.user,
                                                    **data.validated_data)  # fmt: skip
        return Response(WebhookCreatedSerializer(endpoint).data, status=status.HTTP_201_CREATED)


class WebhookDetailView(ProjectScopedMixin, APIView):
    @extend_schema(tags=TAG, summary="One webhook",
                   responses={200: WebhookSerializer, **error_responses(401, 403, 404)})  # fmt: skip
    def get(self, request, slug: str, pk: int):
        return Response(WebhookSerializer(_webhook_or_404(self, pk)).data)

    @extend_schema(tags=TAG, summary="Change a webhook (url, events, secret, active, ...)",
                   request=WebhookUpdateSerializer,
                   responses={200: WebhookSerializer, **error_responses(400, 401, 403, 404)})  # fmt: skip
    def patch(self, request, slug: str, pk: int):
        endpoint = _webhook_or_404(self, pk)
        data = WebhookUpdateSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        endpoint = services.webhook_endpoint_update(endpoint=endpoint, user=request.user,
                                                    **data.validated_data)  # fmt: skip
        return Response(WebhookSerializer(endpoint).data)

    @extend_schema(tags=TAG, summary="Delete a webhook and its delivery log",
                   responses={204: None, **error_responses(401, 403, 404)})  # fmt: skip
    def delete(self, request, slug: str, pk: int):
        services.webhook_endpoint_delete(endpoint=_webhook_or_404(self, pk), user=request.user)
        return Response(status=status.HTTP_204_NO_CONTENT)


class WebhookPingView(ProjectScopedMixin, APIView):
    @extend_schema(tags=TAG, summary="Send a ping event to this webhook",
                   request=None,
                   responses={202: WebhookDeliverySerializer, **error_responses(401, 403, 404)})  # fmt: skip
    def post(self, request, slug: str, pk: int):
        delivery = services.webhook_ping(endpoint=_webhook_or_404(self, pk), user=request.user)
        delivery.refresh_from_db()
        return Response(WebhookDeliverySerializer(delivery).data, status=status.HTTP_202_ACCEPTED)


class WebhookDeliveryListView(ProjectScopedMixin, ListAPIView):
    serializer_class = WebhookDeliverySerializer
    pagination_class = CursorPage

    def get_queryset(self):
        if getattr(self, "swagger_fake_view", False):  # schema generation has no request
            return WebhookDelivery.objects.none()
        f = DeliveryFilterSerializer(data=self.request.query_params)
        f.is_valid(raise_exception=True)
        endpoint = _webhook_or_404(self, self.kwargs["pk"])
        return selectors.webhook_delivery_list(endpoint=endpoint,
                                               status=f.validated_data.get("status"))  # fmt: skip

    @extend_schema(tags=TAG, summary="The webhook's delivery log, newest first",
                   parameters=[DeliveryFilterSerializer],
                   responses={200: WebhookDeliverySerializer(many=True),
                              **error_responses(400, 401, 403, 404)})  # fmt: skip
    def get(self, request, *args, **kwargs):
        return super().get(request, *args, **kwargs)


class WebhookDeliveryReplayView(ProjectScopedMixin, APIView):
    @extend_schema(
        tags=TAG, summary="Send a delivery's event again (a new delivery, same event id)",
        request=None,
        responses={202: WebhookDeliverySerializer, **error_responses(401, 403, 404)},
    )  # fmt: skip
    def post(self, request, slug: str, pk: int, delivery_id: int):
        endpoint = _webhook_or_404(self, pk)
        delivery = selectors.webhook_delivery_get(endpoint=endpoint, pk=delivery_id)
        if delivery is None:
            raise ApiError("not_found", f"No delivery {delivery_id} of webhook {pk}.",
                           status_code=404)  # fmt: skip
        replay = services.webhook_delivery_replay(delivery=delivery, user=request.user)
        replay.refresh_from_db()
        return Response(WebhookDeliverySerializer(replay).data, status=status.HTTP_202_ACCEPTED)
