"""One parser per input format: a decoded JSON line in, PromptRecords out.

Parsers check shape and types only; rules that depend on the project (ties, rating scale,
flags) are checked by ``annotate.judgements`` when the file is validated as a whole.
"""

from __future__ import annotations

import hashlib
import json
import string
from collections.abc import Callable, Iterable
from typing import Any

from annotate.constants import MAX_COMPLETIONS, MIN_COMPLETIONS
from annotate.imports.helpsteer import parse_helpsteer3
from annotate.imports.records import AnnotationRecord, CompletionRecord, LineError, PromptRecord

ROLES = ("system", "user", "assistant")
USERNAME_LENGTH = 150  # django.contrib.auth's User.username
MODEL_NAME_LENGTH = 200  # Completion.model_name
ANNOTATION_KEYS = {
    "annotator", "ranking", "ratings", "flags", "comment", "time_ms", "skipped", "skip_reason",
    "shown_order", "created_at", "strength", "tie_kind", "gaps", "dimensions", "rationale",
    "source", "lineage",
}  # fmt: skip
# What an export adds to a judgement and an import does not restore (the importer's own source).
EXPORT_ONLY_KEYS = ("annotator", "source", "lineage")


def letters(n: int) -> list[str]:
    return list(string.ascii_uppercase[:n])


def content_id(prefix: str, *parts: Any) -> str:
    """A stable id from content, so re-importing a file without ids is still idempotent."""
    digest = hashlib.sha1(
        json.dumps(parts, sort_keys=True, ensure_ascii=False).encode(), usedforsecurity=False
    )
    return f"{prefix}-{digest.hexdigest()[:16]}"


def _require_object(obj: Any) -> dict:
    if not isinstance(obj, dict):
        raise LineError("line", "must be a JSON object")
    return obj


def _clean_messages(value: Any, field: str) -> list[dict[str, str]]:
    if not isinstance(value, list) or not value:
        raise LineError(field, "must be a non-empty list of {role, content} messages")
    messages = []
    for i, message in enumerate(value):
        if not isinstance(message, dict):
            raise LineError(f"{field}[{i}]", "must be an object with role and content")
        role, content = message.get("role"), message.get("content")
        if role not in ROLES:
            raise LineError(
                f"{field}[{i}].role", f"must be one of {', '.join(ROLES)}, not {role!r}"
            )
        if not isinstance(content, str):
            raise LineError(f"{field}[{i}].content", "must be a string")
        messages.append({"role": role, "content": content})
    return messages


def _clean_id(value: Any, field: str, max_length: int = 200) -> str:
    """Ids are stored in columns of ``max_length`` characters (a username's is 150)."""
    if isinstance(value, bool) or not isinstance(value, (str, int)) or str(value).strip() == "":
        raise LineError(field, "must be a non-empty string")
    value = str(value).strip()
    if len(value) > max_length:
        raise LineError(field, f"is longer than {max_length} characters")
    return value


def _clean_annotator(value: Any, field: str) -> str:
    return _clean_id(value, field, max_length=USERNAME_LENGTH)


def _clean_model_name(value: Any, field: str) -> str:
    value = value or ""
    if not isinstance(value, str):
        raise LineError(field, "must be a string")
    if len(value) > MODEL_NAME_LENGTH:
        raise LineError(field, f"is longer than {MODEL_NAME_LENGTH} characters")
    return value


def _check_count(completions: list) -> None:
    n = len(completions)
    if not MIN_COMPLETIONS <= n <= MAX_COMPLETIONS:
        noun = "item" if n == 1 else "items"
        raise LineError("completions", f"{n} {noun}, need {MIN_COMPLETIONS} to {MAX_COMPLETIONS}")


