"""The site's URLs with ``agreement.api`` added to /api/v1/, for the API tests until (or
whether or not) config/api_urls.py lists it."""

from django.urls import include, path

from config import api_urls
from config.urls import urlpatterns as site

modules = list(api_urls.V1_MODULES)
if "agreement.api" not in modules:
    modules.append("agreement.api")
v1 = [path("", include(module)) for module in modules]
urlpatterns = [path("api/v1/", include((v1, "api"), namespace="api")), *site]
