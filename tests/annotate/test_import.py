import gzip
import io
import json

import pytest
from django.contrib.auth import get_user_model
from django.core.management import CommandError, call_command

from annotate.models import Annotation, AnnotationRevision, Completion, Prompt
from annotate.services.imports import ImportFailed, prompts_import
from tests.factories import ProjectFactory

pytestmark = pytest.mark.django_db

PARROTS = {
    "id": "p-001",
    "prompt": "Tell me about parrots",
    "completions": [
        {"id": c, "text": f"parrot text {c}", "model": "sft-1"} for c in ["A", "B", "C", "D", "E"]
    ],
    "metadata": {"topic": "birds"},
    "annotations": [
        {
            "annotator": "alice",
            "ranking": [["A"], ["C"], ["D", "E"], ["B"]],
            "ratings": {"A": 7, "B": 2},
            "flags": {"B": ["hallucination"]},
            "comment": "",
            "time_ms": 41000,
        }
    ],
}


def jsonl(*objs, gz=False) -> io.BytesIO:
    data = ("\n".join(json.dumps(o) for o in objs) + "\n").encode()
    return io.BytesIO(gzip.compress(data) if gz else data)


def test_rankwise_line_imports_prompt_completions_and_judgement():
    project = ProjectFactory()
    result = prompts_import(project=project, source=jsonl(PARROTS))
    assert (result.prompts_created, result.completions_created, result.annotations_created) == (
        1,
        5,
        1,
    )
    prompt = Prompt.objects.get(project=project, external_id="p-001")
    assert prompt.text == "Tell me about parrots" and prompt.metadata == {"topic": "birds"}
    assert [c.external_id for c in prompt.completions.all()] == list("ABCDE")
    assert prompt.completions.first().model_name == "sft-1"
    annotation = Annotation.objects.get(prompt=prompt)
    assert annotation.ranking == [["A"], ["C"], ["D", "E"], ["B"]]
    assert annotation.ratings == {"A": 7, "B": 2}
    assert annotation.flags == {"B": ["hallucination"]}
    assert annotation.time_ms == 41000 and annotation.source == "import"
    assert prompt.submitted_count == 1
    alice = get_user_model().objects.get(username="alice")
    assert not alice.is_active and alice.groups.filter(name="annotator").exists()
    assert project.memberships.filter(user=alice).exists()
    assert AnnotationRevision.objects.filter(annotation=annotation, action="imported").count() == 1


def test_plain_string_completions_and_conversations_gzipped():
    project = ProjectFactory()
    line = {
        "id": 7,
        "messages": [
            {"role": "user", "content": "Hi"},
            {"role": "assistant", "content": "Hello!"},
            {"role": "user", "content": "Name a parrot."},
        ],
        "completions": ["Polly", "Kea", "Macaw"],
    }
    prompts_import(project=project, source=jsonl(line, gz=True))
    prompt = Prompt.objects.get(external_id="7")
    assert prompt.messages[2] == {"role": "user", "content": "Name a parrot."}
    assert [c.external_id for c in prompt.completions.all()] == ["0", "1", "2"]


def test_reimport_is_idempotent():
    project = ProjectFactory()
    prompts_import(project=project, source=jsonl(PARROTS))
    again = prompts_import(project=project, source=jsonl(PARROTS))
    assert again.prompts_created == 0 and again.annotations_created == 0
    assert again.prompts_unchanged == 1 and again.annotations_unchanged == 1
    assert Prompt.objects.count() == 1 and Completion.objects.count() == 5
    assert Annotation.objects.count() == 1


def test_reimport_adds_new_judgements_of_known_prompts():
    project = ProjectFactory()
    prompts_import(project=project, source=jsonl(PARROTS))
    more = {**PARROTS, "annotations": [{"annotator": "bob", "ranking": ["B", "A", "C", "D", "E"]}]}
    result = prompts_import(project=project, source=jsonl(more))
    assert result.annotations_created == 1
    assert Annotation.objects.get(annotator__username="bob").ranking == [
        ["B"],
        ["A"],
        ["C"],
        ["D"],
        ["E"],
    ]