def parse_rankwise(obj: Any, *, annotator: str | None = None) -> Iterable[PromptRecord]:
    obj = _require_object(obj)
    external_id = _clean_id(obj.get("id"), "id")
    has_prompt, has_messages = "prompt" in obj, "messages" in obj
    if has_prompt == has_messages:
        raise LineError("prompt", "give exactly one of prompt (text) or messages (conversation)")
    text, messages = "", None
    if has_prompt:
        if not isinstance(obj["prompt"], str) or not obj["prompt"].strip():
            raise LineError("prompt", "must be a non-empty string")
        text = obj["prompt"]
    else:
        messages = _clean_messages(obj["messages"], "messages")

    raw = obj.get("completions")
    if not isinstance(raw, list):
        raise LineError("completions", "must be a list")
    _check_count(raw)
    completions = []
    for i, item in enumerate(raw):
        if isinstance(item, str):
            completions.append(CompletionRecord(str(i), item))
            continue
        if not isinstance(item, dict):
            raise LineError(f"completions[{i}]", "must be a string or an object with id and text")
        cid = _clean_id(item.get("id", str(i)), f"completions[{i}].id", max_length=100)
        if not isinstance(item.get("text"), str):
            raise LineError(f"completions[{i}].text", "must be a string")
        model = _clean_model_name(item.get("model"), f"completions[{i}].model")
        metadata = item.get("metadata") or {}
        if not isinstance(metadata, dict):
            raise LineError(f"completions[{i}].metadata", "must be an object")
        completions.append(CompletionRecord(cid, item["text"], model, metadata))
    ids = [c.external_id for c in completions]
    if len(set(ids)) != len(ids):
        raise LineError("completions", "completion ids must be unique within a prompt")

    metadata = obj.get("metadata") or {}
    if not isinstance(metadata, dict):
        raise LineError("metadata", "must be an object")

    gold = obj.get("gold_ranking")
    if gold is not None and not isinstance(gold, list):
        raise LineError("gold_ranking", "must be a list of tie groups")

    annotations = []
    raw_annotations = obj.get("annotations") or []
    if not isinstance(raw_annotations, list):
        raise LineError("annotations", "must be a list")
    seen = set()
    for i, item in enumerate(raw_annotations):
        if not isinstance(item, dict):
            raise LineError(f"annotations[{i}]", "must be an object")
        unknown = set(item) - ANNOTATION_KEYS
        if unknown:
            raise LineError(f"annotations[{i}]", f"unknown key {sorted(unknown)[0]!r}")
        name = _clean_annotator(item.get("annotator") or annotator, f"annotations[{i}].annotator")
        if name in seen:
            raise LineError(f"annotations[{i}].annotator", f"{name!r} judges this prompt twice")
        seen.add(name)
        annotations.append(
            AnnotationRecord(name, {k: v for k, v in item.items() if k not in EXPORT_ONLY_KEYS})
        )

    yield PromptRecord(
        external_id=external_id,
        text=text,
        messages=messages,
        completions=completions,
        metadata=metadata,
        annotations=annotations,
        gold_ranking=gold,
    )


def _assistant_text(value: Any, field: str) -> str:
    """TRL's conversational pairs carry chosen/rejected as [{"role": "assistant", ...}]."""
    if isinstance(value, str):
        return value
    messages = _clean_messages(value, field)
    if messages[-1]["role"] != "assistant":
        raise LineError(field, "the last message must be the assistant's reply")
    return messages[-1]["content"]


