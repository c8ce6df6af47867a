"""An agent's rendered screen: pyte, a plain-text scrollback, and frame boundaries.

Frame boundaries come from DEC private mode 2026 (synchronized output): a frame
ends at `CSI ? 2026 l`. Programs that never emit it are framed by the caller's
quiescence timer instead.
"""

from __future__ import annotations

import re
from collections import deque

import pyte
from pyte.screens import Margins

from caod.logs import log

SYNC_BEGIN = b"\x1b[?2026h"
SYNC_END = b"\x1b[?2026l"
_MARK_TAIL = len(SYNC_BEGIN) - 1
BRACKETED_PASTE = 2004 << 5  # how pyte stores private mode 2004
# CSI sequences with a `<` or `=` marker (the kitty keyboard protocol's `CSI < u` and
# `CSI = 1 ; 1 u`, which Gemini CLI sends): pyte takes the marker for the final byte and
# draws the rest ("u", "1;1u") as text into the CLI's input box. They change nothing on
# screen, so they are dropped before pyte sees them.
_MARKED_CSI = re.compile(rb"\x1b\[[<=][0-9;:]*[@-~]")
_PARTIAL_CSI = re.compile(rb"\x1b(?:\[(?:[<=][0-9;:]*)?)?\Z")


class _Screen(pyte.Screen):
    """pyte.Screen that keeps lines scrolled off the top as plain strings.

    pyte's HistoryScreen keeps whole cell dicts per line; plain text is all
    answer extraction needs and costs a fraction of the memory.
    """

    def __init__(self, columns: int, lines: int, history: int):
        # (text, continues, style): `continues` marks a row that an auto-wrap began,
        # i.e. the rest of the previous row's line, not a new line; `style` is row_style's.
        self.history: deque[tuple[str, bool, str]] = deque(maxlen=history)
        self.scrolled = 0  # lines ever scrolled off (to place answers in time)
        self._drawing = False
        super().__init__(columns, lines)

    # Replies to terminal queries (cursor position, device attributes); set by the owner.
    reply = None

    def write_process_input(self, data: str) -> None:
        if self.reply is not None:
            self.reply(data)

    def continues(self, y: int) -> bool:
        row = self.buffer.get(y)
        return bool(row is not None and getattr(row, "continues", False))

    def draw(self, data: str) -> None:
        if self.cursor.x == 0:  # a fresh write at the start of a row: not a continuation
            row = self.buffer.get(self.cursor.y)
            if row is not None and getattr(row, "continues", False):
                row.continues = False
        self._drawing = True
        try:
            super().draw(data)
        finally:
            self._drawing = False

    def linefeed(self) -> None:
        super().linefeed()
        if self._drawing:  # pyte wraps by CR+LF inside draw(): mark the new row
            self.buffer[self.cursor.y].continues = True

    def erase_in_line(self, how: int = 0, private: bool = False) -> None:
        super().erase_in_line(how, private)
        row = self.buffer.get(self.cursor.y)
        if how in (1, 2) and row is not None:
            row.continues = False

    def row_text(self, y: int) -> str:
        """Row `y` as text. Built from pyte's sparse row dict: `display` walks
        every cell through wcwidth and costs ~20x more. A wide character's
        stub cell holds "" and so drops out by itself."""
        row = self.buffer.get(y)
        if not row:
            return ""
        cells = [" "] * self.columns
        for x, ch in row.items():
            if x < self.columns:
                cells[x] = ch.data
        return "".join(cells).rstrip()

    def row_style(self, y: int) -> str:
        """The look of row `y`'s first drawn character: `fg=<colour> bg=<colour>`, then ` bold`,
        ` italics`, ` reverse` when set ("" for a blank row). Some CLIs set a turn apart only
        this way (omp draws the user's turn on a background colour); see Answer.after_style."""
        row = self.buffer.get(y)
        if not row:
            return ""
        for x in sorted(row):
            ch = row[x]
            if ch.data.strip() and x < self.columns:
                look = f"fg={ch.fg} bg={ch.bg}"
                return look + "".join(f" {name}" for name in ("bold", "italics", "reverse") if getattr(ch, name))
        return ""

    def index(self) -> None:
        top, bottom = self.margins or Margins(0, self.lines - 1)
        if self.cursor.y == bottom and top == 0:
            self.history.append((self.row_text(0), self.continues(0), self.row_style(0)))
            self.scrolled += 1
        super().index()

    def resize(self, lines: int | None = None, columns: int | None = None) -> None:
        """Shrink like a real terminal: rows below the cursor go first, then
        the top scrolls into history (pyte alone drops the top rows, which
        would erase an inline TUI's whole conversation)."""
        lines = lines or self.lines
        scroll = 0
        if lines < self.lines:
            excess = self.lines - lines
            cut_bottom = min(excess, self.lines - 1 - self.cursor.y)
            for y in range(self.lines - cut_bottom, self.lines):
                self.buffer.pop(y, None)
            self.lines -= cut_bottom
            scroll = excess - cut_bottom
            for y in range(scroll):
                self.history.append((self.row_text(y), self.continues(y), self.row_style(y)))
                self.scrolled += 1
        cursor_y = self.cursor.y
        super().resize(lines, columns)
        self.cursor.y = min(max(0, cursor_y - scroll), self.lines - 1)

    def erase_in_display(self, how: int = 0, *args, **kwargs) -> None:  # type: ignore[override]
        if how == 3:  # "clear scrollback" (xterm): the visible screen stays as it is
            self.history.clear()
            return
        super().erase_in_display(how, *args, **kwargs)
        if how == 2:
            for row in self.buffer.values():
                row.continues = False


