"""Turning message text into PTY input that cannot inject keystrokes.

Text goes in as one bracketed paste followed by the provider's submit key.
Everything that could end the paste early or act as a key is removed first:
the paste markers themselves, ESC, every other C0 control except newline and
tab, DEL, and the C1 controls (U+0080..U+009F, which some terminals and TUIs
treat like ESC sequences).
"""

from __future__ import annotations

import re

PASTE_BEGIN = "\x1b[200~"
PASTE_END = "\x1b[201~"

_MARKERS = re.compile(r"\x1b?\[20[01]~")
_CONTROLS = re.compile(r"[\x00-\x08\x0b-\x1f\x7f-\x9f]")


def sanitize(text: str) -> str:
    """The text with line endings normalised and every control removed."""
    text = text.replace("\r\n", "\n").replace("\r", "\n")
    # Until nothing changes: removing a marker or a control (as in
    # "\x1b[20\x001~" or nested markers) must not leave a new marker behind.
    while True:
        cleaned = _MARKERS.sub("", _CONTROLS.sub("", _MARKERS.sub("", text)))
        if cleaned == text:
            return cleaned
        text = cleaned


def encode_input(text: str, bracketed: bool) -> bytes:
    """Sanitised text as PTY bytes (without the submit key).

    Programs that never enabled bracketed paste would see the markers as
    keys, so they get the plain text with newlines folded into spaces (a
    newline would submit early).
    """
    clean = sanitize(text)
    if bracketed:
        return (PASTE_BEGIN + clean + PASTE_END).encode("utf-8")
    return clean.replace("\n", " ").encode("utf-8")
