"""Included under /api/v1/ by config/api_urls.py, in the shared ``api`` namespace."""

from django.urls import path

from webhooks import api

W = "projects/<slug:slug>/webhooks/"

urlpatterns = [
    path(W, api.WebhookListApi.as_view(), name="webhook-list"),
    path(W + "<int:pk>/", api.WebhookDetailApi.as_view(), name="webhook-detail"),
    path(W + "<int:pk>/ping/", api.WebhookPingApi.as_view(), name="webhook-ping"),
    path(W + "<int:pk>/deliveries/", api.WebhookDeliveryListApi.as_view(),
         name="webhook-delivery-list"),
    path(W + "<int:pk>/deliveries/<int:delivery_id>/replay/",
         api.WebhookDeliveryReplayApi.as_view(), name="webhook-delivery-replay"),
]  # fmt: skip
