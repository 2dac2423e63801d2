"""core.events: the seam through which annotate tells agreement about judgements and imports."""

from __future__ import annotations

import pytest

from core import events


@pytest.fixture
def fresh(monkeypatch):
    monkeypatch.setattr(events, "_handlers", {})


def test_handlers_run_in_subscription_order_with_the_payload(fresh):
    seen = []
    events.event_subscribe("x.happened", lambda **kw: seen.append(("a", kw)), uid="a")
    events.event_subscribe("x.happened", lambda **kw: seen.append(("b", kw)), uid="b")
    events.event_publish("x.happened", prompt_id=3)
    events.event_publish("nobody.listens", prompt_id=4)
    assert seen == [("a", {"prompt_id": 3}), ("b", {"prompt_id": 3})]


def test_a_second_subscription_under_one_uid_is_ignored(fresh):
    seen = []
    for _ in range(2):
        events.event_subscribe("x.happened", lambda **kw: seen.append(kw), uid="same")
    events.event_publish("x.happened")
    assert seen == [{}]


def test_a_failing_handler_fails_the_publisher(fresh):
    def broken(**kw):
        raise RuntimeError("handler broke")

    events.event_subscribe("x.happened", broken, uid="broken")
    with pytest.raises(RuntimeError, match="handler broke"):
        events.event_publish("x.happened")


def test_agreement_and_webhooks_listen_to_annotate():
    """The wiring itself: without it consensus would silently stop following judgements, and
    finished import jobs would send no webhook."""
    uids = {name: {uid for uid, _ in handlers} for name, handlers in events._handlers.items()}
    assert "agreement-prompt" in uids[events.JUDGEMENT_CHANGED]
    assert "agreement-project" in uids[events.PROMPTS_IMPORTED]
    assert "webhooks-import" in uids[events.IMPORT_JOB_FINISHED]
