from django.urls import path

from training import views

app_name = "training"

urlpatterns = [
    path("training/runs/", views.run_list, name="run-list"),
    path("training/runs/<int:pk>/", views.run_detail, name="run-detail"),
]
