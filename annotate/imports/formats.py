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
from annotate.imports.records import AnnotationRecord, CompletionRecord, LineError, PromptRecord

ROLES = ("system", "user", "assistant")
ANNOTATION_KEYS = {
    "annotator", "ranking", "ratings", "flags", "comment", "time_ms", "skipped", "skip_reason",
    "shown_order", "created_at",
}  # fmt: skip


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


def _clean_id(value: Any, field: str) -> str:
    if isinstance(value, bool) or not isinstance(value, (str, int)) or str(value).strip() == "":
        raise LineError(field, "must be a non-empty string")
    value = str(value).strip()
    if len(value) > 200:
        raise LineError(field, "is longer than 200 characters")
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
        cid = _clean_id(item.get("id", str(i)), f"completions[{i}].id")
        if len(cid) > 100:
            raise LineError(f"completions[{i}].id", "is longer than 100 characters")
        if not isinstance(item.get("text"), str):
            raise LineError(f"completions[{i}].text", "must be a string")
        model = item.get("model") or ""
        if not isinstance(model, str):
            raise LineError(f"completions[{i}].model", "must be a string")
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
        name = item.get("annotator") or annotator
        name = _clean_id(name, f"annotations[{i}].annotator")
        if name in seen:
            raise LineError(f"annotations[{i}].annotator", f"{name!r} judges this prompt twice")
        seen.add(name)
        annotations.append(
            AnnotationRecord(name, {k: v for k, v in item.items() if k != "annotator"})
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
        raise LineError("annotator", "missing: add an annotator field or pass --annotator")
    name = _clean_id(name, "annotator")
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
    name = _clean_id(annotator or "hh-rlhf", "annotator")
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


def parse_oasst(obj: Any, *, annotator: str | None = None) -> Iterable[PromptRecord]:
    """Open-Assistant message trees: every prompter turn with 2+ ranked replies is a prompt."""
    obj = _require_object(obj)
    root = obj.get("prompt", obj)  # tree export wraps the root message in "prompt"
    if not isinstance(root, dict) or "message_id" not in root or "role" not in root:
        raise LineError("message_id", "not an Open-Assistant message tree")
    name = _clean_id(annotator or "oasst-consensus", "annotator")

    stack: list[tuple[dict, list[dict[str, str]]]] = [(root, [])]
    while stack:
        message, history = stack.pop()
        role = OASST_ROLES.get(message.get("role"))
        if role is None or not isinstance(message.get("text"), str):
            raise LineError("role", f"message {message.get('message_id')!r} has no role/text")
        path = [*history, {"role": role, "content": message["text"]}]
        replies = [r for r in message.get("replies") or [] if isinstance(r, dict)]
        ranked = [r for r in replies if r.get("role") == "assistant" and r.get("rank") is not None]
        if role == "user" and len(ranked) >= MIN_COMPLETIONS:
            ranked = ranked[:MAX_COMPLETIONS]
            ids = letters(len(ranked))
            completions = [
                CompletionRecord(
                    cid,
                    r["text"],
                    r.get("model_name") or "",
                    {"message_id": r["message_id"], "oasst_rank": r["rank"]},
                )
                for cid, r in zip(ids, ranked, strict=True)
            ]
            groups: dict[int, list[str]] = {}
            for cid, r in zip(ids, ranked, strict=True):
                groups.setdefault(int(r["rank"]), []).append(cid)
            yield PromptRecord(
                external_id=_clean_id(message["message_id"], "message_id"),
                text=path[0]["content"] if len(path) == 1 else "",
                messages=None if len(path) == 1 else path,
                completions=completions,
                metadata={"source": "oasst", "lang": message.get("lang")},
                annotations=[
                    AnnotationRecord(name, {"ranking": [groups[k] for k in sorted(groups)]})
                ],
            )
        for reply in reversed(replies):
            stack.append((reply, path))


FORMATS: dict[str, Callable[..., Iterable[PromptRecord]]] = {
    "rankwise": parse_rankwise,
    "pairwise": parse_pairwise,
    "hh-rlhf": parse_hh_rlhf,
    "oasst": parse_oasst,
}
