from django.urls import path

from annotate import views

app_name = "annotate"

# Pages only: what the pages do (claim, submit, skip, edit, progress) they do through /api/v1
# (annotate/api/urls.py) with the session and its CSRF token, one surface for every client.
urlpatterns = [
    path("projects/<slug:slug>/", views.project_detail, name="project-detail"),
    path("projects/<slug:slug>/annotate/", views.annotate_page, name="annotate"),
    path("projects/<slug:slug>/my-annotations/", views.my_annotations, name="my-annotations"),
    path("annotations/<int:pk>/edit/", views.annotation_edit, name="annotation-edit"),
]
