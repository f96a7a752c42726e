"""Small readers of the rendered pages, shared by the page tests (tests/views only)."""

from __future__ import annotations

import html
import re

from refunds.models import CaseEvent, EventKind

_ALERT = re.compile(
    r'<div class="alert alert-(?P<level>\w+)[^"]*" role="alert">\s*(?P<text>.*?)\s*<button',
    re.S,
)
_ROW = re.compile(r'<tr data-case="(\d+)">(.*?)</tr>', re.S)
_ACTION = re.compile(r'<summary[^>]*data-action="([a-z_]+)"')


def text(response) -> str:
    return response.content.decode()


def alerts(response) -> list[tuple[str, str]]:
    """The Bootstrap alerts base.html renders for django.contrib.messages: (level, text)."""
    return [(m["level"], html.unescape(m["text"])) for m in _ALERT.finditer(text(response))]


def alert_texts(response, level: str | None = None) -> str:
    return " | ".join(t for lvl, t in alerts(response) if level is None or lvl == level)


def rows(response) -> dict[int, str]:
    """The queue's rows, in page order: case id → the row's HTML."""
    return {int(pk): body for pk, body in _ROW.findall(text(response))}


def row_ids(response) -> list[int]:
    return list(rows(response))


def action_buttons(response) -> set[str]:
    return set(_ACTION.findall(text(response)))


def transition_events(case) -> int:
    return CaseEvent.objects.filter(case=case, kind=EventKind.TRANSITION).count()


def event_count(case) -> int:
    return CaseEvent.objects.filter(case=case).count()
