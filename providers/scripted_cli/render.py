"""Pure text rendering for the scripted agent: widths, boxes, frames.

Nothing here touches a file descriptor; every function returns strings so
the screens can be unit-tested without a terminal.  The exact strings are
matched by the daemon's provider patterns: change them only together.
"""

from __future__ import annotations

import unicodedata

SPINNER = "⠋⠙⠹⠸⠼⠴⠦⠧⠇⠏"
BANNER_WIDTH = 40
BANNER_TITLE = "scripted-agent"
BANNER_TEXT = "A fake coding CLI for caod tests"
MAX_BOX_WIDTH = 80
MIN_BOX_WIDTH = 8

READY_FOOTER = "  ready · ? for help"
BUSY_FOOTER = "  working · esc to interrupt"
APPROVAL_OPTIONS = ("❯ 1. Yes", "  2. No", "  (press 1 or 2 · esc to cancel)")
APPROVED_LINE = "  ✓ approved"
DECLINED_LINE = "  ✗ declined"
YOLO_LINE = "  ✓ auto-approved (yolo)"
INTERRUPTED_LINE = "  ⎿ Interrupted"
GOODBYE_LINE = "Goodbye."
CTRL_C_LINE = "^C"

SYNC_BEGIN = "\x1b[?2026h"
SYNC_END = "\x1b[?2026l"
PASTE_MODE_ON = "\x1b[?2004h"
PASTE_MODE_OFF = "\x1b[?2004l"


# -- widths -------------------------------------------------------------------

def char_width(ch):
    """Display columns of one character (0, 1 or 2)."""
    o = ord(ch)
    if o < 0x7f:
        return 1 if o >= 0x20 else 0
    if o < 0xa0 or unicodedata.combining(ch) or o in (0x200b, 0x200d, 0xfeff):
        return 0
    return 2 if unicodedata.east_asian_width(ch) in "WF" else 1


def text_width(s):
    if s.isascii():
        return len(s)
    return sum(char_width(c) for c in s)


def fit_head(s, width):
    """Longest prefix of ``s`` that fits in ``width`` columns."""
    if width <= 0:
        return ""
    if s.isascii():
        return s[:width]
    used = 0
    for i, c in enumerate(s):
        used += char_width(c)
        if used > width:
            return s[:i]
    return s


def fit_tail(s, width):
    """Longest suffix of ``s`` that fits in ``width`` columns."""
    if width <= 0:
        return ""
    if s.isascii():
        return s[-width:]
    used = 0
    for i in range(len(s) - 1, -1, -1):
        used += char_width(s[i])
        if used > width:
            return s[i + 1:]
    return s


def pad(s, width):
    return s + " " * max(0, width - text_width(s))


# -- sanitising ------------------------------------------------------------------

def clean(s):
    """Make text safe to print: control characters shown in caret notation
    (``^C``), tabs as a space, C1 controls as U+FFFD.  Newlines must have
    been split off by the caller."""
    if s.isprintable():
        return s
    out = []
    for c in s:
        o = ord(c)
        if c == "\t":
            out.append(" ")
        elif o < 0x20 or o == 0x7f:
            out.append("^" + chr(o ^ 0x40))
        elif 0x80 <= o < 0xa0:
            out.append("\ufffd")
        else:
            out.append(c)
    return "".join(out)


def one_line(s):
    """Text for a single live line: newlines shown as ``⏎``."""
    return clean(s.replace("\r\n", "\n").replace("\r", "\n").replace("\n", "⏎"))


def text_lines(s):
    return [clean(line) for line in s.replace("\r\n", "\n").replace("\r", "\n").split("\n")]


# -- static blocks ---------------------------------------------------------------

def banner_lines(extra=()):
    """The start-up box, then ``extra`` info lines (model, system prompt)."""
    title = f"─ {BANNER_TITLE} "
    top = "╭" + title + "─" * (BANNER_WIDTH - 2 - len(title)) + "╮"
    mid = "│ " + pad(BANNER_TEXT, BANNER_WIDTH - 4) + " │"
    bottom = "╰" + "─" * (BANNER_WIDTH - 2) + "╯"
    return [top, mid, bottom, *extra, ""]


