"""pairwise and hf exports: the rows TRL trains on, and the filters that choose them."""

import datasets
import pyarrow.parquet as pq
import pytest
from trl.data_utils import is_conversational

from annotate.models import Annotation
from exports.lines import ranking_pairs
from tests.exports.conftest import import_lines, read_jsonl
from tests.factories import ProjectFactory

pytestmark = pytest.mark.django_db


def judged(pid, rankings, *, prompt="Which is best?", k=3, flags=None, messages=None):
    ids = [chr(65 + i) for i in range(k)]
    line = {
        "id": pid,
        "completions": [{"id": c, "text": f"{pid} answer {c}"} for c in ids],
        "annotations": [
            {"annotator": name, "ranking": ranking, "flags": (flags or {}).get(name, {})}
            for name, ranking in rankings.items()
        ],
    }
    if messages is not None:
        line["messages"] = messages
    else:
        line["prompt"] = prompt
    return line


@pytest.fixture
def project():
    project = ProjectFactory()
    import_lines(project, [
        # alice and bob agree A > B > C; carol puts C first.
        judged("agree", {"alice": [["A"], ["B"], ["C"]], "bob": [["A"], ["B"], ["C"]],
                         "carol": [["C"], ["A"], ["B"]]}),
        # one annotator, with a tie
        judged("tied", {"alice": [["A", "B"], ["C"]]}),
        # flagged harmful by bob
        judged("flagged", {"bob": [["B"], ["A"], ["C"]]}, flags={"bob": {"A": ["harmful"]}}),
    ])  # fmt: skip
    return project


def test_ranking_pairs_from_tie_groups():
    assert list(ranking_pairs([["A"], ["B", "C"], ["D"]], keep_ties=False)) == [
        ("A", "B", False), ("A", "C", False), ("A", "D", False),
        ("B", "D", False), ("C", "D", False),
    ]  # fmt: skip
    assert ("B", "C", True) in list(ranking_pairs([["A"], ["B", "C"]], keep_ties=True))


def test_every_annotators_pairs_with_margin_and_weight(project, build):
    rows = read_jsonl(build(project, "pairwise").path)
    agree = [r for r in rows if r["prompt_id"] == "agree"]
    assert len(agree) == 9  # 3 annotators x 3 pairs
    assert {r["annotator"] for r in agree} == {"alice", "bob", "carol"}
    a_over_c = next(r for r in agree if r["annotator"] == "alice" and r["rejected"].endswith("C"))
    # P(A > C) = 2/3: margin 2p - 1, weight max(p, 1 - p)
    assert a_over_c["margin"] == pytest.approx(1 / 3, abs=1e-4)
    assert a_over_c["weight"] == pytest.approx(2 / 3, abs=1e-4)
    c_over_a = next(r for r in agree if r["annotator"] == "carol" and r["chosen"].endswith("C")
                    and r["rejected"].endswith("A"))  # fmt: skip
    assert c_over_a["margin"] == pytest.approx(-1 / 3, abs=1e-4)  # against the majority
    assert set(rows[0]) == {"prompt", "chosen", "rejected", "prompt_id", "margin", "weight",
                            "agreement", "annotator", "source", "split"}  # fmt: skip
    assert {r["source"] for r in rows} == {"human"}  # people judged it all
    # ties dropped by default: "tied" gives A>C and B>C only
    assert len([r for r in rows if r["prompt_id"] == "tied"]) == 2


def test_ties_kept_with_a_label(project, build):
    rows = read_jsonl(build(project, "pairwise", ties="keep").path)
    tied = [r for r in rows if r["prompt_id"] == "tied"]
    assert sorted(r["tie"] for r in tied) == [False, False, True]
    tie = next(r for r in tied if r["tie"])
    assert tie["margin"] == 0.0


def test_consensus_mode_one_ranking_per_prompt(project, build):
    snapshot = build(project, "pairwise", mode="consensus")
    rows = read_jsonl(snapshot.path)
    agree = [(r["chosen"][-1], r["rejected"][-1]) for r in rows if r["prompt_id"] == "agree"]
    assert agree == [("A", "B"), ("A", "C"), ("B", "C")]
    assert all("annotator" not in r for r in rows)
    assert all(r["margin"] >= 0 for r in rows)  # the consensus winner is always chosen
    # a single annotation is its own consensus
    tied = [(r["chosen"][-1], r["rejected"][-1]) for r in rows if r["prompt_id"] == "tied"]
    assert tied == [("A", "C"), ("B", "C")]


