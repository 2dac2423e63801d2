"""Included under /api/v1/ by config/api_urls.py, in the shared ``api`` namespace.

A run's sub-resources and actions answer with and without a trailing slash: the issue wrote
them without one, the rest of the API ends every path with one. (The regexes carry no ``^``
so that a route reads the same walked from the resolver as resolved from a URL.)
"""

from django.urls import include, path, re_path

from training import api

run_actions = [
    re_path(r"metrics/?$", api.TrainingRunMetricsApi.as_view(), name="training-run-metrics"),
    re_path(r"samples/?$", api.TrainingRunSamplesApi.as_view(), name="training-run-samples"),
    re_path(r"cancel/?$", api.TrainingRunCancelApi.as_view(), name="training-run-cancel"),
    re_path(r"resume/?$", api.TrainingRunResumeApi.as_view(), name="training-run-resume"),
]

urlpatterns = [
    path("training-runs/", api.TrainingRunListApi.as_view(), name="training-run-list"),
    path("training-runs/<int:pk>/", api.TrainingRunDetailApi.as_view(), name="training-run-detail"),
    path("training-runs/<int:pk>/", include(run_actions)),
    path("policies/", api.PolicyListApi.as_view(), name="policy-list"),
    path("policies/<int:pk>/", api.PolicyDetailApi.as_view(), name="policy-detail"),
    path("policies/<int:pk>/files/", api.PolicyFileListApi.as_view(), name="policy-files"),
    path(
        "policies/<int:pk>/download/", api.PolicyFileDownloadApi.as_view(), name="policy-download"
    ),
    path("generations/", api.GenerationJobListApi.as_view(), name="generation-job-list"),
    path(
        "generations/<int:pk>/",
        api.GenerationJobDetailApi.as_view(),
        name="generation-job-detail",
    ),
]
