"""The OpenAPI schema: generated without a warning, valid OpenAPI 3, docs served offline."""

import pytest
import yaml
from django.core.management import call_command
from rest_framework.test import APIClient

from tests.factories import UserFactory


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
def test_schema_and_docs_are_served_to_signed_in_users_only(url):
    anonymous = APIClient().get(url)
    assert anonymous.status_code == 401 and anonymous.json()["error"] == "not_authenticated"
    client = APIClient()
    client.force_login(UserFactory())
    response = client.get(url)
    assert response.status_code == 200
    if url != "/api/schema/":
        html = response.content.decode()
        # Assets come from drf-spectacular-sidecar under STATIC_URL, not from a CDN.
        assert "drf_spectacular_sidecar" in html
        assert "cdn.jsdelivr" not in html and "unpkg.com" not in html


def _props(schema, component):
    return schema["components"]["schemas"][component]["properties"]


def test_json_fields_are_typed_as_they_are(schema_text):
    """Each JSON field has its own type: decorating DRF's JSONField class itself once retyped
    every JSON field of the API as the last decoration (a list of strings)."""
    schema = yaml.safe_load(schema_text)
    ranking = {"type": "array", "items": {"type": "array", "items": {"type": "string"}}}
    for component in ("Annotation", "JudgementInputRequest", "PatchedJudgementPatchRequest"):
        got = _props(schema, component)["ranking"]
        assert {k: got[k] for k in ("type", "items")} == ranking, (component, got)
    for component in ("Project", "ProjectRequest", "PatchedProjectRequest"):
        props = _props(schema, component)
        assert props["flags"]["type"] == "array"
        assert props["flags"]["items"]["type"] == "object"
        assert set(props["flags"]["items"]["properties"]) == {"key", "label"}
        assert props["rating_scale"]["type"] == "object"
        assert set(props["rating_scale"]["properties"]) == {"min", "max", "label"}
    assert _props(schema, "Annotation")["ratings"]["type"] == "object"
    assert _props(schema, "Annotation")["flags"]["type"] == "object"
    run = _props(schema, "TrainingRun")
    for name in ("card", "config", "resolved_config", "info", "result"):
        assert run[name]["type"] == "object", (name, run[name])
    prompts = _props(schema, "GenerationJob")["prompts"]
    assert prompts["type"] == "array" and prompts["items"]["type"] == "object"
    assert set(prompts["items"]["properties"]) == {"id", "prompt", "messages"}
    for component in ("Policy", "RewardModel"):
        assert _props(schema, component)["card"]["type"] == "object"
        assert _props(schema, component)["metrics"]["type"] == "object"
    assert _props(schema, "TrainingMetric")["values"]["type"] == "object"
    assert "oneOf" in _props(schema, "TrainingSample")["prompt"]
