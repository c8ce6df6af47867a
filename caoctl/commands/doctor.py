"""caoctl doctor: check the set-up, one line per check, each with a hint when it is not right.

Provider CLIs are looked up where the daemon looks (its PATH, through provider.list),
since that is where `spawn` starts them; with no daemon, on the caller's PATH, said so.

✓ fine · ! worth a look (nothing is broken) · ✗ broken · - not installed (optional)
Exit 0 when nothing is broken, 1 otherwise. Provider CLIs are only asked for
`--version`, with a short timeout; nothing else of theirs is run.
"""

from __future__ import annotations

import os
import platform
import shutil
import stat
import subprocess
import sys
from concurrent.futures import ThreadPoolExecutor
from dataclasses import asdict, dataclass
from importlib import metadata
from pathlib import Path

import click

from caod import __version__, paths
from caoctl.client import Client, DaemonUnavailable, RpcFailure
from caoctl.common import EXIT_FAILED, CommandFailed, json_option, settings
from caoctl.output import emit_json

VERSION_TIMEOUT = 5.0
SYMBOL = {"ok": "✓", "info": "-", "warn": "!", "error": "✗"}
PACKAGES = ("click", "msgspec", "pyte", "ptyprocess", "aiosqlite", "structlog", "mcp", "rich", "croniter")


@dataclass
class Check:
    check: str
    level: str  # ok | info | warn | error
    detail: str
    hint: str = ""

    @property
    def ok(self) -> bool:
        return self.level != "error"

    def as_dict(self) -> dict:
        return {"check": self.check, "ok": self.ok, **{k: v for k, v in asdict(self).items() if k != "check"}}


@click.command("doctor")
@json_option
@click.pass_context
def command(ctx, as_json):
    """Check the daemon, its socket and home, tmux, the provider CLIs and this install."""
    sock = settings(ctx).socket
    status, daemon_check = _daemon(sock)
    checks = [daemon_check]
    checks += _socket(sock, running=status is not None)
    checks.append(_home(Path(status.home) if status else paths.home_dir()))
    checks.append(_tmux())
    checks += _sinks(sock) if status is not None else []
    checks += _providers(sock)
    if status is not None:
        checks.append(_flows(sock))
    checks += _install()
    if as_json:
        emit_json([c.as_dict() for c in checks])
    else:
        for c in checks:
            click.echo(f"{SYMBOL[c.level]} {c.check}: {c.detail}" + (f"  → {c.hint}" if c.hint else ""))
    broken = [c for c in checks if not c.ok]
    if broken:
        if not as_json:
            raise CommandFailed(f"{len(broken)} problem{'s' if len(broken) > 1 else ''} found", EXIT_FAILED)
        ctx.exit(EXIT_FAILED)


# ---------------------------------------------------------------- checks


def _daemon(sock: Path):
    try:
        with Client(sock, connect_timeout=2) as c:
            st = c.call("daemon.status", timeout=5)
    except DaemonUnavailable as e:
        return None, Check("daemon", "error", str(e).split(";")[0],
                           "start one with: caoctl daemon start")
    except (OSError, RpcFailure) as e:
        return None, Check("daemon", "error", f"the daemon on {sock} did not answer properly: {e}",
                           "restart it: caoctl daemon stop; caoctl daemon start")
    detail = f"caod {st.version}, pid {st.pid}, up {_duration(st.uptime_s)}, agents: {st.agents_live} live"
    if st.version != __version__:
        return st, Check("daemon", "warn", detail + f" (this caoctl is {__version__})",
                         "restart the daemon after upgrading: caoctl daemon stop; caoctl daemon start")
    return st, Check("daemon", "ok", detail)


def _duration(secs: float) -> str:
    secs = int(secs)
    if secs < 60:
        return f"{secs}s"
    if secs < 3600:
        return f"{secs // 60}m{secs % 60:02d}s"
    return f"{secs // 3600}h{secs % 3600 // 60:02d}m"


def _private(path: Path, want: int, what: str, kind: str) -> Check:
    """`path` must be owned by us, with no permission bits for others beyond `want`."""
    st = path.lstat()
    mode = stat.S_IMODE(st.st_mode)
    if st.st_uid != os.getuid():
        return Check(what, "error", f"{path} belongs to uid {st.st_uid}, not to you (uid {os.getuid()})",
                     f"use a {kind} of your own (--socket / $CAOD_SOCKET)")
    if mode & ~want & 0o777:
        return Check(what, "error", f"{path} is {mode:04o}; others can reach it (want {want:04o})",
                     f"chmod {want:o} {path}")
    return Check(what, "ok", f"{path} is {mode:04o}, yours")


