"""The choices of a prompt as drawn: numbered lines such as "❯ 1. Yes" or "2) No"."""

from __future__ import annotations

import re

# A cursor or a radio mark may stand before the number; the label follows it.
_CHOICE = re.compile(r"^\s*(?:[❯›>▸▶●○◉◯*-]\s*)?(\d{1,2})[.)]\s+(\S.*?)\s*$")


def options_of(question: str | None) -> list[str]:
    """["1. Yes", "2. No"] for a question showing numbered choices; [] when it shows none."""
    found: list[str] = []
    for line in (question or "").splitlines():
        m = _CHOICE.match(line)
        if m:
            found.append(f"{m.group(1)}. {m.group(2)}")
    return found
