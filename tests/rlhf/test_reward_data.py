"""Snapshot parsing, splits and config validation for the reward trainer."""

from __future__ import annotations

import json

import pytest

from rlhf.config import ConfigError, RewardConfig
from rlhf.data import DataError, assign_splits, load_preferences
from rlhf.eval_sets import load_llmbar


def _write(tmp_path, rows, name="data.jsonl"):
    path = tmp_path / name
    path.write_text("".join((r if isinstance(r, str) else json.dumps(r)) + "\n" for r in rows))
    return str(path)


RANKED = {
    "id": "p1",
    "prompt": "question w10",
    "completions": [{"id": c, "text": f"text {c}", "model": "m"} for c in "ABCDE"],
    "metadata": {"agreement": 0.7},
    "annotations": [
        {"annotator": "ann1", "ranking": [["A"], ["C"], ["D", "E"], ["B"]]},
        {"annotator": "ann2", "ranking": [["B"], ["A"]]},
    ],
    "consensus": {
        "ranking": [["A"], ["B", "C", "D", "E"]],
        "agreement": 0.9,
        "pair_probs": {"A>B": 0.8, "A>C": 0.6},
    },
}


def test_tie_groups_give_all_ordered_pairs_and_skip_ties(tmp_path):
    examples, stats = load_preferences(_write(tmp_path, [RANKED]))
    assert len(examples) == 2  # one example per annotation by default
    first = examples[0]
    names = "ABCDE"
    got = {(names[p.better], names[p.worse]) for p in first.pairs}
    assert got == {
        ("A", "C"),
        ("A", "D"),
        ("A", "E"),
        ("A", "B"),
        ("C", "D"),
        ("C", "E"),
        ("C", "B"),
        ("D", "B"),
        ("E", "B"),
    }
    assert ("D", "E") not in got and ("E", "D") not in got
    assert {(names[p.better], names[p.worse]) for p in examples[1].pairs} == {("B", "A")}
    assert stats.tied_pairs_skipped == 1
    assert first.agreement == 0.9  # consensus.agreement wins over metadata.agreement
    assert first.annotator == "ann1"


def test_consensus_labels_one_example_per_prompt(tmp_path):
    no_consensus = {**RANKED, "id": "p2"}
    del no_consensus["consensus"]
    examples, stats = load_preferences(_write(tmp_path, [RANKED, no_consensus]), "consensus")
    assert len(examples) == 1
    assert len(examples[0].pairs) == 4  # A over each of the four tied others
    assert stats.prompts_without_consensus == 1
    assert examples[0].pair_probs[:1] == [0.8]


def test_pairwise_lines_with_messages_margin_and_weight(tmp_path):
    row = {
        "prompt": [{"role": "user", "content": "hi"}],
        "chosen": [{"role": "assistant", "content": "hello"}],
        "rejected": "go away",
        "margin": 0.5,
        "weight": 2,
        "agreement": 0.75,
        "split": "validation",
    }
    (ex,), _ = load_preferences(_write(tmp_path, [row]))
    assert ex.completions == ["hello", "go away"]
    assert (ex.pairs[0].better, ex.pairs[0].worse) == (0, 1)
    assert ex.pairs[0].margin == 0.5 and ex.pairs[0].weight == 2.0
    assert ex.split == "validation" and ex.agreement == 0.75
    assert ex.prompt == [{"role": "user", "content": "hi"}]


def test_plain_string_completions_get_positional_ids(tmp_path):
    row = {
        "id": 7,
        "prompt": "q",
        "completions": ["x", "y", "z"],
        "annotations": [{"ranking": [["2"], ["0"], ["1"]]}],
    }
    (ex,), _ = load_preferences(_write(tmp_path, [row]))
    assert {(p.better, p.worse) for p in ex.pairs} == {(2, 0), (2, 1), (0, 1)}


