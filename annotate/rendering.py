"""Model text as the pages show it: markdown rendered and sanitised once, when it is stored.

Import (and so generation, which imports its outputs) stores ``Prompt.html`` /
``Prompt.messages_html`` / ``Completion.html`` beside the text; the next-task answer reads them
instead of running markdown + nh3 over five texts per request. Rows stored before the columns
existed have them empty: the readers below render those on the fly (correct, only slower) until
``manage.py render_texts`` backfills them.
"""

from __future__ import annotations

from annotate.templatetags.rankwise_markdown import render_markdown


def text_html(text: str | None) -> str:
    return render_markdown(text or "")


def messages_html(messages) -> list[str] | None:
    if not messages:
        return None
    return [text_html(str(m.get("content", ""))) for m in messages]


def stored_text_html(text: str | None, html: str | None) -> str:
    """The stored rendering, or a fresh one for a row stored before rendering was stored."""
    if html or not text:
        return html or ""
    return text_html(text)


def stored_messages_html(messages, stored) -> list[str] | None:
    if not messages:
        return None
    if isinstance(stored, list) and len(stored) == len(messages):
        return [str(h) for h in stored]
    return messages_html(messages)