def parse_pairwise(obj: Any, *, annotator: str | None = None) -> Iterable[PromptRecord]:
    obj = _require_object(obj)
    for key in ("chosen", "rejected"):
        if key not in obj:
            raise LineError(key, "is required")
    chosen, rejected = obj["chosen"], obj["rejected"]
    prompt = obj.get("prompt")
    text, messages = "", None
    if prompt is None:
        # TRL's implicit-prompt form: the shared prefix of two conversations is the prompt.
        if not (isinstance(chosen, list) and isinstance(rejected, list)):
            raise LineError("prompt", "is required unless chosen and rejected are conversations")
        chosen, rejected = _clean_messages(chosen, "chosen"), _clean_messages(rejected, "rejected")
        n = 0
        while n < min(len(chosen), len(rejected)) - 1 and chosen[n] == rejected[n]:
            n += 1
        if n == 0:
            raise LineError("prompt", "chosen and rejected share no prompt messages")
        messages = chosen[:n]
        chosen, rejected = chosen[n:], rejected[n:]
    elif isinstance(prompt, str):
        if not prompt.strip():
            raise LineError("prompt", "must be a non-empty string")
        text = prompt
    else:
        messages = _clean_messages(prompt, "prompt")
    chosen_text = _assistant_text(chosen, "chosen")
    rejected_text = _assistant_text(rejected, "rejected")
    name = obj.get("annotator") or annotator
    if not name:
        raise LineError(
            "annotator",
            'missing: add an "annotator" to the line, or name one annotator for the whole file',
        )
    name = _clean_annotator(name, "annotator")
    external_id = obj.get("id", obj.get("prompt_id"))
    if external_id is None:
        external_id = content_id("pair", text, messages, chosen_text, rejected_text)
    yield PromptRecord(
        external_id=_clean_id(external_id, "id"),
        text=text,
        messages=messages,
        completions=[CompletionRecord("A", chosen_text), CompletionRecord("B", rejected_text)],
        metadata={k: obj[k] for k in ("source",) if k in obj},
        annotations=[AnnotationRecord(name, {"ranking": [["A"], ["B"]]})],
    )


HH_ASSISTANT = "\n\nAssistant:"
HH_TURN_PREFIXES = (("\n\nHuman:", "user"), ("\n\nAssistant:", "assistant"))


def _hh_dialogue(text: str, field: str) -> list[dict[str, str]]:
    messages: list[dict[str, str]] = []
    rest = text
    if not rest.startswith("\n\n"):
        rest = "\n\n" + rest.lstrip("\n")
    while rest:
        match = next(((p, r) for p, r in HH_TURN_PREFIXES if rest.startswith(p)), None)
        if match is None:
            raise LineError(field, "is not a '\\n\\nHuman: ... \\n\\nAssistant: ...' dialogue")
        prefix, role = match
        rest = rest[len(prefix) :]
        cut = min(
            (i for i in (rest.find(p) for p, _ in HH_TURN_PREFIXES) if i >= 0), default=len(rest)
        )
        messages.append({"role": role, "content": rest[:cut].strip()})
        rest = rest[cut:]
    return messages


def parse_hh_rlhf(obj: Any, *, annotator: str | None = None) -> Iterable[PromptRecord]:
    obj = _require_object(obj)
    for key in ("chosen", "rejected"):
        if not isinstance(obj.get(key), str):
            raise LineError(key, "must be a dialogue string")
    chosen, rejected = obj["chosen"], obj["rejected"]
    cut_c, cut_r = chosen.rfind(HH_ASSISTANT), rejected.rfind(HH_ASSISTANT)
    if cut_c < 0:
        raise LineError("chosen", "has no '\\n\\nAssistant:' turn")
    if cut_r < 0:
        raise LineError("rejected", "has no '\\n\\nAssistant:' turn")
    if chosen[:cut_c] != rejected[:cut_r]:
        raise LineError("rejected", "does not share the dialogue before the last Assistant turn")
    messages = _hh_dialogue(chosen[:cut_c], "chosen")
    name = _clean_annotator(annotator or "hh-rlhf", "annotator")
    yield PromptRecord(
        external_id=content_id("hh", chosen, rejected),
        text="",
        messages=messages,
        completions=[
            CompletionRecord("A", chosen[cut_c + len(HH_ASSISTANT) :].strip()),
            CompletionRecord("B", rejected[cut_r + len(HH_ASSISTANT) :].strip()),
        ],
        metadata={"source": "hh-rlhf"},
        annotations=[AnnotationRecord(name, {"ranking": [["A"], ["B"]]})],
    )


OASST_ROLES = {"prompter": "user", "assistant": "assistant"}


