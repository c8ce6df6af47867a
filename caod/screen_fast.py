"""AgentScreen's fast route: pyte's screen model, fed without pyte's per-character parser.

pyte parses one character at a time through a generator and builds a new `Char`
namedtuple for every cell it draws; that was nearly all of a busy agent's daemon
time. Here one compiled regex cuts the decoded stream into runs of text, CSI
sequences, OSC titles and single controls, and each is dispatched to the same
pyte screen methods pyte would call, with the same arguments. Text runs are drawn
in bulk from shared cells (one `Char` per character and look). Anything else (other
escapes, C1 controls, a sequence cut by a chunk's end, characters of width 0 or
unknown, insert mode, no auto-wrap, a non-UTF-8 charset) goes to pyte's own parser or
draw, which leave the screen exactly as before. tests/caod/test_screen_differential.py
holds the two routes to the same screens.
"""

from __future__ import annotations

import re
from operator import itemgetter

import pyte
from pyte import control as ctrl
from pyte import modes as mo
from pyte.charsets import LAT1_MAP
from pyte.screens import wcwidth as _wcwidth

from caod.screen import _Screen

_DATA = itemgetter(0)  # Char.data
# Entries per cache before it starts over (truecolour SGR makes many looks); small enough
# that a chatty agent's caches stay well under the daemon's per-agent memory budget.
_CACHE_MAX = 1024
_LOOKS_MAX = 256

# What pyte's Stream takes for plain text: anything but these.
_SPECIAL = "".join(sorted({ctrl.ESC, ctrl.CSI_C1, ctrl.NUL, ctrl.DEL, ctrl.OSC_C1, *pyte.Stream.basic}))
_TOKEN = re.compile(
    "([^" + re.escape(_SPECIAL) + "]+)"  # 1: a run of text
    "|\x1b\\[(\\??)([0-9;]*)([@-~])"  # 2-4: CSI with plain parameters, optionally private
    "|(\r\n|[\x00\x07-\x0f\x7f])"  # 5: CR LF, or one C0 control (or NUL/DEL, which pyte ignores)
    "|\x1b\\]([0-9])([^\x07\x1b\x9c]*)(?:\x07|\x1b\\\\)"  # 6-7: OSC with a BEL or ST end
)

# Characters known to be one cell wide (pyte's wcwidth); ASCII text never gets this far.
_NARROW: set[str] = set()
_WIDTH: dict[str, int] = {}


def _width(ch: str) -> int:
    w = _WIDTH.get(ch)
    if w is None:
        w = _wcwidth(ch)
        if len(_WIDTH) < 65536:
            _WIDTH[ch] = w
            if w == 1:
                _NARROW.add(ch)
    return w


class _Cells(dict):
    """The cell for each character drawn with one look (pyte makes a new one per cell)."""

    __slots__ = ("attrs", "_kind", "_rest")

    def __init__(self, attrs):
        super().__init__()
        self.attrs = attrs
        self._kind = type(attrs)
        self._rest = tuple(attrs)[1:]  # every field after `data`

    def __missing__(self, ch: str):  # attrs._replace(data=ch), without its keyword machinery
        cell = self[ch] = tuple.__new__(self._kind, (ch, *self._rest))
        return cell


