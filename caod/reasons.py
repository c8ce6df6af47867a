"""What a person or a supervisor reads about an agent's status: the question it shows,
why it is in error, what it printed before it died. Taken from its rendered screen."""

from __future__ import annotations

import re
from typing import Any

from providers.base import CompiledProvider

from caod.screen import AgentScreen
from caod.status import Status

_WORDS = re.compile(r"[^\W\d_]{2,}")  # a line with a word of two letters or more


def explained(provider: CompiledProvider, screen: AgentScreen, new: Status,
              detail: dict[str, Any] | None) -> dict[str, Any]:
    """An event's detail, with what the screen says of a question (`question`) or an error
    (`reason`), unless the detail already says it."""
    detail = dict(detail or {})
    key = {Status.WAITING: "question", Status.ERROR: "reason"}.get(new)
    if key is not None and key not in detail:
        shown = provider.shown(new, screen.logical_lines(), screen.title, screen.cols)
        if shown:
            detail[key] = shown
    return detail


def screen_tail(screen: AgentScreen, count: int = 12) -> str:
    """The last lines of the screen with words on them (not logo art)."""
    lines = [line.strip() for line in screen.lines() if _WORDS.search(line)]
    return "\n".join(lines[-count:])
