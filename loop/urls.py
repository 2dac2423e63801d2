from django.urls import path

from loop import views

app_name = "loop"

urlpatterns = [
    path("projects/<slug:slug>/loop/", views.panel, name="panel"),
]
