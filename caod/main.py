"""`caod`: run the daemon in the foreground."""

from __future__ import annotations

import argparse
import asyncio
import errno
import fcntl
import os
import socket
import stat
import sys
from pathlib import Path

from caod import __version__, fdlimit, logs, paths, systemd
from caod.durations import retention_limit, stall_limit


class StartupError(Exception):
    pass


def _take_lock(sock_path: Path) -> int:
    """Hold an exclusive lock for this socket path for the daemon's lifetime."""
    lock_path = sock_path.with_name(sock_path.name + ".lock")
    try:  # never through a link: it would have us overwrite whatever file it points at
        fd = os.open(lock_path, os.O_RDWR | os.O_CREAT | os.O_NOFOLLOW | os.O_CLOEXEC, 0o600)
    except OSError as e:
        if e.errno == errno.ELOOP:
            raise StartupError(f"{lock_path} is a symbolic link; caod does not follow it: "
                               f"remove it (rm {lock_path}) and start again") from None
        raise
    st = os.fstat(fd)
    if not stat.S_ISREG(st.st_mode) or st.st_uid != os.getuid():
        os.close(fd)
        what = "is not a regular file" if not stat.S_ISREG(st.st_mode) else f"belongs to uid {st.st_uid}, not to you"
        raise StartupError(f"{lock_path} {what}: remove it, or use --socket in a folder of your own")
    if st.st_mode & 0o077:
        os.fchmod(fd, 0o600)  # ours, from an older caod
    try:
        fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except OSError as e:
        if e.errno in (errno.EAGAIN, errno.EACCES):
            other = os.pread(fd, 32, 0).decode(errors="replace").strip() or "?"
            raise StartupError(f"another caod (pid {other}) is already running on {sock_path}") from None
        raise
    os.ftruncate(fd, 0)
    os.pwrite(fd, f"{os.getpid()}\n".encode(), 0)
    return fd


def _clear_stale_socket(sock_path: Path) -> None:
    """We hold the lock, so whatever socket file is there belongs to a dead daemon."""
    try:
        st = sock_path.lstat()
    except FileNotFoundError:
        return
    if not stat.S_ISSOCK(st.st_mode):
        raise StartupError(f"{sock_path} exists and is not a socket; move it away")
    probe = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    try:
        probe.connect(str(sock_path))
    except OSError:
        sock_path.unlink()  # stale: nobody listens
        return
    finally:
        probe.close()
    raise StartupError(f"a daemon not started by caod answers on {sock_path}; refusing to replace it")


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    ap = argparse.ArgumentParser(prog="caod", description="The caod daemon (foreground).")
    ap.add_argument("--socket", help="Unix socket path (env CAOD_SOCKET)")
    ap.add_argument("--home", help="state folder: database, logs, transcripts (env CAOD_HOME)")
    ap.add_argument("--log-level", default="info", choices=["debug", "info", "warning", "error"])
    ap.add_argument("--no-relaunch", action="store_true",
                    help="after a crash, do not start the agents of live sessions again")
    ap.add_argument("--keep-exited", metavar="DURATION", type=retention_limit,
                    default=os.environ.get("CAOD_KEEP_EXITED", "7d"),
                    help="remove exited agents (rows, folders, transcripts) this long after they exit;"
                         " 0 or off keeps them (env CAOD_KEEP_EXITED; default 7d)")
    ap.add_argument("--stall-after", metavar="DURATION", type=stall_limit,
                    default=os.environ.get("CAOD_STALL_AFTER", "3m"),
                    help="an agent busy with no output this long is stalled (an event, and a notice to its"
                         " parent), unless its provider sets stall_ms; 0 or off: never (env CAOD_STALL_AFTER)")
    ap.add_argument("--ready-fd", type=int, help="write 'ready' to this fd once listening (used by caoctl)")
    ap.add_argument("--version", action="version", version=f"caod {__version__}")
    return ap.parse_args(argv)


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    home = paths.home_dir(args.home)
    try:
        inherited = systemd.listen_socket()  # socket activation: systemd owns the socket file
        sock_path = Path(inherited.getsockname()) if inherited else paths.socket_path(args.socket)
        if len(os.fsencode(sock_path)) > paths.MAX_SOCKET_PATH:
            raise StartupError(f"socket path is too long for a Unix socket ({len(str(sock_path))} bytes): {sock_path}")
        if inherited is None:
            paths.ensure_socket_dir(sock_path.parent)
        paths.ensure_private_dir(home)
        lock_fd = _take_lock(sock_path)
        if inherited is None:
            _clear_stale_socket(sock_path)
    except (StartupError, PermissionError, OSError, RuntimeError) as e:
        print(f"caod: {e}", file=sys.stderr)
        return 1
    logs.configure(home / "caod.log", args.log_level)
    fdlimit.raise_soft_limit()  # room for hundreds of agents (see caod.fdlimit)
    from caod.daemon import Daemon  # after logging is configured
    from caod.store import StorageError

    try:
        daemon = Daemon(sock_path, home, listen_sock=inherited)
        daemon.relaunch = not args.no_relaunch
        daemon.retention.keep_s = args.keep_exited
        daemon.notices.stall.default_s = args.stall_after
        asyncio.run(daemon.run(ready_fd=args.ready_fd))
    except KeyboardInterrupt:
        pass
    except StorageError as e:  # a damaged database (set aside), or one that cannot be opened
        logs.log.error("cannot start", error=e.message)
        print(f"caod: {e.message}", file=sys.stderr)
        return 1
    finally:
        os.close(lock_fd)
    return 0


if __name__ == "__main__":
    sys.exit(main())
