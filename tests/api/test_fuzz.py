"""A bounded, schema-driven fuzz run over every API operation, as an admin and as an annotator.

Schemathesis generates requests from the OpenAPI schema the server publishes (valid ones and,
in its negative mode, ones that break the schema) and sends them to the Django app in-process
(WSGI, in the test's transaction). Every answer must be

* never a 5xx,
* a status the schema documents for the operation,
* of the documented content type, with a body that validates against the documented schema.

Path parameters mostly point at the world's real project and objects (a random slug or id
would only ever meet a 404), so the rules behind the doors are exercised too. The run is
deterministic and small (``RANKWISE_FUZZ_EXAMPLES`` generated examples per operation and role, 8 by
default); set it higher, and ``RANKWISE_FUZZ_SEED`` to explore, for a deeper local run.
"""

from __future__ import annotations

import json
import os

import pytest
import schemathesis
from django.core.signals import request_finished, request_started
from django.core.wsgi import get_wsgi_application
from django.db import close_old_connections
from drf_spectacular.generators import SchemaGenerator
from drf_spectacular.renderers import OpenApiJsonRenderer
from hypothesis import HealthCheck, Phase, settings
from hypothesis import seed as hypothesis_seed
from schemathesis.checks import (
    content_type_conformance,
    not_a_server_error,
    response_schema_conformance,
    status_code_conformance,
)

from tests.api.permission_matrix import ENDPOINTS  # noqa: F401 - loads the rows in order
from tests.training import permission_rows as training

EXAMPLES = int(os.environ.get("RANKWISE_FUZZ_EXAMPLES", "8"))
SEED = os.environ.get("RANKWISE_FUZZ_SEED")
CHECKS = [not_a_server_error, status_code_conformance, content_type_conformance,
          response_schema_conformance]  # fmt: skip


def _schema() -> dict:
    generated = SchemaGenerator().get_schema(request=None, public=True)
    return json.loads(OpenApiJsonRenderer().render(generated))


SCHEMA = schemathesis.openapi.from_dict(
    _schema(),
    config=schemathesis.Config.from_dict(
        {"generation": {"mode": "all", "deterministic": SEED is None, "database": "none"}}
    ),
)
SCHEMA.app = get_wsgi_application()


@pytest.fixture
def wsgi_in_the_test_transaction():
    """Django's own test client keeps the connection across requests the same way: a request's
    end would otherwise close the connection that holds the test's transaction."""
    request_started.disconnect(close_old_connections)
    request_finished.disconnect(close_old_connections)
    yield
    request_started.connect(close_old_connections)
    request_finished.connect(close_old_connections)


def _real_ids(world, operation_path: str) -> dict:
    """Ids of the world's objects for the operation's path parameters."""
    ids = {"slug": world.project.slug, "username": "ann2", "prompt_id": world.open_prompt.pk}
    if "/annotations/" in operation_path:
        ids["id"] = world.annotation.pk
        if "/my/" in operation_path:
            ids["id"] = world.own_annotation.pk
    elif "/prompts/" in operation_path:
        ids["id"] = world.prompt.pk
    elif "/snapshots/" in operation_path:
        ids["id"] = world.snapshot.pk
    elif "/training-runs/" in operation_path:
        ids["id"] = (training.cancelled_run if "resume" in operation_path else training.run)(
            world
        ).pk
    elif "/reward-models/" in operation_path:
        ids["id"] = training.reward_model(world).pk
    elif "/policies/" in operation_path:
        ids["id"] = training.policy(world).pk
    elif "/generations/" in operation_path:
        ids["id"] = training.generation_job(world).pk
    return ids


def _aim(case, world) -> None:
    """Most generated path parameters are replaced with real ones; a generated value whose
    hash is divisible by four is kept, so unknown ids and slugs are tried as well."""
    real = _real_ids(world, case.operation.path)
    for name, value in list((case.path_parameters or {}).items()):
        if name in real and hash(str(value)) % 4:
            case.path_parameters[name] = real[name]


def _settings(*phases: Phase):
    return settings(
        max_examples=EXAMPLES,
        deadline=None,
        derandomize=SEED is None,
        database=None,
        phases=phases,
        suppress_health_check=list(HealthCheck),
    )


def _fuzz(case, world, role: str) -> None:
    if SEED is not None:
        hypothesis_seed(int(SEED))
    _aim(case, world)
    headers = {"Authorization": f"Token {world.tokens[role]}"}
    response = case.call(headers=headers)
    case.validate_response(response, checks=CHECKS, headers=headers)


@pytest.mark.django_db
@pytest.mark.usefixtures("wsgi_in_the_test_transaction")
@SCHEMA.parametrize()
@_settings(Phase.explicit, Phase.generate)
def test_fuzz_as_admin(case, world):
    """Every operation is open to an admin: schemathesis' coverage phase (boundary values and
    each way to break the schema) as well as generated examples."""
    _fuzz(case, world, "admin")


@pytest.mark.django_db
@pytest.mark.usefixtures("wsgi_in_the_test_transaction")
@SCHEMA.parametrize()
@_settings(Phase.generate)
def test_fuzz_as_annotator(case, world):
    """Most operations refuse an annotator (403) before reading input: generated examples only."""
    _fuzz(case, world, "annotator")
