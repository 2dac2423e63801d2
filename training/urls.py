from django.urls import path

from training import views

app_name = "training"

urlpatterns = [
    path("training/runs/", views.run_list, name="run-list"),
    path("training/runs/<int:pk>/", views.run_detail, name="run-detail"),
    path("projects/<slug:slug>/runs/new/", views.run_new, name="run-new"),
    path("projects/<slug:slug>/runs/new/snapshot", views.run_new_snapshot, name="run-new-snapshot"),
]
