import pytest
from tests.api.conftest import ROLES, assert_error_shape, MARKER
from tests.api.test_permissions import call
from tests.training.permission_rows import TRAINING_ENDPOINTS

@pytest.fixture(autouse=True)
def _urls(settings):
    settings.ROOT_URLCONF = "tests.training.urls"

@pytest.mark.django_db
@pytest.mark.parametrize("role", ROLES)
@pytest.mark.parametrize("endpoint", TRAINING_ENDPOINTS, ids=lambda e: e.name)
def test_rows(world, endpoint, role):
    r = call(world, endpoint, role)
    assert r.status_code == endpoint.expected(role), r.content[:300]
    if r.status_code >= 400:
        assert_error_shape(r)
    assert MARKER.encode() not in r.content.lower()