def info_lines(system=None, model=None):
    """``  system: <first line of the prompt>`` and ``  model: NAME``, when given."""
    lines = []
    if system is not None:
        lines.append("  system: " + one_line(system))
    if model is not None:
        lines.append("  model: " + one_line(model))
    return lines


def _block(first_prefix, text):
    lines = text_lines(text)
    return [first_prefix + lines[0]] + ["  " + line for line in lines[1:]] + [""]


def echo_lines(text):
    """The submitted prompt as it scrolls up: ``> `` first line."""
    return _block("> ", text)


def reply_lines(text):
    return _block("● ", text)


def error_lines(message):
    return _block("✗ Error: ", message)


# -- live regions ----------------------------------------------------------------

def box_width(cols):
    return max(MIN_BOX_WIDTH, min(cols - 1, MAX_BOX_WIDTH))


def idle_lines(buffer, cols, error=None):
    width = box_width(cols)
    inner = width - 6                      # "│ > " ... " │"
    shown = one_line(buffer)
    if text_width(shown) > inner:
        shown = "…" + fit_tail(shown, inner - 1)
    footer = READY_FOOTER if error is None else "  ✗ error · " + one_line(error)
    return [
        "╭" + "─" * (width - 2) + "╮",
        "│ > " + pad(shown, inner) + " │",
        "╰" + "─" * (width - 2) + "╯",
        footer,
    ]


def busy_lines(tick, elapsed, note=None):
    """The spinner; ``note`` (a tool's progress message) goes on a line above it."""
    spin = SPINNER[tick % len(SPINNER)]
    lines = [f"{spin} Thinking… ({int(elapsed)}s · esc to interrupt)", BUSY_FOOTER]
    return lines if note is None else ["  ⎿ " + one_line(note)] + lines


def approval_lines(prompt):
    return ["? Do you want to proceed? " + one_line(prompt), *APPROVAL_OPTIONS]


# -- frames ----------------------------------------------------------------------

def frame(static, live, prev_live_height, cols, sync):
    """One redraw: erase the previous live region (cursor is at its end),
    print ``static`` lines so they scroll up, then the new live region,
    every line cut to ``cols - 1`` columns so it never wraps."""
    parts = [SYNC_BEGIN] if sync else []
    parts.append("\r")
    if prev_live_height > 1:
        parts.append(f"\x1b[{prev_live_height - 1}A")
    parts.append("\x1b[J")
    for line in static:
        parts.append(line)
        parts.append("\r\n")
    parts.append("\r\n".join(fit_head(line, cols - 1) for line in live))
    if sync:
        parts.append(SYNC_END)
    return "".join(parts)


# -- burst -----------------------------------------------------------------------

BURST_LINE = 80                         # bytes per filler line, "\r\n" included
_FILLER = ("abcdefghijklmnopqrstuvwxyz0123456789" * 3)


def burst_chunks(total, chunk_lines=1024):
    """Exactly ``total`` bytes of plain ASCII filler lines, as byte chunks.
    Full lines are ``burst 000001 abc…\\r\\n`` (80 bytes); the remainder is
    one shorter line (or a lone ``\\n`` when a single byte is left)."""
    full, rest = divmod(total, BURST_LINE)
    body = BURST_LINE - 2
    n = 0
    while n < full:
        count = min(chunk_lines, full - n)
        yield "".join(
            (f"burst {n + k + 1:06d} " + _FILLER)[:body] + "\r\n" for k in range(count)
        ).encode("ascii")
        n += count
    if rest >= 2:
        yield ((f"burst {full + 1:06d} " + _FILLER)[: rest - 2] + "\r\n").encode("ascii")
    elif rest == 1:
        yield b"\n"
