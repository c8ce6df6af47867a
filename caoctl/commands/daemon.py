"""caoctl daemon start|stop|status."""

from __future__ import annotations

import os
import select
import subprocess
import sys
import time
from pathlib import Path

import click

from caod import paths
from caod.pyexec import module_argv
from caoctl.client import Client, DaemonUnavailable
from caoctl.common import CommandFailed, connect, json_option, settings
from caoctl.output import emit_json, to_plain
from caod.protocol import DaemonStatus

EXIT_NOT_RUNNING = 3  # like `systemctl status`


def start_daemon(sock: Path, home: str | None, timeout: float) -> tuple[DaemonStatus, bool]:
    """Return the running daemon's status and whether we started it."""
    try:
        with Client(sock) as c:
            return c.call("daemon.status"), False
    except DaemonUnavailable:
        pass
    home_dir = paths.home_dir(home)
    try:
        paths.ensure_private_dir(home_dir)
    except paths.UnsafeFolder as e:
        raise CommandFailed(str(e)) from None
    out_path = home_dir / "caod.out"
    read_fd, write_fd = os.pipe()
    cmd = [*module_argv("caod"), "--socket", str(sock), "--home", str(home_dir), "--ready-fd", str(write_fd)]
    with os.fdopen(paths.open_private(out_path, os.O_WRONLY | os.O_APPEND), "ab") as out:
        proc = subprocess.Popen(cmd, pass_fds=(write_fd,), stdin=subprocess.DEVNULL, stdout=out, stderr=out,
                                start_new_session=True)
    os.close(write_fd)
    try:
        # The daemon writes "ready" once it listens; EOF first means it died.
        readable, _, _ = select.select([read_fd], [], [], timeout)
        got = os.read(read_fd, 64) if readable else b""
    finally:
        os.close(read_fd)
    if not got.startswith(b"ready"):
        if not readable:
            proc.terminate()
            raise CommandFailed(f"caod did not become ready within {timeout:g}s; see {out_path}")
        try:  # EOF without "ready": it is exiting
            code = proc.wait(timeout=10)
        except subprocess.TimeoutExpired:
            code = "?"
        tail = _tail(out_path)
        raise CommandFailed(f"caod failed to start (exit {code}): {tail or 'see ' + str(out_path)}")
    with Client(sock) as c:
        return c.call("daemon.status"), True


def _tail(path: Path) -> str:
    try:
        lines = path.read_text(errors="replace").strip().splitlines()
    except OSError:
        return ""
    return lines[-1] if lines else ""


@click.group("daemon")
def command():
    """Start, stop or inspect the caod daemon."""


@command.command("start")
@click.option("--home", metavar="DIR", help="Daemon state folder (default: $CAOD_HOME or ~/.local/state/caod).")
@click.option("--timeout", type=click.FloatRange(min=0, min_open=True), default=15, show_default=True)
@json_option
@click.pass_context
def start(ctx, home, timeout, as_json):
    """Start a detached daemon unless one already answers."""
    st, started = start_daemon(settings(ctx).socket, home, timeout)
    if as_json:
        emit_json({"started": started, "running": True, **to_plain(st)})
    else:
        click.echo(f"caod {'started' if started else 'already running'} (pid {st.pid}) on {st.socket}")


@command.command("stop")
@click.option("--timeout", type=click.FloatRange(min=0, min_open=True), default=30, show_default=True)
@json_option
@click.pass_context
def stop(ctx, timeout, as_json):
    """Stop the daemon: its agents are terminated and its state flushed."""
    sock = settings(ctx).socket
    try:
        c = Client(sock)
    except DaemonUnavailable:
        emit_json({"stopped": False, "running": False}) if as_json else click.echo("caod is not running")
        return
    with c:
        pid = c.call("daemon.status").pid
        c.call("daemon.shutdown")
        deadline = time.monotonic() + timeout
        c.sock.settimeout(timeout)
        try:
            while c.sock.recv(65536):  # the daemon closes us once it is down
                if time.monotonic() > deadline:
                    raise CommandFailed(f"caod (pid {pid}) did not stop within {timeout:g}s")
        except TimeoutError:
            raise CommandFailed(f"caod (pid {pid}) did not stop within {timeout:g}s") from None
        except OSError:
            pass
    emit_json({"stopped": True, "pid": pid}) if as_json else click.echo(f"caod (pid {pid}) stopped")


@command.command("status")
@json_option
@click.pass_context
def status(ctx, as_json):
    """Say whether the daemon runs, and its figures (exit 3 when not running)."""
    try:
        with connect(ctx) as c:
            st = c.call("daemon.status")
    except DaemonUnavailable:
        if as_json:
            emit_json({"running": False, "socket": str(settings(ctx).socket)})
        else:
            click.echo(f"caod is not running (socket {settings(ctx).socket})")
        ctx.exit(EXIT_NOT_RUNNING)
    if as_json:
        emit_json({"running": True, **to_plain(st)})
        return
    click.echo(
        f"caod {st.version} running (pid {st.pid}, up {st.uptime_s:.0f}s)\n"
        f"socket: {st.socket}\nhome:   {st.home}\nagents: {st.agents_live} live, {st.agents} in all"
    )



@command.command("install-service")
@click.option("--print", "print_only", is_flag=True, help="Print the files instead of writing them.")
@click.option("--launchd/--systemd", "use_launchd", default=sys.platform == "darwin",
              help="Which service manager (default: launchd on macOS, systemd elsewhere).")
@click.option("--force", is_flag=True, help="Replace files that differ.")
@json_option
def install_service(print_only, use_launchd, force, as_json):
    """Run caod as a user service: systemd (socket-activated) or launchd."""
    from caoctl import service

    files = service.launchd_plist() if use_launchd else service.systemd_units()
    folder = service.launchd_dir() if use_launchd else service.systemd_dir()
    if use_launchd:
        plist = folder / f"{service.LAUNCHD_LABEL}.plist"
        enable = f"launchctl load -w {plist}"
    else:
        enable = "systemctl --user daemon-reload && systemctl --user enable --now caod.socket"
    if print_only:
        if as_json:
            emit_json({"folder": str(folder), "files": files, "enable": enable})
            return
        for name, text in files.items():
            click.echo(f"# {folder / name}\n{text}")
        click.echo(f"# then: {enable}")
        return
    written = []
    folder.mkdir(parents=True, exist_ok=True)
    for name, text in files.items():
        target = folder / name
        if target.exists() and target.read_text() != text and not force:
            raise CommandFailed(f"{target} exists and differs (use --force to replace it)")
        target.write_text(text)
        written.append(str(target))
    if as_json:
        emit_json({"folder": str(folder), "written": written, "enable": enable})
        return
    for path in written:
        click.echo(f"wrote {path}")
    click.echo(f"Enable it with: {enable}")
