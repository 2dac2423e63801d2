from django.urls import path

from agreement import views

app_name = "agreement"

P = "projects/<slug:slug>/"

urlpatterns = [
    path(P + "agreement/", views.dashboard, name="dashboard"),
    path(P + "agreement/recompute/", views.recompute, name="recompute"),
    path(P + "review/", views.review_queue, name="review-queue"),
    path(P + "review/<int:prompt_id>/", views.review_prompt, name="review-prompt"),
]