def _oasst_message(message: Any, path: str) -> tuple[str, str, list]:
    """(role, text, replies) of one tree message, checked; ``path`` names it in errors."""
    at = f"{path}." if path else ""
    if not isinstance(message, dict):
        raise LineError(path or "line", "must be an Open-Assistant message object")
    role = OASST_ROLES.get(message.get("role"))
    if role is None:
        raise LineError(f"{at}role", f"must be prompter or assistant, not {message.get('role')!r}")
    if not isinstance(message.get("text"), str):
        raise LineError(f"{at}text", "must be a string")
    replies = message.get("replies") or []
    if not isinstance(replies, list):
        raise LineError(f"{at}replies", "must be a list")
    return role, message["text"], replies


def _oasst_rank(reply: dict, path: str) -> int:
    rank = reply["rank"]
    if isinstance(rank, bool) or not isinstance(rank, int):
        raise LineError(f"{path}.rank", "must be an integer")
    return rank


def parse_oasst(obj: Any, *, annotator: str | None = None) -> Iterable[PromptRecord]:
    """Open-Assistant message trees: every prompter turn with 2+ ranked replies is a prompt."""
    obj = _require_object(obj)
    wrapped = "prompt" in obj  # the tree export wraps the root message in "prompt"
    root = obj["prompt"] if wrapped else obj
    if not isinstance(root, dict) or "message_id" not in root or "role" not in root:
        raise LineError("message_id", "not an Open-Assistant message tree")
    name = _clean_annotator(annotator or "oasst-consensus", "annotator")

    stack: list[tuple[dict, str, list[dict[str, str]]]] = [(root, "prompt" if wrapped else "", [])]
    while stack:
        message, path, history = stack.pop()
        role, text, replies = _oasst_message(message, path)
        at = f"{path}." if path else ""
        message_id = _clean_id(message.get("message_id"), f"{at}message_id")
        path_messages = [*history, {"role": role, "content": text}]
        paths = [f"{at}replies[{i}]" for i in range(len(replies))]
        for reply, reply_path in zip(replies, paths, strict=True):
            _oasst_message(reply, reply_path)
        ranked = [
            (r, p) for r, p in zip(replies, paths, strict=True)
            if r.get("role") == "assistant" and r.get("rank") is not None
        ]  # fmt: skip
        if role == "user" and len(ranked) >= MIN_COMPLETIONS:
            yield _oasst_prompt(message_id, path_messages, ranked[:MAX_COMPLETIONS], message, name)
        for reply, reply_path in reversed(list(zip(replies, paths, strict=True))):
            stack.append((reply, reply_path, path_messages))


def _oasst_prompt(
    message_id: str, path: list[dict[str, str]], ranked: list[tuple[dict, str]], message: dict,
    name: str,
) -> PromptRecord:  # fmt: skip
    completions = []
    groups: dict[int, list[str]] = {}
    for cid, (reply, reply_path) in zip(letters(len(ranked)), ranked, strict=True):
        rank = _oasst_rank(reply, reply_path)
        reply_id = _clean_id(reply.get("message_id"), f"{reply_path}.message_id")
        model = _clean_model_name(reply.get("model_name"), f"{reply_path}.model_name")
        completions.append(
            CompletionRecord(
                cid, reply["text"], model, {"message_id": reply_id, "oasst_rank": rank}
            )
        )
        groups.setdefault(rank, []).append(cid)
    lang = message.get("lang")
    return PromptRecord(
        external_id=message_id,
        text=path[0]["content"] if len(path) == 1 else "",
        messages=None if len(path) == 1 else path,
        completions=completions,
        metadata={"source": "oasst", "lang": lang if isinstance(lang, str) else None},
        annotations=[AnnotationRecord(name, {"ranking": [groups[k] for k in sorted(groups)]})],
    )


FORMATS: dict[str, Callable[..., Iterable[PromptRecord]]] = {
    "rankwise": parse_rankwise,
    "pairwise": parse_pairwise,
    "hh-rlhf": parse_hh_rlhf,
    "oasst": parse_oasst,
    "helpsteer3": parse_helpsteer3,
}
