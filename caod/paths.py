"""Where the socket and the daemon's home live.

`--socket`/`--home` win, then CAOD_SOCKET/CAOD_HOME (read by caod and caoctl
alike, so tests and scripts run isolated daemons side by side), then the
XDG defaults.
"""

from __future__ import annotations

import os
import stat
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


class UnsafeFolder(PermissionError):
    """An existing folder caod will not use as it is; the message says what to do."""


def make_private_dirs(path: Path) -> bool:
    """Create `path` and each missing parent 0700 (XDG's rule); True if `path` itself was made.

    Folders that exist already are left exactly as they are.
    """
    parent = path.parent
    if parent != path and not os.path.isdir(parent):
        make_private_dirs(parent)
    try:
        os.mkdir(path, 0o700)
    except FileExistsError:
        return False
    return True


def _mode(st: os.stat_result) -> str:
    return f"{stat.S_IMODE(st.st_mode):04o}"


def home_problem(path: Path) -> str | None:
    """Why the existing folder `path` cannot be the daemon's home, or None.

    The home holds the database, the log, transcripts and agent folders (with
    tokens, and files the CLIs write with modes of their own), so the folder
    itself must be the fence: ours, and closed to everyone else.
    """
    st = path.stat()
    if not stat.S_ISDIR(st.st_mode):
        return f"{path} is not a folder: give --home (or $CAOD_HOME) a folder"
    if st.st_uid != os.getuid():
        return (f"{path} belongs to uid {st.st_uid}, not to you (uid {os.getuid()}): give --home (or $CAOD_HOME) "
                "a folder of your own, or a path that does not exist yet (caod creates it 0700)")
    if st.st_mode & 0o077:
        return (f"{path} is {_mode(st)}: others could read the database, logs and transcripts caod keeps there; "
                f"make it private (chmod 700 {path}) or give --home a path that does not exist yet "
                "(caod creates it 0700)")
    return None


def shared_sticky(st: os.stat_result) -> bool:
    """A folder like /tmp: anyone may write, the sticky bit lets nobody but the owner of an
    entry (or of the folder: root or us here) remove or rename it."""
    return bool(st.st_mode & 0o002 and st.st_mode & stat.S_ISVTX and st.st_uid in (0, os.getuid()))


def socket_dir_problem(path: Path) -> str | None:
    """Why the existing folder `path` cannot hold the socket, or None.

    A folder of our own must be 0700, as caod makes it. A shared sticky folder
    such as /tmp cannot be made private and is not ours to change, but there
    nobody else can remove or replace our socket or lock file, the socket is
    born 0600 and every peer's uid is checked: it is allowed.
    """
    st = path.stat()
    if not stat.S_ISDIR(st.st_mode):
        return f"the socket folder {path} is not a folder"
    if shared_sticky(st):
        return None
    if st.st_uid != os.getuid():
        return (f"the socket folder {path} belongs to uid {st.st_uid}, not to you (uid {os.getuid()}), and its "
                "owner could replace the socket: use --socket (or $CAOD_SOCKET) in a folder of your own")
    if st.st_mode & 0o077:
        return (f"the socket folder {path} is {_mode(st)}: others can reach it; make it private "
                f"(chmod 700 {path}) or use --socket (or $CAOD_SOCKET) in a folder that does not exist yet "
                "(caod creates it 0700)")
    return None


def _ensure(path: Path, problem) -> None:
    if make_private_dirs(path):
        return  # ours, 0700: nothing to check
    why = problem(path)
    if why:
        raise UnsafeFolder(why)


def ensure_private_dir(path: Path) -> None:
    """Make the home `path` 0700, or check the existing one; raise UnsafeFolder, never chmod."""
    _ensure(path, home_problem)


def ensure_socket_dir(path: Path) -> None:
    """Make the socket's folder 0700, or check the existing one; raise UnsafeFolder, never chmod."""
    _ensure(path, socket_dir_problem)


def open_private(path: Path, flags: int) -> int:
    """Open `path` (created 0600) for caod's own data; one of ours an older caod left
    readable by others is tightened (files only: folders are never changed)."""
    fd = os.open(path, flags | os.O_CREAT | os.O_CLOEXEC, 0o600)
    try:
        st = os.fstat(fd)
        if st.st_uid == os.getuid() and st.st_mode & 0o077:
            os.fchmod(fd, stat.S_IMODE(st.st_mode) & 0o700)
    except OSError:
        os.close(fd)
        raise
    return fd


def prepare_database(path: Path) -> None:
    """Create the SQLite file 0600 before SQLite does: it gives its -wal and -shm files
    the database file's mode. Those an older caod left looser are tightened too."""
    os.close(open_private(path, os.O_RDONLY))
    for extra in (Path(f"{path}-wal"), Path(f"{path}-shm")):
        try:
            st = os.lstat(extra)
        except FileNotFoundError:
            continue
        if stat.S_ISREG(st.st_mode) and st.st_uid == os.getuid() and st.st_mode & 0o077:
            os.chmod(extra, stat.S_IMODE(st.st_mode) & 0o700)
