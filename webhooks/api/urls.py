"""Included under /api/v1/ by config/api_urls.py, in the shared ``api`` namespace."""

from django.urls import path

from webhooks.api import views

W = "projects/<slug:slug>/webhooks/"

urlpatterns = [
    path(W, views.WebhookListView.as_view(), name="webhook-list"),
    path(W + "<int:pk>/", views.WebhookDetailView.as_view(), name="webhook-detail"),
    path(W + "<int:pk>/ping/", views.WebhookPingView.as_view(), name="webhook-ping"),
    path(W + "<int:pk>/deliveries/", views.WebhookDeliveryListView.as_view(),
         name="webhook-delivery-list"),
    path(W + "<int:pk>/deliveries/<int:delivery_id>/replay/",
         views.WebhookDeliveryReplayView.as_view(), name="webhook-delivery-replay"),
]  # fmt: skip