class FastScreen(_Screen):
    """_Screen with pyte's hottest methods done in bulk; same cells, same cursor, same flags."""

    def __init__(self, columns: int, lines: int, history: int):
        self._looks: dict = {}
        self._by_id: dict = {}
        super().__init__(columns, lines, history)

    def _cells_for(self, attrs) -> _Cells:
        """The shared cells of a look; found by identity first (the SGR cache hands out one
        object per look), then by value."""
        seen = self._by_id.get(id(attrs))
        if seen is not None and seen[0] is attrs:
            return seen[1]
        cells = self._looks.get(attrs)
        if cells is None:
            if len(self._looks) >= _LOOKS_MAX:
                self._looks.clear()
            cells = self._looks[attrs] = _Cells(attrs)
        if len(self._by_id) >= _CACHE_MAX:  # equal looks may come as new objects: bound this too
            self._by_id.clear()
        self._by_id[id(attrs)] = (attrs, cells)  # holding attrs keeps its id from being reused
        return cells

    def draw(self, data: str) -> None:
        cursor = self.cursor
        x = cursor.x
        if x == 0:  # as _Screen.draw: a fresh write at a row's start is no continuation
            row = self.buffer.get(cursor.y)
            if row is not None and getattr(row, "continues", False):
                row.continues = False
        plain = not self.charset and self.g0_charset is LAT1_MAP and mo.IRM not in self.mode
        narrow = (data.isascii() and data.isprintable()) or _NARROW.issuperset(data)
        end = x + len(data)
        if plain and narrow and end <= self.columns:  # the common case: no wrap, so no linefeed
            line = self.buffer[cursor.y]
            line.update(zip(range(x, end), map(self._cells_for(cursor.attrs).__getitem__, data)))
            cursor.x = end
            self.dirty.add(cursor.y)
            return
        self._drawing = True
        try:
            if not plain or mo.DECAWM not in self.mode or x > self.columns:
                pyte.Screen.draw(self, data)
            elif narrow:
                self._draw_narrow(data)
            else:
                self._draw_mixed(data)
        finally:
            self._drawing = False

    def _draw_narrow(self, data: str) -> None:
        """Every character one cell wide: whole row segments at once, wrapping as pyte does."""
        cursor, cols, buffer = self.cursor, self.columns, self.buffer
        attrs = cursor.attrs
        cells = self._cells_for(attrs)
        get = cells.__getitem__
        n, i, x = len(data), 0, cursor.x
        while i < n:
            if x == cols:  # the cursor waits past the last column: wrap first
                self.dirty.add(cursor.y)
                self.carriage_return()
                self.linefeed()
                cursor = self.cursor
                x = cursor.x
            take = min(cols - x, n - i)
            line = buffer[cursor.y]
            if take == 1:
                line[x] = get(data[i])
            else:
                line.update(zip(range(x, x + take), map(get, data[i : i + take])))
            i += take
            x += take
            cursor.x = x
        self.dirty.add(cursor.y)

    def _draw_mixed(self, data: str) -> None:
        """Wide characters among narrow ones: pyte's loop with shared cells; from the first
        character of another width (combining, zero-width, unprintable) on, pyte's own draw."""
        cols, buffer = self.columns, self.buffer
        cursor = self.cursor
        attrs = cursor.attrs
        cells = self._cells_for(attrs)
        for i, ch in enumerate(data):
            w = _width(ch)
            if w != 1 and w != 2:
                pyte.Screen.draw(self, data[i:])
                return
            if cursor.x == cols:
                self.dirty.add(cursor.y)
                self.carriage_return()
                self.linefeed()
                cursor = self.cursor
            line = buffer[cursor.y]
            x = cursor.x
            line[x] = cells[ch]
            if w == 2 and x + 1 < cols:
                line[x + 1] = cells[""]
            cursor.x = min(x + w, cols)
        self.dirty.add(cursor.y)

    def linefeed(self) -> None:
        self.index()
        if mo.LNM in self.mode:
            self.carriage_return()
        if self._drawing:  # as _Screen.linefeed: a wrap inside draw() marks the new row
            self.buffer[self.cursor.y].continues = True

    def index(self) -> None:
        margins = self.margins
        top, bottom = margins if margins is not None else (0, self.lines - 1)
        if self.cursor.y != bottom:
            self.cursor_down()
            return
        if top == 0:
            self.history.append((self.row_text(0), self.continues(0), self.row_style(0)))
            self.scrolled += 1
        self.dirty.update(range(self.lines))
        buffer = self.buffer
        if bottom > top:  # pyte moves row by row (and creates the rows it reads)
            rows = [buffer[y] for y in range(top + 1, bottom + 1)]
            buffer.update(zip(range(top, bottom), rows))
        buffer.pop(bottom, None)

    def erase_in_line(self, how: int = 0, private: bool = False) -> None:
        x = self.cursor.x
        if how == 0:
            interval = range(x, self.columns)
        elif how == 1:
            interval = range(x + 1)
        elif how == 2:
            interval = range(self.columns)
        else:  # pyte raises on these: keep its behaviour
            super().erase_in_line(how, private)
            return
        y = self.cursor.y
        self.dirty.add(y)
        row = self.buffer[y]
        row.update(dict.fromkeys(interval, self.cursor.attrs))
        if how != 0:
            row.continues = False

    def erase_in_display(self, how: int = 0, *args, **kwargs) -> None:  # type: ignore[override]
        y = self.cursor.y
        if how == 0:
            interval = range(y + 1, self.lines)
        elif how == 1:
            interval = range(y)
        elif how == 2:
            interval = range(self.lines)
        else:  # 3 (clear scrollback) and the values pyte raises on
            super().erase_in_display(how, *args, **kwargs)
            return
        self.dirty.update(interval)
        attrs, buffer = self.cursor.attrs, self.buffer
        for row_y in interval:
            row = buffer[row_y]
            if row:
                row.update(dict.fromkeys(row, attrs))  # pyte re-looks only the cells a row has
        if how != 2:
            self.erase_in_line(how)
        else:
            for row in buffer.values():
                row.continues = False

    def row_text(self, y: int) -> str:
        row = self.buffer.get(y)
        if not row:
            return ""
        cols = self.columns
        if len(row) * 4 >= cols * 3:  # nearly full: every column through the row's default
            return "".join(map(_DATA, map(row.__getitem__, range(cols)))).rstrip()
        if _in_order(row, cols):
            return "".join(map(_DATA, row.values())).rstrip()
        return super().row_text(y)

    def row_style(self, y: int) -> str:
        row = self.buffer.get(y)
        if not row:
            return ""
        if not _in_order(row, self.columns):
            return super().row_style(y)
        for ch in row.values():
            if ch.data.strip():
                look = f"fg={ch.fg} bg={ch.bg}"
                return look + "".join(f" {name}" for name in ("bold", "italics", "reverse") if getattr(ch, name))
        return ""


