"""The agreement rows of the API permission matrix, every role, against the matrix's World."""

import pytest

from tests.agreement_app.permission_rows import AGREEMENT_ENDPOINTS
from tests.api.conftest import ROLES, assert_error_shape, world  # noqa: F401
from tests.api.test_permissions import call


@pytest.mark.urls("tests.agreement_app.urls")
@pytest.mark.django_db
@pytest.mark.parametrize("role", ROLES)
@pytest.mark.parametrize("endpoint", AGREEMENT_ENDPOINTS, ids=lambda e: e.name)
def test_agreement_permission_matrix(world, endpoint, role):  # noqa: F811
    response = call(world, endpoint, role)
    assert response.status_code == endpoint.expected(role), (role, response.content[:200])
    if response.status_code >= 400:
        assert_error_shape(response)
    for check in endpoint.extra_checks:
        check(response, world, role)