def test_filters(project, build):
    flagged = build(project, "pairwise", exclude_flags=["harmful"])
    ids = {r["prompt_id"] for r in read_jsonl(flagged.path)}
    assert ids == {"agree", "tied"}
    assert flagged.row_counts["excluded_prompts"] == {"flagged": 1}

    # agreement of "agree": 3 annotator pairs x 3 completion pairs, 1 of 3 agreeing on A>C...
    strict = build(project, "pairwise", min_agreement=0.9)
    assert strict.row_counts["rows"] == 0  # single-annotator prompts have no agreement
    assert strict.row_counts["excluded_prompts"] == {"below_min_agreement": 3}
    loose = build(project, "pairwise", min_agreement=0.3)
    assert {r["prompt_id"] for r in read_jsonl(loose.path)} == {"agree"}

    assert build(project, "pairwise", only_reviewed=True).row_counts["rows"] == 0
    Annotation.objects.filter(prompt__external_id="tied").update(source=Annotation.Source.REVIEW)
    reviewed = build(project, "pairwise", only_reviewed=True)
    assert {r["prompt_id"] for r in read_jsonl(reviewed.path)} == {"tied"}


def test_pairwise_loads_with_datasets_as_trl_expects(project, build, tmp_path):
    snapshot = build(project, "pairwise")
    ds = datasets.load_dataset("json", data_files=str(snapshot.path), split="train",
                               cache_dir=str(tmp_path / "hf-cache"))  # fmt: skip
    # RewardTrainer and DPOTrainer read "chosen"/"rejected" (and "prompt", "margin").
    assert {"prompt", "chosen", "rejected", "margin"} <= set(ds.column_names)
    assert ds.features["chosen"].dtype == "string"
    assert ds.features["margin"].dtype in ("float64", "float32")
    example = ds[0]
    assert not is_conversational(example)
    joined = example["prompt"] + example["chosen"]  # what TRL does with an explicit prompt
    assert isinstance(joined, str)


def test_conversations_export_as_message_lists(build):
    project = ProjectFactory()
    chat = [{"role": "system", "content": "Be brief."}, {"role": "user", "content": "Hi?"}]
    import_lines(project, [
        judged("chat", {"alice": [["B"], ["A"]]}, k=2, messages=chat),
        judged("plain", {"alice": [["A"], ["B"]]}, k=2),
    ])  # fmt: skip
    rows = {r["prompt_id"]: r for r in read_jsonl(build(project, "pairwise").path)}
    assert rows["chat"]["prompt"] == chat
    assert rows["chat"]["chosen"] == [{"role": "assistant", "content": "chat answer B"}]
    # one prompt type per snapshot: the text prompt becomes a user message
    assert rows["plain"]["prompt"] == [{"role": "user", "content": "Which is best?"}]
    assert all(is_conversational(r) for r in rows.values())

    hf = build(project, "hf")
    dd = datasets.load_from_disk(str(hf.path))
    example = next(iter(dd["train"]), None) or next(iter(dd["test"]), None) or dd["validation"][0]
    assert is_conversational(example)
    assert example["chosen"][0]["role"] == "assistant"


def test_hf_dataset_dict_and_parquet(project, build):
    pairwise = build(project, "pairwise", split={"train": 0.5, "validation": 0.25, "test": 0.25})
    hf = build(project, "hf", split={"train": 0.5, "validation": 0.25, "test": 0.25})
    # Same rows, same canonical JSONL: the hf snapshot's content hash equals the pairwise one.
    assert hf.sha256 == pairwise.sha256
    dd = datasets.load_from_disk(str(hf.path))
    assert set(dd) == {"train", "validation", "test"}
    rows = read_jsonl(pairwise.path)
    for split in ("train", "validation", "test"):
        expected = [r for r in rows if r["split"] == split]
        assert dd[split].num_rows == len(expected) == hf.row_counts["splits"][split]
        assert dd[split].to_list() == expected
        table = pq.read_table(hf.folder / "parquet" / f"{split}.parquet")
        assert table.to_pylist() == expected