def test_changed_content_under_the_same_id_is_refused():
    project = ProjectFactory()
    prompts_import(project=project, source=jsonl(PARROTS))
    changed = {**PARROTS, "completions": ["x", "y"], "annotations": []}
    with pytest.raises(ImportFailed, match="line 1: completions: prompt 'p-001' already exists"):
        prompts_import(project=project, source=jsonl(changed))


@pytest.mark.parametrize(
    ("line", "message"),
    [
        ({**PARROTS, "completions": ["only one"]}, "line 2: completions: 1 item, need 2 to 9"),
        ({**PARROTS, "completions": [str(i) for i in range(10)]}, "line 2: completions: 10 items, need 2 to 9"),
        ({k: v for k, v in PARROTS.items() if k != "prompt"}, "line 2: prompt: give exactly one of"),
        ({**PARROTS, "id": ""}, "line 2: id: must be a non-empty string"),
        ({**PARROTS, "annotations": [{"annotator": "a", "ranking": [["A"], ["Z"]]}]},
         "line 2: annotations[0].ranking: unknown completion 'Z'"),
        ({**PARROTS, "annotations": [{"annotator": "a", "ranking": [["A"], ["B"]]}]},
         "line 2: annotations[0].ranking: not every output is placed (missing C, D, E)"),
        ({**PARROTS, "annotations": [{"annotator": "a", "ranking": list("ABCDE"), "ratings": {"A": 9}}]},
         "line 2: annotations[0].ratings: rating of 'A' is 9, outside 1..7"),
        ({**PARROTS, "annotations": [{"annotator": "a", "ranking": list("ABCDE"), "flags": {"A": ["rude"]}}]},
         "line 2: annotations[0].flags: unknown flag 'rude'"),
        ({**PARROTS, "messages": [{"role": "robot", "content": "x"}], "prompt": None},
         "line 2: prompt: give exactly one of"),
    ],
)  # fmt: skip
def test_bad_line_names_line_and_field_and_imports_nothing(line, message):
    project = ProjectFactory()
    good = {**PARROTS, "id": "good"}
    with pytest.raises(ImportFailed) as excinfo:
        prompts_import(project=project, source=jsonl(good, line))
    assert message in str(excinfo.value)
    assert Prompt.objects.count() == 0 and Annotation.objects.count() == 0


def test_invalid_json_is_reported_with_later_errors_too():
    project = ProjectFactory()
    data = io.BytesIO(
        json.dumps(PARROTS).encode()
        + b"\n{not json\n"
        + json.dumps({**PARROTS, "id": "x", "completions": []}).encode()
    )
    with pytest.raises(ImportFailed) as excinfo:
        prompts_import(project=project, source=data)
    text = str(excinfo.value)
    assert "line 2: json: invalid JSON" in text and "line 3: completions: 0 items" in text
    assert Prompt.objects.count() == 0


def test_duplicate_id_with_other_content_in_one_file():
    project = ProjectFactory()
    other = {**PARROTS, "completions": ["a", "b"], "annotations": []}
    with pytest.raises(ImportFailed, match="line 2: id: 'p-001' is used on line 1"):
        prompts_import(project=project, source=jsonl(PARROTS, other))


def test_ties_refused_when_the_project_forbids_them():
    project = ProjectFactory(ties_allowed=False)
    with pytest.raises(ImportFailed, match="ties are not allowed"):
        prompts_import(project=project, source=jsonl(PARROTS))


def test_gold_ranking_marks_gold():
    project = ProjectFactory()
    prompts_import(
        project=project, source=jsonl({**PARROTS, "gold_ranking": [["A"], ["B", "C", "D", "E"]]})
    )
    prompt = Prompt.objects.get()
    assert prompt.is_gold and prompt.gold_ranking == [["A"], ["B", "C", "D", "E"]]


