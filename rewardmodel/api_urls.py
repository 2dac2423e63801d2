"""Included under /api/v1/ by config/api_urls.py, in the shared ``api`` namespace."""

from django.urls import include, path, re_path

from rewardmodel import api

urlpatterns = [
    path("reward-models/", api.RewardModelListApi.as_view(), name="reward-model-list"),
    path("reward-models/<int:pk>/", api.RewardModelDetailApi.as_view(), name="reward-model-detail"),
    path(
        "reward-models/<int:pk>/files/",
        api.RewardModelFileListApi.as_view(),
        name="reward-model-files",
    ),
    path(
        "reward-models/<int:pk>/download/",
        api.RewardModelFileDownloadApi.as_view(),
        name="reward-model-download",
    ),
    # With or without the trailing slash, like the training-run actions.
    path(
        "reward-models/<int:pk>/",
        include(
            [re_path(r"score/?$", api.RewardModelScoreApi.as_view(), name="reward-model-score")]
        ),
    ),
]