def _socket(sock: Path, running: bool) -> list[Check]:
    folder = sock.parent
    if not folder.exists():
        return [Check("socket folder", "info", f"{folder} does not exist yet",
                      "caoctl daemon start creates it (0700)")]
    if paths.shared_sticky(folder.stat()):  # like /tmp: caod allows it, see paths.socket_dir_problem
        checks = [Check("socket folder", "ok", f"{folder} is shared and sticky: only you can remove your socket")]
    else:
        checks = [_private(folder, 0o700, "socket folder", "folder")]
    if not os.path.lexists(sock):
        checks.append(Check("socket", "warn" if not running else "error", f"no socket at {sock}",
                            "start the daemon: caoctl daemon start"))
    elif not stat.S_ISSOCK(os.lstat(sock).st_mode):
        checks.append(Check("socket", "error", f"{sock} is not a socket", f"remove it: rm {sock}"))
    else:
        checks.append(_private(sock, 0o600, "socket", "socket"))
    return checks


def _home(home: Path) -> Check:
    if not home.exists():
        return Check("home", "info", f"{home} does not exist yet", "caoctl daemon start creates it")
    if not home.is_dir():
        return Check("home", "error", f"{home} is not a folder", "point $CAOD_HOME at a folder")
    if not os.access(home, os.W_OK | os.X_OK):
        return Check("home", "error", f"{home} is not writable by you", f"chmod u+rwx {home}")
    mode = stat.S_IMODE(home.stat().st_mode)
    if mode & 0o077:
        return Check("home", "error", f"{home} is {mode:04o}: others can get at what caod keeps there, "
                     "so caod refuses it", f"chmod 700 {home}")
    return Check("home", "ok", f"{home} is writable")


def _version(argv: list[str], path: str | None = None) -> tuple[bool, str]:
    """Run `argv` (a `--version` call) briefly, on `path` if given; (answered, first line of output)."""
    env = {**os.environ, "NO_COLOR": "1", "CI": "1", **({"PATH": path} if path is not None else {})}
    try:
        r = subprocess.run(argv, capture_output=True, text=True, timeout=VERSION_TIMEOUT,
                           stdin=subprocess.DEVNULL, env=env)
    except subprocess.TimeoutExpired:
        return False, f"no answer to --version within {VERSION_TIMEOUT:g}s"
    except OSError as e:
        return False, f"cannot run: {e.strerror or e}"
    lines = [ln.strip() for ln in (r.stdout or r.stderr).splitlines() if ln.strip()]
    if r.returncode != 0:
        return False, f"--version exited {r.returncode}" + (f": {lines[0][:80]}" if lines else "")
    return True, lines[0][:80] if lines else "(no version printed)"


def _sinks(sock: Path) -> list[Check]:
    """Notification sinks that keep failing, and plugins that did not load (caod.notify)."""
    try:
        with Client(sock, connect_timeout=2) as c:
            result = c.call("notify.list", timeout=5)
    except (OSError, DaemonUnavailable, RpcFailure) as e:
        return [Check("notifications", "warn", f"the daemon did not list its sinks: {e}")]
    checks = [Check(f"sink {s.id}", "warn", f"{s.kind} {s.target}: {s.failures} failures in a row, "
                    f"{s.queued} events queued; last error: {s.last_error}",
                    f"check the receiver, then: caoctl notify test {s.id}")
              for s in result.sinks if s.failures]
    checks += [Check(f"plugin {p.name}", "warn", p.error or "not loaded", "fix or uninstall the plugin's package")
               for p in result.plugins if not p.loaded]
    if not checks and (result.sinks or result.plugins):
        checks.append(Check("notifications", "ok", f"{len(result.sinks)} sinks delivering, "
                            f"{len(result.plugins)} plugins loaded"))
    return checks


def _tmux() -> Check:
    binary = shutil.which("tmux")
    if binary is None:
        return Check("tmux", "warn", "not installed (only `caoctl tmux` needs it)",
                     "apt install tmux  /  brew install tmux")
    ok, text = _version([binary, "-V"])
    return Check("tmux", "ok" if ok else "warn", f"{text} ({binary})" if ok else text)