def test_pairwise_format_strings_and_messages():
    project = ProjectFactory()
    lines = [
        {"prompt": "2+2?", "chosen": "4", "rejected": "5", "annotator": "carol"},
        {
            "prompt": [{"role": "user", "content": "Hi"}],
            "chosen": [{"role": "assistant", "content": "Hello"}],
            "rejected": [{"role": "assistant", "content": "Go away"}],
        },
        {  # TRL's implicit-prompt form
            "chosen": [{"role": "user", "content": "Q"}, {"role": "assistant", "content": "good"}],
            "rejected": [{"role": "user", "content": "Q"}, {"role": "assistant", "content": "bad"}],
        },
    ]
    result = prompts_import(project=project, source=jsonl(*lines), fmt="pairwise", annotator="dave")
    assert result.prompts_created == 3 and result.annotations_created == 3
    first = Prompt.objects.get(text="2+2?")
    assert {c.external_id: c.text for c in first.completions.all()} == {"A": "4", "B": "5"}
    assert first.annotations.get().annotator.username == "carol"
    implicit = Prompt.objects.get(messages=[{"role": "user", "content": "Q"}])
    assert implicit.annotations.get().annotator.username == "dave"
    again = prompts_import(project=project, source=jsonl(*lines), fmt="pairwise", annotator="dave")
    assert again.prompts_created == 0


def test_pairwise_without_annotator_is_an_error():
    with pytest.raises(ImportFailed, match="line 1: annotator: missing"):
        prompts_import(
            project=ProjectFactory(),
            source=jsonl({"prompt": "p", "chosen": "a", "rejected": "b"}),
            fmt="pairwise",
        )


def test_hh_rlhf_splits_at_the_last_assistant_turn():
    project = ProjectFactory()
    prefix = "\n\nHuman: Hi\n\nAssistant: Hello.\n\nHuman: Name a bird."
    line = {"chosen": prefix + "\n\nAssistant: A robin.", "rejected": prefix + "\n\nAssistant: No."}
    prompts_import(project=project, source=jsonl(line), fmt="hh-rlhf")
    prompt = Prompt.objects.get()
    assert prompt.messages == [
        {"role": "user", "content": "Hi"},
        {"role": "assistant", "content": "Hello."},
        {"role": "user", "content": "Name a bird."},
    ]
    assert {c.external_id: c.text for c in prompt.completions.all()} == {
        "A": "A robin.",
        "B": "No.",
    }
    assert prompt.annotations.get().ranking == [["A"], ["B"]]


def test_hh_rlhf_mismatched_prefix_is_an_error():
    line = {
        "chosen": "\n\nHuman: a\n\nAssistant: b",
        "rejected": "\n\nHuman: other\n\nAssistant: c",
    }
    with pytest.raises(ImportFailed, match="line 1: rejected: does not share"):
        prompts_import(project=ProjectFactory(), source=jsonl(line), fmt="hh-rlhf")


def test_oasst_tree_becomes_ranked_prompts():
    tree = {
        "message_id": "root", "role": "prompter", "text": "Why is the sky blue?", "lang": "en",
        "replies": [
            {"message_id": "r1", "role": "assistant", "text": "Rayleigh scattering.", "rank": 1,
             "replies": [{"message_id": "f1", "role": "prompter", "text": "More?", "replies": [
                 {"message_id": "x1", "role": "assistant", "text": "Short waves scatter.", "rank": 0},
                 {"message_id": "x2", "role": "assistant", "text": "Magic.", "rank": 1},
             ]}]},
            {"message_id": "r2", "role": "assistant", "text": "Because.", "rank": 2, "replies": []},
            {"message_id": "r3", "role": "assistant", "text": "Light scatters.", "rank": 0, "replies": []},
            {"message_id": "r4", "role": "assistant", "text": "Unranked.", "rank": None, "replies": []},
        ],
    }  # fmt: skip
    project = ProjectFactory()
    result = prompts_import(project=project, source=jsonl(tree), fmt="oasst")
    assert result.prompts_created == 2
    root = Prompt.objects.get(external_id="root")
    assert root.text == "Why is the sky blue?"
    assert [c.text for c in root.completions.all()] == [
        "Rayleigh scattering.",
        "Because.",
        "Light scatters.",
    ]
    assert root.annotations.get().ranking == [["C"], ["A"], ["B"]]
    follow = Prompt.objects.get(external_id="f1")
    assert [m["role"] for m in follow.messages] == ["user", "assistant", "user"]


