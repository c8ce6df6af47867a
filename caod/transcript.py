"""An agent's raw output on disk, capped in size.

When the file passes the cap it becomes `<name>.1` (replacing an older one)
and a new file starts, so at most about twice the cap is kept per agent.
"""

from __future__ import annotations

import os
from pathlib import Path

DEFAULT_CAP = 8 << 20


class Transcript:
    def __init__(self, path: Path, cap: int = DEFAULT_CAP):
        self.path = path
        self.cap = cap
        path.parent.mkdir(parents=True, exist_ok=True)
        self._file = open(path, "ab", buffering=1 << 16)  # noqa: SIM115
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
        self._file = open(self.path, "ab", buffering=1 << 16)  # noqa: SIM115
        self._size = 0

    def flush(self) -> None:
        if not self._file.closed:
            self._file.flush()

    def close(self) -> None:
        if not self._file.closed:
            self._file.close()
