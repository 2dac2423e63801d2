from django.urls import path

from exports.api import views

urlpatterns = [
    path("snapshots/", views.SnapshotListView.as_view(), name="snapshot-list"),
    path("snapshots/<int:pk>/", views.SnapshotDetailView.as_view(), name="snapshot-detail"),
    path(
        "snapshots/<int:pk>/download/",
        views.SnapshotDownloadView.as_view(),
        name="snapshot-download",
    ),
]
