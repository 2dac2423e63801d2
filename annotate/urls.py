from django.urls import path

from annotate import views

app_name = "annotate"

urlpatterns = [
    path("projects/<slug:slug>/", views.project_detail, name="project-detail"),
    path("projects/<slug:slug>/annotate/", views.annotate_page, name="annotate"),
    path("projects/<slug:slug>/annotate/next", views.task_next, name="task-next"),
    path(
        "projects/<slug:slug>/prompts/<int:prompt_id>/submit",
        views.task_submit,
        name="task-submit",
    ),
    path("projects/<slug:slug>/prompts/<int:prompt_id>/skip", views.task_skip, name="task-skip"),
    path("projects/<slug:slug>/progress", views.progress, name="progress"),
    path("projects/<slug:slug>/my-annotations/", views.my_annotations, name="my-annotations"),
    path("annotations/<int:pk>/edit/", views.annotation_edit, name="annotation-edit"),
    path("annotations/<int:pk>/update", views.annotation_update_view, name="annotation-update"),
]
