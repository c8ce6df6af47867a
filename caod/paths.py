"""Where the socket and the daemon's home live.

`--socket`/`--home` win, then CAOD_SOCKET/CAOD_HOME (read by caod and caoctl
alike, so tests and scripts run isolated daemons side by side), then the
XDG defaults.
"""

from __future__ import annotations

import os
from pathlib import Path

SOCKET_ENV = "CAOD_SOCKET"
HOME_ENV = "CAOD_HOME"
# sockaddr_un.sun_path is 108 bytes on Linux (104 on macOS), NUL included.
MAX_SOCKET_PATH = 103


def default_home() -> Path:
    state = os.environ.get("XDG_STATE_HOME") or str(Path.home() / ".local" / "state")
    return Path(state) / "caod"


def home_dir(explicit: str | os.PathLike | None = None) -> Path:
    if explicit:
        return Path(explicit).expanduser().absolute()
    env = os.environ.get(HOME_ENV)
    return Path(env).expanduser().absolute() if env else default_home()


def socket_path(explicit: str | os.PathLike | None = None) -> Path:
    if explicit:
        return Path(explicit).expanduser().absolute()
    env = os.environ.get(SOCKET_ENV)
    if env:
        return Path(env).expanduser().absolute()
    runtime = os.environ.get("XDG_RUNTIME_DIR")
    if runtime and os.path.isdir(runtime):
        return Path(runtime) / "caod" / "caod.sock"
    return default_home() / "caod.sock"


def ensure_private_dir(path: Path) -> None:
    """Create `path` as a 0700 folder; refuse one that others can enter."""
    path.mkdir(mode=0o700, parents=True, exist_ok=True)
    st = path.stat()
    if st.st_uid != os.getuid():
        raise PermissionError(f"{path} belongs to uid {st.st_uid}, not to you")
    if st.st_mode & 0o077:
        os.chmod(path, 0o700)
