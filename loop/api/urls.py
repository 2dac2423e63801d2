"""Included under /api/v1/ by config/api_urls.py, in the shared ``api`` namespace."""

from django.urls import path

from loop.api import machines, views

urlpatterns = [
    path("projects/<slug:slug>/loop/", views.ProjectLoopView.as_view(), name="project-loop"),
    path(
        "projects/<slug:slug>/loop/rescore/",
        views.ProjectLoopRescoreView.as_view(),
        name="project-loop-rescore",
    ),
]

M = "projects/<slug:slug>/machine-annotators/"
urlpatterns += [
    path(M, machines.MachineAnnotatorListView.as_view(), name="machine-annotator-list"),
    path(M + "<int:pk>/judge/", machines.MachineJudgeView.as_view(), name="machine-annotator-judge"),
    path(M + "<int:pk>/calibrate/", machines.MachineCalibrateView.as_view(),
         name="machine-annotator-calibrate"),
    path(M + "<int:pk>/route/", machines.MachineRouteView.as_view(), name="machine-annotator-route"),
]  # fmt: skip