def _providers(sock: Path) -> list[Check]:
    """Each provider's CLI where the daemon looks for it (its PATH: the one spawn uses)."""
    from caoctl.commands.provider import provider_view
    from caod.provider_checks import find_command

    view = provider_view(sock)
    daemon_path = view.checks.path
    checks: list[Check] = []
    if not view.on_daemon:
        checks.append(Check("provider PATH", "warn", f"{view.why_local}: checked your PATH, not a daemon's",
                            "a daemon starts agents with the PATH it was started with"))
    found: list[tuple[str, str | None, str]] = []  # (provider, binary path, command[0])
    for p in view.checks.providers:
        if p.error:
            checks.append(Check(f"provider {p.name}", "error", p.error.splitlines()[0],
                                f"fix or remove its file in {view.checks.providers_dir}"))
        elif p.name == "scripted":  # ships with caod and runs on the daemon's Python: nothing to ask
            checks.append(Check(f"provider {p.name}", "ok", f"built in (runs on Python {platform.python_version()})"))
        else:
            found.append((p.name, p.found, p.binary))
    # Asked as the daemon would run them: its PATH also finds what a script's #! names (node).
    env_path = daemon_path
    with ThreadPoolExecutor(max_workers=8) as pool:
        versions = dict(zip(
            [n for n, path, _ in found if path],
            pool.map(lambda path: _version([path, "--version"], env_path), [path for _, path, _ in found if path]),
        ))
    real = 0
    local_path = os.environ.get("PATH", os.defpath)
    for name, path, command0 in found:
        if path is None:
            mine = find_command(command0, local_path) if view.on_daemon else None
            if mine:  # the trap: fine in this shell, missing where agents start
                checks.append(Check(f"provider {name}", "warn",
                                    f"`{command0}` is on your PATH ({mine}) but not on the daemon's ({daemon_path})",
                                    "restart the daemon from this shell (caoctl daemon stop; caoctl daemon start), "
                                    "or spawn with --env PATH=..."))
            else:
                checks.append(Check(f"provider {name}", "info", f"`{command0}` is not on {view.whose_path}",
                                    f"install it to use --provider {name}"))
            continue
        ok, text = versions[name]
        real += ok
        checks.append(Check(f"provider {name}", "ok" if ok else "warn", f"{text} ({path})",
                            "" if ok else f"check that `{command0} --version` works"))
    if not real:
        checks.append(Check("providers", "warn", f"no provider CLI found on {view.whose_path}; "
                            "only the scripted agent can run",
                            "install one, e.g. Claude Code or Codex, then: caoctl spawn --provider NAME"))
    return checks


def _flows(sock: Path) -> Check:
    """The scheduler's next run, and a flow whose last run failed."""
    from caoctl.commands.flow import when

    try:
        with Client(sock, connect_timeout=2) as c:
            result = c.call("flow.list", timeout=5)
    except (OSError, DaemonUnavailable, RpcFailure) as e:
        return Check("flows", "warn", f"the daemon did not list its flows: {e}")
    if not result.flows:
        return Check("flows", "info", "no flows", "schedule one with: caoctl flow add FILE")
    enabled = sum(f.enabled for f in result.flows)
    detail = f"{len(result.flows)} flow{'s' if len(result.flows) != 1 else ''} ({enabled} enabled); next run: "
    detail += f"{result.next_flow} at {when(result.next_run)}" if result.next_run is not None else "none"
    failed = [f for f in result.flows if f.last_run is not None and f.last_run.outcome == "failed"]
    if failed:
        f = failed[0]
        return Check("flows", "warn", detail + f"; last run of {f.name} failed: {f.last_run.reason}",
                     f"see: caoctl flow history {f.name}")
    return Check("flows", "ok", detail)


def _install() -> list[Check]:
    checks = [Check("python", "ok", f"{platform.python_version()} ({sys.executable})")]
    if sys.version_info < (3, 11):
        checks[0] = Check("python", "error", f"{platform.python_version()} is too old", "caod needs Python 3.11+")
    versions, missing = [], []
    for pkg in PACKAGES:
        try:
            versions.append(f"{pkg} {metadata.version(pkg)}")
        except metadata.PackageNotFoundError:
            missing.append(pkg)
    checks.append(Check("caod", "ok", f"caod/caoctl {__version__}; " + ", ".join(versions)))
    if missing:
        checks.append(Check("packages", "error", f"missing: {', '.join(missing)}",
                            f"{sys.executable} -m pip install -e '.[test]' (or reinstall caod)"))
    return checks
