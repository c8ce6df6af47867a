"""An agent's raw output on disk, capped in size.

When the file passes the cap it becomes `<name>.1` (replacing an older one)
and a new file starts, so at most about twice the cap is kept per agent.

A transcript is a record, never a reason to stop reading the agent: output
the disk does not take (full) is dropped, logged once, and writing goes on
by itself once there is room.
"""

from __future__ import annotations

import os
from pathlib import Path

from caod import paths
from caod.logs import log

DEFAULT_CAP = 8 << 20


def _open(path: Path):
    """Append, 0600: what an agent printed is the owner's to read."""
    return os.fdopen(paths.open_private(path, os.O_WRONLY | os.O_APPEND), "ab", buffering=1 << 16)


class Transcript:
    def __init__(self, path: Path, cap: int = DEFAULT_CAP):
        self.path = path
        self.cap = cap
        paths.make_private_dirs(path.parent)
        self._file = _open(path)
        self._size = self._file.tell()
        self._ended = False
        self._failing = False

    def write(self, data: bytes) -> None:
        if self._ended:
            return
        try:
            if self._file.closed:  # a rotation that failed half-way: start a file again
                self._file = _open(self.path)
                self._size = self._file.tell()
            if self._size + len(data) > self.cap:
                self._rotate()
            self._file.write(data)
            self._size += len(data)
        except OSError as e:
            self._failed(e)

    def _rotate(self) -> None:
        try:
            self._file.close()
        except OSError as e:  # closed all the same; what it held is lost
            self._failed(e)
        os.replace(self.path, self.path.with_name(self.path.name + ".1"))
        self._file = _open(self.path)
        self._size = 0

    def flush(self) -> None:
        if self._file.closed:
            return
        try:
            self._file.flush()
        except OSError as e:
            self._failed(e)
            return
        if self._failing:
            self._failing = False
            log.info("transcript writes succeed again", path=str(self.path))

    def _failed(self, e: OSError) -> None:
        if not self._failing:
            self._failing = True
            log.warning("transcript write failed; output is dropped until it can be written",
                        path=str(self.path), error=os.strerror(e.errno) if e.errno else str(e))

    def close(self) -> None:
        self._ended = True
        if not self._file.closed:
            try:
                self._file.close()
            except OSError as e:
                self._failed(e)
