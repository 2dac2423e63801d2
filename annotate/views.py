from django.contrib.auth.decorators import login_required
from django.db import connection
from django.http import Http404, JsonResponse
from django.shortcuts import render

from annotate.selectors import project_list_for_user


@login_required
def home(request):
    return render(request, "annotate/home.html", {"projects": project_list_for_user(request.user)})


@login_required
def project_detail(request, slug):
    project = project_list_for_user(request.user).filter(slug=slug).first()
    if project is None:
        raise Http404("No such project")
    return render(request, "annotate/project_detail.html", {"project": project})


def healthz(request):
    with connection.cursor() as cursor:
        cursor.execute("SELECT 1")
    return JsonResponse({"status": "ok"})
