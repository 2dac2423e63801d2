"""Included under /api/v1/ by config/api_urls.py, in the shared ``api`` namespace.

A run's sub-resources and actions answer with and without a trailing slash: the issue wrote
them without one, the rest of the API ends every path with one. (The regexes carry no ``^``
so that a route reads the same walked from the resolver as resolved from a URL.)
"""

from django.urls import include, path, re_path

from training.api import views

run_actions = [
    re_path(r"metrics/?$", views.TrainingRunMetricsView.as_view(), name="training-run-metrics"),
    re_path(r"samples/?$", views.TrainingRunSamplesView.as_view(), name="training-run-samples"),
    re_path(r"cancel/?$", views.TrainingRunCancelView.as_view(), name="training-run-cancel"),
    re_path(r"resume/?$", views.TrainingRunResumeView.as_view(), name="training-run-resume"),
]

urlpatterns = [
    path("training-runs/", views.TrainingRunListView.as_view(), name="training-run-list"),
    path(
        "training-runs/<int:pk>/", views.TrainingRunDetailView.as_view(), name="training-run-detail"
    ),
    path("training-runs/<int:pk>/", include(run_actions)),
    path("policies/", views.PolicyListView.as_view(), name="policy-list"),
    path("policies/<int:pk>/", views.PolicyDetailView.as_view(), name="policy-detail"),
    path("policies/<int:pk>/files/", views.PolicyFileListView.as_view(), name="policy-files"),
    path(
        "policies/<int:pk>/download/",
        views.PolicyFileDownloadView.as_view(),
        name="policy-download",
    ),
    path("generations/", views.GenerationJobListView.as_view(), name="generation-job-list"),
    path(
        "generations/<int:pk>/",
        views.GenerationJobDetailView.as_view(),
        name="generation-job-detail",
    ),
]
