"""Lines as they settle on an agent's screen: what `caoctl logs --agent X -f` prints.

A TUI draws a line, may redraw it many times (a spinner, a timer, an input
box moved down by new text) and erases parts of its screen. Printing rows
only once they scroll off the top is a whole screen late; printing every
change floods. The rule here:

- A row prints once it has kept the same text for SETTLE seconds. A line
  being written grows faster than that, a spinner turns faster, so neither
  prints half-drawn; a finished line prints a quarter of a second after it
  is drawn.
- A row repainted in place with the same shape (the same once digits and
  symbols are dropped: a spinner's glyph, a timer's seconds, a progress bar)
  is live: it prints only after LIVE_SETTLE seconds unchanged (its final
  state), never on each tick.
- Each line prints once. A printed line that moves (new text pushed it down,
  the screen was cleared and redrawn) is not printed again; one that was
  erased in place (an input box, a footer) is remembered and not printed
  when it comes back. Blank rows never print.
- Lines that scroll off the top before they settled print then, in order.

Times are passed in (`now`), so the rule is tested on a real AgentScreen
without a clock.
"""

from __future__ import annotations

import re
from collections import Counter, OrderedDict
from dataclasses import dataclass

from caod.screen import AgentScreen

SETTLE = 0.25  # seconds a row keeps its text before it prints
LIVE_SETTLE = 2.0  # the same, for a row that ticks in place
REMEMBER = 1000  # erased lines remembered, so a redrawn input box prints once
_DIGITS = re.compile(r"\d+")


def shape(text: str) -> str:
    """The text with digit runs as one 0 and everything but letters and digits dropped."""
    return "".join(c for c in _DIGITS.sub("0", text) if c.isalnum())


def _ticked(old: str, new: str) -> bool:
    """`new` repaints `old` in place (a spinner or a counter), rather than writing on."""
    if not old.strip() or not new.strip():
        return False
    if new.startswith(old.rstrip()) or old.startswith(new.rstrip()):
        return False  # a line being typed out (or cut back): not a tick
    return shape(old) == shape(new)


@dataclass
class _Row:
    text: str
    since: float  # when the row got this text
    printed: bool = False
    live: bool = False

    def due(self) -> float:
        return self.since + (LIVE_SETTLE if self.live else SETTLE)


class SettledLines:
    """Feed an AgentScreen's state after each change (`update`); get the lines to print."""

    def __init__(self, screen: AgentScreen, already_shown: list[str] = ()):
        self._screen = screen
        self._rows: list[_Row] = []
        self._scrolled = self._scroll_count()
        self._seen = Counter(t for t in already_shown if t.strip())  # printed before following began
        self._erased: OrderedDict[str, None] = OrderedDict()

    def _scroll_count(self) -> int:
        first, lines, _ = self._screen.history_and_lines()
        return first + len(lines) - self._screen.rows

    def next_due(self) -> float | None:
        """When the next row would settle (for a reader's select timeout); None if none waits."""
        dues = [r.due() for r in self._rows if not r.printed]
        return min(dues) if dues else None

    def update(self, now: float, final: bool = False) -> list[str]:
        """Take in the screen as it is now; return the lines to print, in order.

        With `final` (the agent is gone), every row not printed yet prints.
        """
        first, lines, _ = self._screen.history_and_lines()
        height = self._screen.rows
        rows = lines[len(lines) - height:]
        scrolled = first + len(lines) - height
        moved = scrolled - self._scrolled
        self._scrolled = scrolled
        out = self._scrolled_off(lines[: len(lines) - height], moved)
        old_rows = self._rows[moved:] if moved < len(self._rows) else []
        # Printed texts that left their row: they may have moved (kept as printed) or been erased.
        left = Counter(r.text for y, r in enumerate(old_rows) if r.printed and (y >= height or rows[y] != r.text))
        new_rows: list[_Row] = []
        for y, text in enumerate(rows):
            old = old_rows[y] if y < len(old_rows) else None
            if old is not None and old.text == text:
                new_rows.append(old)
                continue
            row = _Row(text, now, live=old is not None and _ticked(old.text, text))
            if not text.strip():
                row.printed = True  # nothing to print
            elif left[text] > 0:
                left[text] -= 1
                row.printed = True
            elif self._seen[text] > 0:
                self._seen[text] -= 1
                row.printed = True
            elif text in self._erased:
                self._erased.move_to_end(text)
                row.printed = True
            new_rows.append(row)
        for text, count in left.items():
            if count > 0:
                self._erased[text] = None
                self._erased.move_to_end(text)
        while len(self._erased) > REMEMBER:
            self._erased.popitem(last=False)
        self._rows = new_rows
        for row in new_rows:
            if not row.printed and (final or now >= row.due()):
                row.printed = True
                out.append(row.text)
        return out

    def _scrolled_off(self, history: list[str], moved: int) -> list[str]:
        """The lines that left the top since the last update and were not printed yet."""
        if moved <= 0:
            return []
        gone = history[len(history) - moved:] if moved <= len(history) else history
        skipped = moved - len(gone)  # more scrolled than the scrollback holds: the oldest are lost
        out = []
        for i, text in enumerate(gone, start=skipped):
            row = self._rows[i] if i < len(self._rows) else None
            if row is not None and row.printed and row.text == text:
                continue
            if text.strip():
                out.append(text)
        return out
