"""Included under /api/v1/ by config/api_urls.py, in the shared ``api`` namespace."""

from django.urls import include, path, re_path

from rewardmodel.api import views

urlpatterns = [
    path("reward-models/", views.RewardModelListView.as_view(), name="reward-model-list"),
    path(
        "reward-models/<int:pk>/", views.RewardModelDetailView.as_view(), name="reward-model-detail"
    ),
    path(
        "reward-models/<int:pk>/files/",
        views.RewardModelFileListView.as_view(),
        name="reward-model-files",
    ),
    path(
        "reward-models/<int:pk>/download/",
        views.RewardModelFileDownloadView.as_view(),
        name="reward-model-download",
    ),
    # With or without the trailing slash, like the training-run actions.
    path(
        "reward-models/<int:pk>/",
        include(
            [re_path(r"score/?$", views.RewardModelScoreView.as_view(), name="reward-model-score")]
        ),
    ),
]