@pytest.mark.parametrize(
    ("bad_line", "needle"),
    [
        ("{not json", "invalid JSON"),
        (
            {
                "id": "x",
                "prompt": "q",
                "completions": ["a", "b"],
                "annotations": [{"ranking": [["0"], ["9"]]}],
            },
            "annotations[0].ranking",
        ),
        ({"id": "x", "prompt": "q", "completions": ["a"], "annotations": []}, "'completions'"),
        ({"prompt": "q", "chosen": "a"}, "'rejected'"),
        ({"prompt": "q", "chosen": "a", "rejected": "b", "split": "dev"}, "'split'"),
        ({"prompt": "q", "chosen": "a", "rejected": "b", "weight": "heavy"}, "'weight'"),
        (
            {
                "id": "x",
                "prompt": "q",
                "completions": ["a", "b"],
                "annotations": [{"ranking": [["0"], ["0"]]}],
            },
            "ranked twice",
        ),
        ({"text": "neither format"}, "neither a rankings line"),
    ],
)
def test_bad_lines_name_file_line_and_field(tmp_path, bad_line, needle):
    good = {"prompt": "q", "chosen": "a", "rejected": "b"}
    path = _write(tmp_path, [good, "", bad_line])  # blank line 2 is skipped, bad one is 3
    with pytest.raises(DataError) as err:
        load_preferences(path)
    assert f"{path}:3:" in str(err.value)
    assert needle in str(err.value)


def test_split_by_prompt_id_is_seeded_and_keeps_prompts_whole(tmp_path):
    rows = []
    for i in range(40):
        rows.append({"prompt": f"q{i}", "prompt_id": f"p{i}", "chosen": "a", "rejected": "b"})
        rows.append({"prompt": f"q{i}", "prompt_id": f"p{i}", "chosen": "c", "rejected": "d"})
    rows.append({"prompt": "fixed", "chosen": "a", "rejected": "b", "split": "test"})
    path = _write(tmp_path, rows)

    def split_of(seed):
        examples, _ = load_preferences(path)
        counts = assign_splits(examples, 0.25, seed)
        return counts, {e.prompt_id: e.split for e in examples}, examples

    counts, by_id, examples = split_of(3)
    assert counts == {
        "train": 60,
        "validation": 20,
        "test": 1,
        "unsplit_examples": 80,
        "unsplit_held_out": 20,
    }
    for e in examples:  # both lines of a prompt land in the same split
        assert by_id[e.prompt_id] == e.split
    assert split_of(3)[1] == by_id
    assert split_of(4)[1] != by_id


def test_llmbar_labels_as_strings_or_ints(tmp_path):
    path = tmp_path / "bar.json"
    path.write_text(
        json.dumps(
            [
                {"input": "q", "output_1": "a", "output_2": "bb", "label": "2"},
                {"input": "q", "output_1": "a", "output_2": "bb", "label": 1},
            ]
        )
    )
    a, b = load_llmbar(str(path))
    assert (a.pairs[0].better, a.pairs[0].worse) == (1, 0)
    assert (b.pairs[0].better, b.pairs[0].worse) == (0, 1)
    path.write_text(json.dumps([{"input": "q", "output_1": "a", "output_2": "b", "label": 3}]))
    with pytest.raises(DataError, match="item 0: field 'label'"):
        load_llmbar(str(path))


def test_config_rejects_unknown_keys_and_wrong_types(tmp_path):
    with pytest.raises(ConfigError, match=r"unknown config key\(s\): 'lerning_rate'"):
        RewardConfig.from_dict({"lerning_rate": 1e-5})
    with pytest.raises(ConfigError, match="'batch_size' must be int, got str '8'"):
        RewardConfig.from_dict({"batch_size": "8"})
    with pytest.raises(ConfigError, match="'length_debias' must be one of"):
        RewardConfig.from_dict({"length_debias": "shortest"})
    cfg = RewardConfig.from_dict({"learning_rate": 1, "lora_target_modules": ["q", "v"]})
    assert cfg.learning_rate == 1.0 and isinstance(cfg.learning_rate, float)
    assert cfg.lora_target_modules == ["q", "v"]
    with pytest.raises(ConfigError, match="'train_file' is required"):
        RewardConfig(model_name_or_path="m", output_dir="o").validate_required()
