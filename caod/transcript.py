"""An agent's raw output on disk, capped in size.

When the file passes the cap it becomes `<name>.1` (replacing an older one)
and a new file starts, so at most about twice the cap is kept per agent.
"""

from __future__ import annotations

import os
from pathlib import Path

from caod import paths

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

    def write(self, data: bytes) -> None:
        if self._file.closed:
            return
        if self._size + len(data) > self.cap:
            self._rotate()
        self._file.write(data)
        self._size += len(data)

    def _rotate(self) -> None:
        self._file.close()
        os.replace(self.path, self.path.with_name(self.path.name + ".1"))
        self._file = _open(self.path)
        self._size = 0

    def flush(self) -> None:
        if not self._file.closed:
            self._file.flush()

    def close(self) -> None:
        if not self._file.closed:
            self._file.close()
