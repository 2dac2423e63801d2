"""Included under /api/v1/ by config/api_urls.py, in the shared ``api`` namespace."""

from django.urls import path

from agreement.api import views

urlpatterns = [
    path(
        "projects/<slug:slug>/prompts/<int:prompt_id>/adjudicate/",
        views.PromptAdjudicateView.as_view(),
        name="prompt-adjudicate",
    ),
    path(
        "projects/<slug:slug>/agreement/",
        views.ProjectAgreementView.as_view(),
        name="project-agreement",
    ),
    path(
        "projects/<slug:slug>/agreement/recompute/",
        views.ProjectAgreementRecomputeView.as_view(),
        name="project-agreement-recompute",
    ),
]