def _tolerate_private(cls: type) -> type:
    """pyte passes private=True to whatever CSI handler a sequence with "?" ends
    in (Gemini CLI sends ESC[>4;?m at start); most handlers do not take it.
    Those sequences are xterm extensions pyte does not model: ignore them."""
    for name in set(pyte.Stream.csi.values()):
        original = getattr(cls, name, None)
        if original is None or name in ("set_mode", "reset_mode", "erase_in_line", "erase_in_display",
                                        "report_device_attributes"):
            continue

        def tolerant(self, *args, _original=original, private=False, **kwargs):
            if private:
                return None
            return _original(self, *args, **kwargs)

        setattr(cls, name, tolerant)
    return cls


_tolerate_private(_Screen)


class AgentScreen:
    def __init__(self, cols: int, rows: int, history: int = 500, *, fast: bool = True):
        # fast=False: pyte's own parser and draw only (the reference the fast route is tested against)
        self.fast = fast
        if fast:
            from caod.screen_fast import FastScreen, FastStream

            self._screen = FastScreen(cols, rows, history)
            self._new_stream = FastStream
        else:
            self._screen = _Screen(cols, rows, history)
            self._new_stream = pyte.ByteStream
        self._stream = self._new_stream(self._screen)
        self.in_sync = False
        self._tail = b""
        self._lines: list[str] | None = None  # rendered rows, until the next change
        self._held = b""  # the start of an escape sequence cut by a chunk's end

    def on_query_reply(self, fn) -> None:
        """`fn(text)` receives what a terminal would answer to the program's queries."""
        self._screen.reply = fn

    @property
    def cols(self) -> int:
        return self._screen.columns

    @property
    def rows(self) -> int:
        return self._screen.lines

    @property
    def title(self) -> str:
        """The window title the program set last (OSC 0 or 2); "" if none."""
        return self._screen.title

    @property
    def bracketed_paste(self) -> bool:
        return BRACKETED_PASTE in self._screen.mode

    def _feed(self, data: bytes) -> None:
        if self._held:
            data, self._held = self._held + data, b""
        if b"\x1b[<" in data or b"\x1b[=" in data:
            data = _MARKED_CSI.sub(b"", data)
        if b"\x1b" in data[-32:]:
            partial = _PARTIAL_CSI.search(data, max(0, len(data) - 32))
            if partial is not None:  # finished by the next chunk: filter it whole
                data, self._held = data[: partial.start()], data[partial.start() :]
        try:
            self._stream.feed(data)
        except Exception as e:  # pyte's parser is a generator: an error would end it for good
            log.warning("terminal parser error; parser restarted", error=repr(e))
            self._stream = self._new_stream(self._screen)

    def feed(self, data: bytes, on_frame_end) -> bool:
        """Feed output; call `on_frame_end()` after the last complete sync frame in it.

        Frames that end earlier in the same chunk are already stale, so only
        the last one is evaluated. Returns True when output came after that
        point (the screen changed since the last frame boundary).
        """
        self._lines = None
        scan = self._tail + data
        end = scan.rfind(SYNC_END)
        if end < 0:
            self._feed(data)
            begin = scan.rfind(SYNC_BEGIN)
            if begin >= 0:
                self.in_sync = True
            self._tail = scan[-_MARK_TAIL:]
            return True
        else:
            cut = end + len(SYNC_END) - len(self._tail)  # index in `data` just past the marker
            if cut > 0:
                self._feed(data[:cut])
            self.in_sync = False
            on_frame_end()
            rest = data[max(cut, 0) :]
            if rest:
                self._lines = None
                self._feed(rest)
            self.in_sync = scan.rfind(SYNC_BEGIN) > end
            self._tail = scan[-_MARK_TAIL:]
            return bool(rest)

    def lines(self) -> list[str]:
        """The screen's rows, right-trimmed (rendered once per change)."""
        if self._lines is None:
            self._lines = [self._screen.row_text(y) for y in range(self._screen.lines)]
        return list(self._lines)

    def logical_lines(self) -> list[str]:
        """The screen's lines as the program wrote them: a row the terminal began by
        auto-wrapping (a line longer than the screen, as after a viewer narrowed it) is
        joined to the row above, so a pattern never meets a word cut in two."""
        s = self._screen
        rows = self.lines()
        out: list[str] = []
        for y, row in enumerate(rows):
            if out and s.continues(y):
                out[-1] = out[-1].ljust(s.columns) + row
            else:
                out.append(row)
        return out

    def text(self) -> str:
        lines = self.lines()
        while lines and not lines[-1]:
            lines.pop()
        return "\n".join(lines)

    def history_and_lines(self) -> tuple[int, list[str], list[bool]]:
        """(absolute index of the first line, scrollback + screen rows, which rows
        continue the row above after an auto-wrap)."""
        s = self._screen
        hist = list(s.history)
        lines = [text for text, _, _ in hist] + self.lines()
        continued = [cont for _, cont, _ in hist] + [s.continues(y) for y in range(s.lines)]
        return s.scrolled - len(hist), lines, continued

    def styles(self) -> list[str]:
        """Each row's style (see _Screen.row_style), aligned with history_and_lines()'s rows."""
        s = self._screen
        return [style for _, _, style in s.history] + [s.row_style(y) for y in range(s.lines)]

    @property
    def cursor(self) -> tuple[int, int]:
        return self._screen.cursor.y, self._screen.cursor.x

    def resize(self, rows: int, cols: int) -> None:
        self._lines = None
        self._screen.resize(rows, cols)

    def ansi_redraw(self) -> bytes:
        """Bytes that paint the current screen on a fresh terminal (for attach)."""
        s = self._screen
        out = ["\x1b[0m\x1b[H\x1b[2J"]
        for y in range(s.lines):
            row = s.buffer[y]
            out.append(f"\x1b[{y + 1};1H")
            prev = None
            for x in range(s.columns):
                ch = row[x]
                if not ch.data:  # the stub after a wide character
                    continue
                sgr = _sgr(ch)
                if sgr != prev:
                    out.append(sgr)
                    prev = sgr
                out.append(ch.data)
            out.append("\x1b[0m")
        out.append(f"\x1b[{s.cursor.y + 1};{s.cursor.x + 1}H")
        return "".join(out).encode("utf-8", "replace")


_FG = {name: 30 + i for i, name in enumerate(("black", "red", "green", "brown", "blue", "magenta", "cyan", "white"))}


def _colour(value: str, base: int) -> str | None:
    if value == "default":
        return None
    if value in _FG:
        return str(_FG[value] - 30 + base)
    if len(value) == 6:  # pyte stores 256-colour and truecolour as hex
        try:
            r, g, b = int(value[0:2], 16), int(value[2:4], 16), int(value[4:6], 16)
        except ValueError:
            return None
        return f"{base + 8};2;{r};{g};{b}"
    return None


def _sgr(ch) -> str:
    codes = ["0"]
    if ch.bold:
        codes.append("1")
    if ch.italics:
        codes.append("3")
    if ch.underscore:
        codes.append("4")
    if ch.reverse:
        codes.append("7")
    fg = _colour(ch.fg, 30)
    bg = _colour(ch.bg, 40)
    if fg:
        codes.append(fg)
    if bg:
        codes.append(bg)
    return "\x1b[" + ";".join(codes) + "m"
