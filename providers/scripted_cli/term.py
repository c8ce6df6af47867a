"""Terminal plumbing for the scripted agent: raw mode, size, writes, the
key/paste decoder and the JSON-lines trace file."""

from __future__ import annotations

import codecs
import json
import os
import termios
import time
import tty

from providers.scripted_cli import render

PASTE_START = "\x1b[200~"
PASTE_END = "\x1b[201~"
DEFAULT_SIZE = (80, 24)


class InputParser:
    """Turns raw bytes from the tty into events:

    * ``("key", ch)``   -- one character (printable or control);
    * ``("paste", s)``  -- the text between ``ESC[200~`` and ``ESC[201~``;
    * ``("esc",)``      -- an ESC not followed by ``[``.

    Partial UTF-8, partial CSI sequences and pastes may span reads.  Other
    CSI sequences (arrows, focus reports...) are swallowed.  An ESC that
    ends a read is held back: the caller gives it ``ESC_TIMEOUT`` seconds
    to be continued by ``[`` (a split ``ESC[200~``) and otherwise calls
    :meth:`flush`, which reports it as a lone ``("esc",)``."""

    ESC_TIMEOUT = 0.03

    def __init__(self):
        self._decoder = codecs.getincrementaldecoder("utf-8")("replace")
        self._pending = ""
        self._paste = None            # list of chunks while inside a paste

    @property
    def in_paste(self):
        return self._paste is not None

    @property
    def holding_escape(self):
        return self._paste is None and self._pending == "\x1b"

    def flush(self):
        """Give up waiting on a held-back ESC: report it as a lone Esc."""
        if self.holding_escape:
            self._pending = ""
            return [("esc",)]
        return []

    def feed(self, data):
        s = self._pending + self._decoder.decode(data)
        self._pending = ""
        events = []
        i, n = 0, len(s)
        while i < n:
            if self._paste is not None:
                j = s.find(PASTE_END, i)
                if j < 0:
                    keep = _marker_prefix_at_end(s, i, PASTE_END)
                    self._paste.append(s[i:n - keep])
                    self._pending = s[n - keep:]
                    break
                self._paste.append(s[i:j])
                events.append(("paste", "".join(self._paste)))
                self._paste = None
                i = j + len(PASTE_END)
                continue
            c = s[i]
            if c != "\x1b":
                events.append(("key", c))
                i += 1
                continue
            if i + 1 >= n:
                self._pending = "\x1b"           # maybe a split ESC[...: see flush()
                break
            if s[i + 1] != "[":
                events.append(("esc",))
                i += 1
                continue
            j = i + 2                           # CSI: params/intermediates, then a final byte
            while j < n and "\x20" <= s[j] <= "\x3f":
                j += 1
            if j >= n:
                self._pending = s[i:]            # incomplete: wait for the next read
                break
            if not "\x40" <= s[j] <= "\x7e":
                i = j                            # malformed: drop "ESC[..." and go on
                continue
            if s[i:j + 1] == PASTE_START:
                self._paste = []
            i = j + 1
        return events


def _marker_prefix_at_end(s, start, marker):
    """Length of the longest proper prefix of ``marker`` ending ``s``."""
    for k in range(min(len(marker) - 1, len(s) - start), 0, -1):
        if s.endswith(marker[:k]):
            return k
    return 0


class Terminal:
    """Owns fds 0/1: raw mode, bracketed paste, size, whole writes."""

    def __init__(self, in_fd=0, out_fd=1):
        self.in_fd = in_fd
        self.out_fd = out_fd
        self._saved = None
        self._entered = False

    def enter(self):
        if os.isatty(self.in_fd):
            self._saved = termios.tcgetattr(self.in_fd)
            tty.setraw(self.in_fd, termios.TCSANOW)     # TCSANOW: keep typed-ahead input
        self._entered = True
        self.write(render.PASTE_MODE_ON)

    def leave(self):
        if self._entered:
            self._entered = False
            try:
                self.write(render.PASTE_MODE_OFF)
            except OSError:
                pass
        if self._saved is not None:
            saved, self._saved = self._saved, None
            try:
                termios.tcsetattr(self.in_fd, termios.TCSADRAIN, saved)
            except (termios.error, OSError):
                pass

    def size(self):
        """(cols, rows) from the tty; 80x24 when unknown."""
        for fd in (self.in_fd, self.out_fd):
            try:
                cols, rows = os.get_terminal_size(fd)
            except OSError:
                continue
            return (cols or DEFAULT_SIZE[0], rows or DEFAULT_SIZE[1])
        return DEFAULT_SIZE

    def write(self, data):
        if isinstance(data, str):
            data = data.encode("utf-8")
        view = memoryview(data)
        while view:
            written = os.write(self.out_fd, view)
            view = view[written:]


class Trace:
    """Appends one JSON object per line to a file, flushed at once."""

    def __init__(self, path):
        self._fh = open(path, "a", encoding="utf-8") if path else None

    def emit(self, event, **fields):
        if self._fh is None:
            return
        record = {"event": event, "t": time.time(), **fields}
        self._fh.write(json.dumps(record, ensure_ascii=False) + "\n")
        self._fh.flush()

    def close(self):
        if self._fh is not None:
            self._fh.close()
            self._fh = None
