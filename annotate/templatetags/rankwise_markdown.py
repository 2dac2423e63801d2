"""Markdown for people's text (instructions) and for model output (untrusted), both sanitised.

Model output is rendered for readability (paragraphs, lists, code blocks) but any HTML in it
is shown as text: raw HTML is escaped before it can become markup, then nh3 removes whatever
markup Markdown produced outside a short allow-list (no images, no styles, no event handlers,
only http(s)/mailto links). Instructions, written by project admins, may use a little more.
"""

from __future__ import annotations

import threading

import markdown
import nh3
from django import template
from django.utils.safestring import mark_safe

register = template.Library()

_TEXT_TAGS = {
    "p", "br", "hr", "strong", "em", "b", "i", "code", "pre", "blockquote", "ul", "ol", "li",
    "h1", "h2", "h3", "h4", "h5", "h6", "a", "table", "thead", "tbody", "tr", "th", "td", "del",
}  # fmt: skip
_ATTRIBUTES = {"a": {"href", "title"}, "code": {"class"}, "th": {"align"}, "td": {"align"}}
_SCHEMES = {"http", "https", "mailto"}
_EXTENSIONS = ["fenced_code", "tables", "sane_lists", "nl2br"]


def _converter(*, allow_html: bool) -> markdown.Markdown:
    md = markdown.Markdown(extensions=_EXTENSIONS, output_format="html")
    if not allow_html:
        # Without these, "<script>" in the text is escaped to "&lt;script&gt;" (inert text)
        # instead of being passed through as markup.
        md.preprocessors.deregister("html_block")
        md.inlinePatterns.deregister("html")
    return md


# Building a converter registers dozens of processors, several times the cost of converting a
# 500-character output; one per thread and kind, reset between uses (not thread-safe).
_converters = threading.local()


def _cached_converter(*, allow_html: bool) -> markdown.Markdown:
    key = "html" if allow_html else "text"
    md = getattr(_converters, key, None)
    if md is None:
        md = _converter(allow_html=allow_html)
        setattr(_converters, key, md)
    return md.reset()


def render_markdown(text: str, *, allow_html: bool = False) -> str:
    """Sanitised HTML for ``text``; safe to insert into a page."""
    html = _cached_converter(allow_html=allow_html).convert(text or "")
    return nh3.clean(
        html,
        tags=_TEXT_TAGS,
        attributes=_ATTRIBUTES,
        url_schemes=_SCHEMES,
        link_rel="noopener noreferrer nofollow",
        strip_comments=True,
    )


@register.filter(name="markdown")
def markdown_filter(text: str) -> str:
    """Admin-written markdown (instructions): inline HTML allowed, then sanitised."""
    return mark_safe(render_markdown(text, allow_html=True))  # sanitised by nh3 above


@register.filter(name="model_markdown")
def model_markdown_filter(text: str) -> str:
    """Untrusted text (model output, prompts): HTML in it is shown as text."""
    return mark_safe(render_markdown(text, allow_html=False))  # sanitised by nh3 above