_RANGES: list[list[int]] = []


def _in_order(row: dict, cols: int) -> bool:
    """The row's cells are columns 0, 1, ... in that order (a row written left to right)."""
    n = len(row)
    if n > cols:
        return False
    while len(_RANGES) <= n:
        _RANGES.append(list(range(len(_RANGES))))
    return list(row) == _RANGES[n]


def _without_private_guard(screen: FastScreen, name: str):
    """The handler under _tolerate_private's wrapper, which only matters when private=True."""
    fn = getattr(type(screen), name)
    original = (getattr(fn, "__kwdefaults__", None) or {}).get("_original")
    return original.__get__(screen) if original is not None else getattr(screen, name)


class FastStream:
    """Bytes to a FastScreen; pyte's ByteStream keeps the decoder, the mode and any
    sequence that is not ours, so the two never disagree about where the parser is."""

    def __init__(self, screen: FastScreen):
        self.screen = screen
        self.pyte = pyte.ByteStream(screen)
        self._csi = {final: getattr(screen, name) for final, name in pyte.Stream.csi.items()}
        self._csi_plain = {final: _without_private_guard(screen, name) for final, name in pyte.Stream.csi.items()}
        self._basic = {char: getattr(screen, name) for char, name in pyte.Stream.basic.items()
                       if char not in (ctrl.SO, ctrl.SI)}  # shifts do nothing in UTF-8 mode
        self._params: dict[str, list[int]] = {}
        self._sgr: dict = {}

    def feed(self, data: bytes) -> None:
        stream = self.pyte
        if not stream.use_utf8:
            stream.feed(data)
            return
        # Decoded whole first, as ByteStream does (a charset switch takes effect next chunk).
        self._feed_text(stream.utf8_decoder.decode(data))

    def _by_pyte(self, text: str, pos: int) -> int:
        """pyte's parser takes characters from `pos` until it is back at plain text."""
        stream = self.pyte
        send = stream._send_to_parser
        ground = stream._taking_plain_text
        n = len(text)
        while pos < n:
            ground = send(text[pos])
            pos += 1
            if ground:
                break
        stream._taking_plain_text = ground
        return pos

    def _feed_text(self, text: str) -> None:
        screen, stream = self.screen, self.pyte
        draw = screen.draw
        csi, csi_plain, basic, params_of, sgr = self._csi, self._csi_plain, self._basic, self._params, self._sgr
        match = _TOKEN.match
        n = len(text)
        pos = 0 if stream._taking_plain_text else self._by_pyte(text, 0)
        while pos < n:
            m = match(text, pos)
            kind = m.lastindex if m is not None else 0
            if kind == 1:
                pos = m.end()
                draw(m.group(1))
            elif kind == 4:
                private, ps, final = m.group(2, 3, 4)
                fn = csi.get(final)
                if fn is None:  # pyte hands it to `debug`, or eats more: its parser decides
                    pos = self._by_pyte(text, pos)
                    continue
                pos = m.end()
                if final == "m" and not private:  # a look depends only on the last look
                    key = (screen.cursor.attrs, ps)
                    look = sgr.get(key)
                    if look is not None:
                        screen.cursor.attrs = look
                        continue
                params = params_of.get(ps)
                if params is None:
                    if len(params_of) >= _CACHE_MAX:
                        params_of.clear()
                    params = params_of[ps] = [min(int(p or 0), 9999) for p in ps.split(";")]
                if private:
                    fn(*params, private=True)
                else:
                    csi_plain[final](*params)
                    if final == "m":
                        if len(sgr) >= _CACHE_MAX:
                            sgr.clear()
                        sgr[key] = screen.cursor.attrs
            elif kind == 5:
                pos = m.end()
                control = m.group(5)
                if control == "\r\n":
                    screen.carriage_return()
                    screen.linefeed()
                else:
                    fn = basic.get(control)
                    if fn is not None:
                        fn()
            elif kind == 7:
                pos = m.end()
                code, param = m.group(6), m.group(7)[1:]  # pyte drops the ";" (whatever it is)
                if code in "01":
                    screen.set_icon_name(param)
                if code in "02":
                    screen.set_title(param)
            else:
                pos = self._by_pyte(text, pos)
                if not stream.use_utf8:  # ESC % @: pyte honours shifts and charsets now
                    pyte.Stream.feed(stream, text[pos:])
                    return