def test_import_command_exit_code_and_message(tmp_path):
    bad = tmp_path / "bad.jsonl"
    bad.write_text(
        json.dumps(PARROTS) + "\n" + json.dumps({**PARROTS, "id": "q", "completions": ["x"]}) + "\n"
    )
    with pytest.raises(CommandError, match="line 2: completions: 1 item, need 2 to 9"):
        call_command("import_data", str(bad), "--project", "birds", "--create")
    assert Prompt.objects.count() == 0
    good = tmp_path / "good.jsonl.gz"
    good.write_bytes(gzip.compress((json.dumps(PARROTS) + "\n").encode()))
    out = io.StringIO()
    call_command("import_data", str(good), "--project", "birds", "--create", stdout=out)
    assert "prompts created 1" in out.getvalue()
    with pytest.raises(CommandError, match="no project 'nope'"):
        call_command("import_data", str(good), "--project", "nope")


def test_judgement_time_is_kept_and_bad_times_are_errors():
    project = ProjectFactory()
    line = {
        **PARROTS,
        "annotations": [{**PARROTS["annotations"][0], "created_at": "2026-01-02T03:04:05+00:00"}],
    }
    prompts_import(project=project, source=jsonl(line))
    assert Annotation.objects.get().created_at.isoformat() == "2026-01-02T03:04:05+00:00"
    bad = {
        **PARROTS,
        "id": "p-2",
        "annotations": [{**PARROTS["annotations"][0], "created_at": "yesterday"}],
    }
    with pytest.raises(
        ImportFailed, match=r"line 1: annotations\[0\].created_at: must be an ISO 8601"
    ):
        prompts_import(project=project, source=jsonl(bad))


def test_admin_upload_imports_and_reports_errors(admin_client):
    from django.core.files.uploadedfile import SimpleUploadedFile

    project = ProjectFactory()
    url = f"/admin/annotate/project/{project.pk}/import/"
    bad = SimpleUploadedFile(
        "bad.jsonl", (json.dumps({**PARROTS, "completions": ["x"]}) + "\n").encode()
    )
    page = admin_client.post(url, {"file": bad, "format": "rankwise"})
    assert page.status_code == 200
    assert b"line 1: completions: 1 item, need 2 to 9" in page.content
    assert Prompt.objects.count() == 0
    good = SimpleUploadedFile("good.jsonl", (json.dumps(PARROTS) + "\n").encode())
    done = admin_client.post(url, {"file": good, "format": "rankwise"})
    assert done.status_code == 302
    assert Prompt.objects.filter(project=project).count() == 1


@pytest.mark.django_db(transaction=True)
def test_imported_judgements_get_consensus_after_commit():
    from agreement.models import PromptConsensus

    project = ProjectFactory()
    two = {
        **PARROTS,
        "annotations": [
            PARROTS["annotations"][0],
            {"annotator": "bob", "ranking": [["A"], ["C"], ["B"], ["D"], ["E"]]},
        ],
    }
    prompts_import(project=project, source=jsonl(two))
    consensus = PromptConsensus.objects.get(prompt__project=project)
    assert consensus.ranking[0] == ["A"]