def test_stored_consensus_and_adjudications_are_used(project, build, admin_user):
    from django.utils import timezone

    from agreement.models import Adjudication, PromptConsensus
    from annotate.models import Prompt

    agree = Prompt.objects.get(project=project, external_id="agree")
    PromptConsensus.objects.create(
        prompt=agree, project=project, ranking=[["B"], ["A"], ["C"]],
        pair_probs={"A>B": 0.2, "A>C": 0.7, "B>C": 0.9}, scores={}, agreement=0.95,
        n_judgements=3, computed_at=timezone.now(),
    )  # fmt: skip
    tied = Prompt.objects.get(project=project, external_id="tied")
    Adjudication.objects.create(prompt=tied, reviewer=admin_user, ranking=[["C"], ["A"], ["B"]])

    rows = read_jsonl(build(project, "pairwise", mode="consensus").path)
    agree_rows = [r for r in rows if r["prompt_id"] == "agree"]
    assert [(r["chosen"][-1], r["rejected"][-1]) for r in agree_rows] == [
        ("B", "A"),
        ("B", "C"),
        ("A", "C"),
    ]
    assert agree_rows[0]["margin"] == pytest.approx(0.6) and agree_rows[0]["agreement"] == 0.95
    tied_rows = [(r["chosen"][-1], r["rejected"][-1]) for r in rows if r["prompt_id"] == "tied"]
    assert tied_rows == [("C", "A"), ("C", "B"), ("A", "B")]  # the reviewer's order

    reviewed = build(project, "pairwise", only_reviewed=True)
    assert {r["prompt_id"] for r in read_jsonl(reviewed.path)} == {"tied"}
    strict = build(project, "pairwise", min_agreement=0.9)
    assert {r["prompt_id"] for r in read_jsonl(strict.path)} == {"agree"}


def _word_tokenizer():
    """A tokenizer built in memory (no download): enough for TRL to tokenize the rows."""
    from tokenizers import Tokenizer, models, pre_tokenizers
    from transformers import PreTrainedTokenizerFast

    tok = Tokenizer(models.WordLevel({"[UNK]": 0, "[EOS]": 1, "[PAD]": 2}, unk_token="[UNK]"))
    tok.pre_tokenizer = pre_tokenizers.Whitespace()
    tokenizer = PreTrainedTokenizerFast(
        tokenizer_object=tok, eos_token="[EOS]", pad_token="[PAD]", unk_token="[UNK]"
    )
    tokenizer.chat_template = (
        "{% for m in messages %}{{ m['role'] }}: {{ m['content'] }}\n{% endfor %}"
    )
    return tokenizer


@pytest.mark.train
def test_trl_reward_trainer_prepares_both_kinds_of_export(project, build, tmp_path):
    """TRL's own RewardTrainer dataset preparation accepts the text and the conversational
    exports (JSONL through `datasets`, and the hf DatasetDict) and keeps the margin column."""
    from trl import RewardConfig, RewardTrainer

    args = RewardConfig(output_dir=str(tmp_path / "out"), report_to=[], use_cpu=True, bf16=False)
    tokenizer = _word_tokenizer()
    text = datasets.load_dataset("json", data_files=str(build(project, "pairwise").path),
                                 split="train", cache_dir=str(tmp_path / "c"))  # fmt: skip
    chat_project = ProjectFactory()
    chat = [{"role": "user", "content": "Hi?"}]
    import_lines(chat_project, [judged(f"c{i}", {"alice": [["B"], ["A"]]}, k=2, messages=chat)
                                for i in range(4)])  # fmt: skip
    dd = datasets.load_from_disk(str(build(chat_project, "hf", split={"train": 1.0}).path))
    for ds in (text, dd["train"]):
        prepared = RewardTrainer._prepare_dataset(None, ds, tokenizer, args, "train")
        assert {"chosen_ids", "rejected_ids", "margin"} <= set(prepared.column_names)
        assert prepared.num_rows == ds.num_rows and len(prepared[0]["chosen_ids"]) > 1
