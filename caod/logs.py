"""structlog set-up: JSON lines to a file, readable lines on a terminal.

Logging never takes its caller down: a line the file cannot take (a full
disk) is counted and dropped, and the count is written first once the file
takes lines again. A line is written with one os.write on an O_APPEND file,
so nothing of it waits in a buffer to come out late or twice.
"""

from __future__ import annotations

import json
import logging
import os
import sys
import time
from pathlib import Path
from typing import Any, TextIO

import structlog

from caod import paths

_json = structlog.processors.JSONRenderer()
_console = structlog.dev.ConsoleRenderer(colors=False)


class _TeeLogger:
    """Receives (json_line, console_line) from the last processor and writes both."""

    def __init__(self, file: TextIO, console: TextIO | None):
        self._file = file
        self._fd = file.fileno()
        self._console = console
        self.dropped = 0  # lines the file did not take since it last took one
        self._cut = False  # a line went out in part: end it before the next one
        self._error = ""

    def msg(self, json_line: str, console_line: str | None) -> None:
        self._to_file(json_line)
        if self._console is not None and console_line is not None:
            try:
                self._console.write(console_line + "\n")
                self._console.flush()
            except (OSError, ValueError):  # a closed terminal, a full journal pipe
                pass

    info = debug = warning = error = critical = exception = msg

    def _to_file(self, line: str) -> None:
        if self.dropped:
            note = json.dumps({"event": "log lines were dropped: the log file could not be written",
                               "dropped": self.dropped, "error": self._error, "level": "warning",
                               "timestamp": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime())})
            if not self._put(note):
                self.dropped += 1
                return
            self.dropped = 0
        if not self._put(line):
            self.dropped += 1

    def _put(self, line: str) -> bool:
        data = memoryview((("\n" if self._cut else "") + line + "\n").encode("utf-8", "replace"))
        started = False
        try:
            while data:
                n = os.write(self._fd, data)
                data = data[n:]
                started = True
        except OSError as e:
            self._error = os.strerror(e.errno) if e.errno else str(e)
            self._cut = self._cut or started
            return False
        self._cut = False
        return True


def _render_both(logger: Any, name: str, event: dict) -> tuple[tuple[str, str | None], dict]:
    """structlog passes a returned (args, kwargs) pair on to the logger method."""
    try:
        console = _console(logger, name, dict(event)) if getattr(logger, "_console", None) else None
        return (_json(logger, name, event), console), {}
    except Exception as e:  # a value that will not render must not fail the caller
        line = json.dumps({"event": str(event.get("event", "?")), "level": str(event.get("level", "?")),
                           "render_error": repr(e)})
        return (line, line), {}


def configure(log_file: Path, level: str = "info", console: TextIO | None = None) -> None:
    """Log to `log_file`; also to `console` (default: stderr when it is a TTY)."""
    if console is None and (sys.stderr.isatty() or os.environ.get("JOURNAL_STREAM")):
        console = sys.stderr  # a terminal, or the journal (which adds its own timestamps)
    paths.make_private_dirs(log_file.parent)
    fh = os.fdopen(paths.open_private(log_file, os.O_WRONLY | os.O_APPEND), "a", encoding="utf-8")  # noqa: SIM115
    tee = _TeeLogger(fh, console)  # one for every logger: one count of dropped lines
    structlog.configure(
        processors=[
            structlog.processors.add_log_level,
            structlog.processors.TimeStamper(fmt="iso", utc=True),
            structlog.processors.format_exc_info,
            _render_both,
        ],
        wrapper_class=structlog.make_filtering_bound_logger(
            logging.getLevelNamesMapping()[level.upper()]
        ),
        logger_factory=lambda *_: tee,
        cache_logger_on_first_use=True,
    )


log = structlog.get_logger("caod")
