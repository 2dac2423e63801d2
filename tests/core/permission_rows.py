"""The audit log's rows of the API permission matrix (``tests/api/permission_matrix.py`` appends
them to its ENDPOINTS; tests/api runs them for every role against its World).

Only admins read the audit log; it is not project-scoped (an event of a deleted project stays),
so every other role, members included, gets 403.
"""

from __future__ import annotations

from tests.api.permission_matrix import Endpoint, url


def events_listed(response, world, role):
    """An admin sees events, newest first, with the actor's username and no secret."""
    if response.status_code != 200:
        return
    body = response.json()
    assert set(body) == {"next", "previous", "results"}, body
    ids = [e["id"] for e in body["results"]]
    assert ids == sorted(ids, reverse=True)


AUDIT_ENDPOINTS = [
    Endpoint("audit event list", "get", url("/api/v1/audit-events/"), scoped=False,
             extra_checks=(events_listed,)),
    Endpoint("audit event list by project", "get",
             url("/api/v1/audit-events/?project={w.project.slug}&action=membership"),
             scoped=False, extra_checks=(events_listed,)),
]  # fmt: skip
