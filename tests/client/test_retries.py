"""Retries through a real HTTP hop that fails on cue (tests/client/faulty_proxy.py), in front
of the live server: idempotent calls are sent again with exponential backoff, a POST that may
have been processed is sent once."""

from __future__ import annotations

import pytest

from exports.models import DatasetSnapshot
from tests.client.faulty_proxy import FaultyProxy, free_port

pytestmark = pytest.mark.django_db(transaction=True)


@pytest.fixture
def proxy(live_server):
    with FaultyProxy(live_server.url) as p:
        yield p


@pytest.fixture
def via(proxy, admin_token):
    """A client whose backoff sleeps are recorded instead of slept."""
    from rankwise_client import Client

    client = Client(proxy.url, admin_token, retries=4, backoff=0.5, max_backoff=8.0)
    client.slept = []
    client.http.sleep = client.slept.append
    yield client
    client.close()


def test_get_retried_with_exponential_backoff_until_it_succeeds(via, proxy, project):
    proxy.fail(503, 2, body=b"<html>maintenance</html>")
    proxy.fail(502)
    assert via.projects.get("parrots").slug == "parrots"
    assert proxy.seen == [("GET", "/api/v1/projects/parrots/")] * 4
    # 0.5 s doubled each time, with jitter in [50%, 100%]
    assert len(via.slept) == 3 and 0.25 <= via.slept[0] <= 0.5
    assert 0.5 <= via.slept[1] <= 1.0 and 1.0 <= via.slept[2] <= 2.0


def test_retry_after_is_honoured_and_pages_follow_through_the_proxy(via, proxy, project,
                                                                     rankings_file):  # fmt: skip
    via.projects.import_file("parrots", rankings_file, progress=False)
    proxy.fail(503, headers={"Retry-After": "3"})
    # The server's next links name the server's own host; the client keeps to the proxy.
    prompts = list(via.projects.prompts("parrots", page_size=4))
    assert len(prompts) == 12 and via.slept == [3.0]
    assert all(path.startswith("/api/v1/projects/parrots/prompts/") for _, path in proxy.seen)


def test_exhausted_retries_raise_service_unavailable_with_the_api_error(via, proxy, project):
    from rankwise_client import ServiceUnavailable

    body = {"error": "broker_unavailable", "detail": "The task queue is down.", "fields": {}}
    proxy.fail(503, 5, body=body)
    with pytest.raises(ServiceUnavailable) as caught:
        via.projects.get("parrots")
    error = caught.value
    assert (error.status, error.code, error.detail) == (
        503,
        "broker_unavailable",
        "The task queue is down.",
    )
    assert error.attempts == 5 and len(proxy.seen) == 5 and len(via.slept) == 4


def test_a_post_that_creates_is_not_sent_twice(via, proxy, project, rankings_file):
    from rankwise_client import ConnectionFailed, ServiceUnavailable

    via.projects.import_file("parrots", rankings_file, progress=False)
    proxy.seen.clear()
    proxy.fail(503)
    with pytest.raises(ServiceUnavailable) as caught:
        via.snapshots.create("parrots", format="rankings")
    assert caught.value.attempts == 1 and proxy.seen == [("POST", "/api/v1/snapshots/")]

    # A dropped connection: the server may have created the snapshot; the client must not
    # create a second one behind the caller's back.
    proxy.seen.clear()
    proxy.script.append({"do": "drop"})
    with pytest.raises(ConnectionFailed) as caught:
        via.snapshots.create("parrots", format="rankings")
    assert caught.value.attempts == 1 and proxy.seen == [("POST", "/api/v1/snapshots/")]
    assert via.slept == [] and DatasetSnapshot.objects.count() == 0


def test_known_idempotent_posts_are_retried(via, proxy, project, rankings_file):
    proxy.fail(502)
    proxy.drop()
    result = via.projects.import_file("parrots", rankings_file, progress=False)
    assert result.prompts_created == 12
    assert proxy.seen == [("POST", "/api/v1/projects/parrots/prompts/import/")] * 3
    assert len(proxy.forwarded) == 1

    proxy.drop()
    via.projects.add_members("parrots", ["root"])
    assert proxy.seen[-2:] == [("POST", "/api/v1/projects/parrots/members/")] * 2


def test_an_unreachable_server_is_retried_then_reported(admin_token):
    from rankwise_client import Client, ConnectionFailed

    client = Client(f"http://127.0.0.1:{free_port()}", admin_token, retries=2, backoff=0.01)
    slept = []
    client.http.sleep = slept.append
    # Refused connections never reached a server: even a POST is safe to send again.
    with pytest.raises(ConnectionFailed) as caught:
        client.snapshots.create("parrots", format="rankings")
    assert caught.value.attempts == 3 and len(slept) == 2
    assert "ConnectError" in str(caught.value)


def test_scoring_unavailable_is_not_retried(via, proxy, project):
    """A 503 whose code says the server cannot score at all (no torch) is final at once;
    retrying would only make the caller wait."""
    from rankwise_client import ServiceUnavailable

    body = {"error": "scoring_unavailable", "detail": "torch is not installed", "fields": {}}
    proxy.fail(503, 3, body=body)
    with pytest.raises(ServiceUnavailable) as caught:
        via.reward_models.score(1, "a prompt", ["a", "b"])
    assert caught.value.code == "scoring_unavailable" and caught.value.attempts == 1
    assert via.slept == [] and len(proxy.seen) == 1
