"""``client.webhooks`` and ``rankwise webhooks`` against the live server and a real receiver
on loopback; the client's ``signature_verify`` accepts what the server signs."""

from __future__ import annotations

import json

import pytest

from tests.webhooks.receiver import Receiver

pytestmark = pytest.mark.django_db(transaction=True)


@pytest.fixture
def receiver():
    r = Receiver()
    yield r
    r.close()


def test_register_ping_log_and_replay(rw, project, receiver):
    from rankwise_client.webhooks import HEADER, signature_verify

    hook = rw.webhooks.create("parrots", receiver.url(), ["snapshot.ready", "training_run.failed"])
    assert hook.secret and hook.events == ["snapshot.ready", "training_run.failed"]
    assert [h.id for h in rw.webhooks.list(project)] == [hook.id]
    receiver.statuses = [500]
    first = rw.webhooks.ping("parrots", hook)  # eager: sent when the request commits
    (request,) = receiver.requests
    assert signature_verify(hook.secret, request["headers"][HEADER.lower()], request["body"])
    assert not signature_verify("another-secret-entirely", request["headers"][HEADER.lower()],
                                request["body"])  # fmt: skip
    (logged,) = rw.webhooks.deliveries("parrots", hook.id)
    assert (logged.id, logged.status, logged.response_code) == (first.id, "retrying", 500)
    replay = rw.webhooks.replay("parrots", hook, logged)
    assert replay.replay_of == logged.id and replay.event_id == logged.event_id
    statuses = {d.id: d.status for d in hook.deliveries()}
    assert statuses[replay.id] == "succeeded"
    assert json.loads(receiver.requests[1]["body"])["id"] == logged.event_id
    updated = rw.webhooks.update("parrots", hook, active=False)
    assert updated.active is False
    rw.webhooks.delete("parrots", hook)
    assert rw.webhooks.list("parrots") == []


def test_cli_webhooks(live_server, admin_token, project, receiver, monkeypatch, capsys):
    from rankwise_client.cli import main

    monkeypatch.setenv("RANKWISE_URL", live_server.url)
    monkeypatch.setenv("RANKWISE_TOKEN", admin_token)

    def cli(*argv):
        capsys.readouterr()
        code = main(list(argv))
        return code, capsys.readouterr().out

    code, out = cli("--json", "webhooks", "create", "parrots", receiver.url(),
                    "--event", "snapshot.ready")  # fmt: skip
    assert code == 0
    hook = json.loads(out)
    code, out = cli("webhooks", "list", "parrots")
    assert code == 0 and receiver.url() in out
    code, out = cli("--json", "webhooks", "ping", "parrots", str(hook["id"]))
    assert code == 0 and json.loads(out)["event_type"] == "ping"
    code, out = cli("--json", "webhooks", "deliveries", "parrots", str(hook["id"]))
    (delivery,) = json.loads(out)
    assert code == 0 and delivery["status"] == "succeeded"
    code, out = cli("webhooks", "replay", "parrots", str(hook["id"]), str(delivery["id"]))
    assert code == 0 and len(receiver.requests) == 2
    assert cli("webhooks", "create", "parrots", "ftp://x/", "--event", "snapshot.ready")[0] == 3
    code, out = cli("--json", "webhooks", "create", "parrots", receiver.url(), "--event",
                    "agreement.below_threshold", "--agreement-threshold", "0.55")  # fmt: skip
    assert code == 0 and json.loads(out)["agreement_threshold"] == 0.55
    missing = cli("webhooks", "create", "parrots", receiver.url(), "--event",
                  "agreement.below_threshold")  # fmt: skip
    assert missing[0] == 3  # the server's 400 naming agreement_threshold


def test_run_list_filters_by_project(rw, project):
    from tests.factories import ProjectFactory
    from tests.training.helpers import snapshot_make
    from training.models import TrainingRun

    mine = TrainingRun.objects.create(kind="reward_model", snapshot=snapshot_make(project=project),
                                      base_model="/m", status="failed")  # fmt: skip
    TrainingRun.objects.create(kind="reward_model", snapshot=snapshot_make(ProjectFactory()),
                               base_model="/m", status="failed")  # fmt: skip
    assert [r.id for r in rw.runs.list(project="parrots")] == [mine.id]
    assert [r.id for r in rw.runs.list(project=project, status="queued")] == []
    assert len(list(rw.runs.list(status="failed"))) == 2
