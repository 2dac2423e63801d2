"""The OpenAPI schema: generated without a warning, valid OpenAPI 3, docs served offline."""

import pytest
import yaml
from django.core.management import call_command
from rest_framework.test import APIClient


@pytest.fixture(scope="module")
def schema_text(tmp_path_factory):
    out = tmp_path_factory.mktemp("schema") / "schema.yaml"
    # --fail-on-warn turns any drf-spectacular warning into an error; --validate checks it
    # against the OpenAPI 3 JSON schema.
    call_command("spectacular", "--validate", "--fail-on-warn", "--file", str(out))
    return out.read_text()


def test_schema_passes_openapi_spec_validator(schema_text):
    # A second, independent validator (dev dependency openapi-spec-validator).
    validator = pytest.importorskip("openapi_spec_validator")
    validator.validate(yaml.safe_load(schema_text))  # raises on any violation


def test_schema_is_valid_openapi_3(schema_text):
    schema = yaml.safe_load(schema_text)
    assert schema["openapi"].startswith("3.")
    paths = schema["paths"]
    assert "/api/v1/snapshots/" in paths
    assert "/api/v1/projects/{slug}/prompts/import/" in paths
    upload = paths["/api/v1/projects/{slug}/prompts/import/"]["post"]["requestBody"]
    assert "multipart/form-data" in upload["content"]


def test_error_responses_are_documented(schema_text):
    schema = yaml.safe_load(schema_text)
    create = schema["paths"]["/api/v1/snapshots/"]["post"]["responses"]
    assert set(create) >= {"202", "400", "401", "403"}
    error = schema["components"]["schemas"]["Error"]["properties"]
    assert set(error) == {"error", "detail", "fields"}


@pytest.mark.django_db
@pytest.mark.parametrize("url", ["/api/schema/", "/api/docs/", "/api/redoc/"])
def test_schema_and_docs_are_served(url):
    response = APIClient().get(url)
    assert response.status_code == 200
    if url != "/api/schema/":
        html = response.content.decode()
        # Assets come from drf-spectacular-sidecar under STATIC_URL, not from a CDN.
        assert "drf_spectacular_sidecar" in html
        assert "cdn.jsdelivr" not in html and "unpkg.com" not in html
