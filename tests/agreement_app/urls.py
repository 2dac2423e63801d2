"""The site's URLs plus the agreement API under /api/v1/, for tests that run before (or
without) agreement.api being listed in config/api_urls.py."""

from django.urls import include, path

from agreement import api
from config.urls import urlpatterns as site

urlpatterns = [
    path("api/v1/", include((api.urlpatterns, "api"), namespace="agreement-api")),
    *site,
]
