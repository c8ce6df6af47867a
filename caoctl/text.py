"""Text made safe and measured for a terminal; light to import (errors use it before any command loads)."""

from __future__ import annotations

from typing import Any


def visible(value: Any) -> str:
    """Text safe to print: control and format characters (an escape sequence, a bidi
    override) are shown as escapes like \\x1b instead of acting on the terminal."""
    text = str(value)
    if text.isprintable():
        return text
    return "".join(c if c.isprintable() else repr(c)[1:-1] for c in text)


def display_width(text: str) -> int:
    """Columns `text` takes on a terminal: a wide (CJK) character takes two."""
    if text.isascii() and text.isprintable():
        return len(text)  # the common case, without wcwidth's tables (a few ms to import)
    from wcwidth import wcswidth

    width = wcswidth(text)
    return width if width >= 0 else len(text)
