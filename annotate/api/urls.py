from django.urls import path

from annotate.api.views import auth, projects, prompts, tasks, token_login

P = "projects/<slug:slug>/"

urlpatterns = [
    path("auth/login/", auth.LoginView.as_view(), name="login"),
    path("auth/logout/", auth.LogoutView.as_view(), name="logout"),
    path("auth/token/", token_login.TokenLoginView.as_view(), name="auth-token"),
    path("me/", auth.MeView.as_view(), name="me"),
    path("users/", auth.UserListView.as_view(), name="user-list"),
    path("users/<str:username>/", auth.UserDetailView.as_view(), name="user-detail"),
    path("users/<str:username>/token/", auth.UserTokenView.as_view(), name="user-token"),
    path("projects/", projects.ProjectListView.as_view(), name="project-list"),
    path(P, projects.ProjectDetailView.as_view(), name="project-detail"),
    path(P + "members/", projects.ProjectMembersView.as_view(), name="project-members"),
    path(
        P + "members/<str:username>/",
        projects.ProjectMemberView.as_view(),
        name="project-member",
    ),
    path(P + "prompts/", prompts.PromptListView.as_view(), name="prompt-list"),
    path(P + "prompts/import/", prompts.PromptImportView.as_view(), name="prompt-import"),
    path(P + "imports/", prompts.ImportJobListView.as_view(), name="import-job-list"),
    path(P + "imports/<int:pk>/", prompts.ImportJobDetailView.as_view(), name="import-job-detail"),
    path(P + "prompts/<int:pk>/", prompts.PromptDetailView.as_view(), name="prompt-detail"),
    path(P + "annotations/", prompts.AnnotationListView.as_view(), name="annotation-list"),
    path(
        P + "annotations/<int:pk>/",
        prompts.AnnotationDetailView.as_view(),
        name="annotation-detail",
    ),
    path(P + "tasks/next/", tasks.NextTaskView.as_view(), name="task-next"),
    path(P + "tasks/peek/", tasks.PeekView.as_view(), name="task-peek"),
    path(P + "tasks/<int:prompt_id>/submit/", tasks.SubmitView.as_view(), name="task-submit"),
    path(P + "tasks/<int:prompt_id>/skip/", tasks.SkipView.as_view(), name="task-skip"),
    path(P + "tasks/<int:prompt_id>/extend/", tasks.ExtendView.as_view(), name="task-extend"),
    path(P + "my/annotations/", tasks.MyAnnotationListView.as_view(), name="my-annotations"),
    path(P + "my/annotations/<int:pk>/", tasks.MyAnnotationView.as_view(), name="my-annotation"),
    path(P + "my/progress/", tasks.ProgressView.as_view(), name="my-progress"),
]
