from django.urls import path

from annotate import views

app_name = "annotate"

urlpatterns = [
    path("projects/<slug:slug>/", views.project_detail, name="project-detail"),
]
