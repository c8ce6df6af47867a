"""Shared fixtures: real `caod` daemons on private sockets, and scripted agents.

`daemon` starts one daemon per test (its own socket folder and home under
/tmp, short enough for a Unix socket path), waits for it on `--ready-fd`
and stops it afterwards. `daemon_factory` makes more (or restarts one on the
same socket and home). Teardown never leaves a daemon or an agent running.
"""

from __future__ import annotations

import json
import os
import select
import shutil
import signal
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any, Callable

import pytest

from caoctl.client import Client
from caod.protocol import AgentInfo, Event

pytest_plugins = ["fakemodel.plugin"]  # the scripted model server fixture, `model_server`

ROOT = Path(__file__).resolve().parents[1]
READY_TIMEOUT = 20.0
STOP_TIMEOUT = 15.0


def _clean_environ() -> dict[str, str]:
    """os.environ without anything that would point at another daemon or script the agent."""
    return {
        k: v
        for k, v in os.environ.items()
        if not k.startswith(("CAO_SCRIPTED_", "CAOD_")) and k != "CAO_AGENT_ID"
    }


def _pid_alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    try:  # a zombie nobody reaps is not running
        with open(f"/proc/{pid}/stat") as fh:
            return fh.read().rsplit(")", 1)[1].split()[0] != "Z"
    except (OSError, IndexError):
        return True


def _pid_cmdline(pid: int) -> str:
    try:
        with open(f"/proc/{pid}/cmdline", "rb") as fh:
            return fh.read().replace(b"\0", b" ").decode(errors="replace")
    except OSError:
        return ""


def _agents_of(socket_path: Path) -> set[int]:
    """Processes the daemon on `socket_path` spawned as agents (their env names it), via /proc."""
    want_sock = f"CAOD_SOCKET={socket_path}".encode()
    found = set()
    for entry in os.listdir("/proc") if os.path.isdir("/proc") else []:
        if not entry.isdigit():
            continue
        try:
            with open(f"/proc/{entry}/environ", "rb") as fh:
                env = fh.read().split(b"\0")
        except OSError:
            continue
        if want_sock in env and any(v.startswith(b"CAO_AGENT_ID=") for v in env):
            found.add(int(entry))
    return found


class DaemonStartError(RuntimeError):
    pass


class DaemonProcess:
    """One `caod` subprocess on `socket` with state in `home`."""

    def __init__(self, socket_dir: Path, home: Path):
        self.socket_dir = socket_dir
        self.socket = socket_dir / "caod.sock"
        self.home = home
        self.proc: subprocess.Popen | None = None
        self.env = _clean_environ()
        self.env.update({"CAOD_SOCKET": str(self.socket), "CAOD_HOME": str(self.home)})
        self.stderr_path = home.parent / f"{home.name}.stderr"
        self._clients: list[Client] = []
        self.agent_pids: set[int] = set()  # every agent pid seen, to clean up after a crash
        self.failed_start = False  # already reported by start(): no second report at teardown
        self.wrapper: list[str] = []  # a command the daemon runs under (e.g. `unshare -n`: no network)

    # ------------------------------------------------------------ process

    def start(self, extra_args: list[str] | None = None, expect_ready: bool = True) -> "DaemonProcess":
        """Start the daemon; with expect_ready, return once it listens (or raise)."""
        r, w = os.pipe()
        try:
            with open(self.stderr_path, "ab") as err:
                self.proc = subprocess.Popen(
                    [*self.wrapper, sys.executable, "-m", "caod", "--socket", str(self.socket), "--home", str(self.home),
                     "--ready-fd", str(w), *(extra_args or [])],
                    env=self.env, cwd=str(ROOT), stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL,
                    stderr=err, pass_fds=(w,),
                )
        finally:
            os.close(w)
        try:
            if expect_ready:
                self._await_ready(r)
        except DaemonStartError:
            self.failed_start = True
            raise
        finally:
            os.close(r)
        return self

    def _await_ready(self, r: int) -> None:
        deadline = time.monotonic() + READY_TIMEOUT
        got = b""
        while b"\n" not in got:
            left = deadline - time.monotonic()
            if left <= 0:
                self.kill()
                raise DaemonStartError(f"caod not ready after {READY_TIMEOUT}s: {self.stderr()}")
            readable, _, _ = select.select([r], [], [], left)
            if not readable:
                continue
            chunk = os.read(r, 64)
            if not chunk:  # the write end closed without 'ready': the daemon died
                code = self.proc.wait(timeout=STOP_TIMEOUT) if self.proc else None
                raise DaemonStartError(f"caod exited before ready (code {code}): {self.stderr()}")
            got += chunk
        if got.strip() != b"ready":
            raise DaemonStartError(f"unexpected readiness message {got!r}")

    @property
    def pid(self) -> int:
        assert self.proc is not None
        return self.proc.pid

    def stderr(self) -> str:
        try:
            return self.stderr_path.read_text(errors="replace")
        except OSError:
            return ""

    def running(self) -> bool:
        return self.proc is not None and self.proc.poll() is None

    def stop(self, timeout: float = STOP_TIMEOUT) -> int | None:
        """SIGTERM, wait, SIGKILL if it hangs. Returns the exit status."""
        self._close_clients()
        if self.proc is None:
            return None
        if self.proc.poll() is None:
            self._remember_agents()
            self.proc.send_signal(signal.SIGTERM)
            try:
                self.proc.wait(timeout=timeout)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait(timeout=timeout)
        return self.proc.returncode

    def kill(self) -> None:
        """kill -9: no clean-up by the daemon (its agents lose their PTY)."""
        self._close_clients()
        if self.proc is not None and self.proc.poll() is None:
            self._remember_agents()
            self.proc.kill()
            self.proc.wait(timeout=STOP_TIMEOUT)

    def reap_agents(self, timeout: float = 5.0) -> list[int]:
        """Kill agent processes that outlived their daemon; returns those found alive."""
        known = {p for p in self.agent_pids if "scripted_cli" in _pid_cmdline(p)}
        alive = [p for p in known | _agents_of(self.socket) if _pid_alive(p)]
        deadline = time.monotonic() + timeout
        for pid in alive:  # they got SIGHUP with their PTY; give them a moment
            while _pid_alive(pid) and time.monotonic() < deadline:
                time.sleep(0.05)
        leftover = [p for p in alive if _pid_alive(p)]
        for pid in leftover:
            try:
                os.kill(pid, signal.SIGKILL)
            except ProcessLookupError:
                pass
        return leftover

    def _remember_agents(self) -> None:
        try:
            with Client(self.socket, connect_timeout=2) as c:
                for a in c.call("agent.list", {}, timeout=5).agents:
                    if a.pid:
                        self.agent_pids.add(a.pid)
        except Exception:
            pass

    # ------------------------------------------------------------ clients

    def client(self) -> Client:
        c = Client(self.socket)
        self._clients.append(c)
        return c

    def _close_clients(self) -> None:
        for c in self._clients:
            try:
                c.close()
            except OSError:
                pass
        self._clients.clear()


class DaemonFactory:
    def __init__(self):
        self._made: list[DaemonProcess] = []
        self._dirs: list[Path] = []

    def new(self, start: bool = True) -> DaemonProcess:
        """A daemon with a fresh socket folder and home."""
        sock_dir = Path(tempfile.mkdtemp(prefix="caod-", dir="/tmp"))
        state = Path(tempfile.mkdtemp(prefix="caodh-", dir="/tmp"))
        self._dirs += [sock_dir, state]
        d = DaemonProcess(sock_dir, state / "home")
        self._made.append(d)
        return d.start() if start else d

    def same(self, other: DaemonProcess, start: bool = True, **kw: Any) -> DaemonProcess:
        """Another daemon process on `other`'s socket and home (a restart, or a rival)."""
        d = DaemonProcess(other.socket_dir, other.home)
        d.agent_pids = other.agent_pids
        self._made.append(d)
        return d.start(**kw) if start else d

    def cleanup(self) -> list[str]:
        problems = []
        for d in reversed(self._made):
            was_running = d.running()
            code = d.stop()
            if was_running and code != 0:
                problems.append(f"caod pid {d.pid} exited {code} on SIGTERM: {d.stderr()[-2000:]}")
            if "Traceback" in d.stderr() and not d.failed_start:
                problems.append(f"caod pid {d.pid} printed a traceback: {d.stderr()[-2000:]}")
        for d in self._made:
            leftover = d.reap_agents()
            if leftover:
                problems.append(f"agent processes outlived their daemon: {leftover}")
        for path in self._dirs:
            if path.exists():
                os.chmod(path, 0o700)
            shutil.rmtree(path, ignore_errors=True)
        return problems


def _factory():
    """A DaemonFactory whose daemons and agents are all gone afterwards (or the test fails)."""
    factory = DaemonFactory()
    try:
        yield factory
    finally:
        problems = factory.cleanup()
    assert not problems, problems


@pytest.fixture
def daemon_factory():
    yield from _factory()


@pytest.fixture(scope="module")
def module_daemon_factory():
    """A DaemonFactory for a whole test module (tests that share daemons made once)."""
    yield from _factory()


@pytest.fixture
def daemon(daemon_factory) -> DaemonProcess:
    return daemon_factory.new()


@pytest.fixture(scope="module")
def shared_daemon(module_daemon_factory):
    """One daemon for a whole test module, for tests that leave no state behind."""
    return module_daemon_factory.new()


@pytest.fixture
def client(daemon) -> Client:
    return daemon.client()


# ---------------------------------------------------------------- helpers


def spawn_scripted(
    client: Client,
    rules: dict | list | None = None,
    name: str | None = None,
    no_sync: bool = False,
    env: dict[str, str] | None = None,
    **kw: Any,
) -> AgentInfo:
    """Spawn the scripted agent; `rules` go in its env as CAO_SCRIPTED_RULES JSON."""
    agent_env = dict(env or {})
    if rules is not None:
        agent_env["CAO_SCRIPTED_RULES"] = json.dumps(rules)
    if no_sync:
        agent_env["CAO_SCRIPTED_NO_SYNC"] = "1"
    params: dict[str, Any] = {"provider": "scripted", "env": agent_env, "cwd": str(ROOT), **kw}
    if name is not None:
        params["name"] = name
    return client.call("agent.spawn", params, timeout=30)


def wait_status(client: Client, agent_id: str, *statuses: str, timeout: float = 10) -> AgentInfo:
    """Block until the agent is in one of `statuses` (agent.wait)."""
    wanted = [getattr(s, "value", s) for s in statuses]
    return client.call("agent.wait", {"agent": agent_id, "statuses": wanted, "timeout": timeout}, timeout=timeout + 10)


def send(client: Client, agent_id: str, text: str, wait: bool = True, timeout: float = 20):
    return client.call("agent.send", {"agent": agent_id, "text": text, "wait": wait, "timeout": timeout},
                       timeout=timeout + 10)


def ready_agent(client: Client, rules: dict | list | None = None, **kw: Any) -> AgentInfo:
    """A scripted agent that finished starting (idle)."""
    info = spawn_scripted(client, rules, **kw)
    return wait_status(client, info.id, "idle", timeout=20)


def events_until(client: Client, pred: Callable[[Event], bool], timeout: float = 10) -> list[Event]:
    """Events pushed to a subscribed client, up to and including the first matching `pred`."""
    deadline = time.monotonic() + timeout
    seen: list[Event] = []
    while True:
        left = deadline - time.monotonic()
        if left <= 0:
            raise AssertionError(f"no matching event within {timeout}s; saw {seen}")
        client.sock.settimeout(left)
        try:
            event = next(client.events())
        except TimeoutError:
            continue
        finally:
            client.sock.settimeout(None)
        seen.append(event)
        if pred(event):
            return seen


def wait_for(pred: Callable[[], Any], what: str, timeout: float = 20) -> Any:
    """Until `pred()` is truthy (its value is returned); fails naming `what` after `timeout`."""
    deadline = time.monotonic() + timeout
    while not (got := pred()):
        assert time.monotonic() < deadline, f"{what}: not within {timeout}s"
        time.sleep(0.05)  # test-side pacing only; the daemon is event-driven
    return got


# The helpers as fixtures, so test modules never import from a conftest.
@pytest.fixture(name="spawn_scripted")
def _spawn_scripted_fixture():
    return spawn_scripted


@pytest.fixture(name="wait_status")
def _wait_status_fixture():
    return wait_status


@pytest.fixture(name="send")
def _send_fixture():
    return send


@pytest.fixture(name="ready_agent")
def _ready_agent_fixture():
    return ready_agent


@pytest.fixture(name="events_until")
def _events_until_fixture():
    return events_until


@pytest.fixture(name="wait_for")
def _wait_for_fixture():
    return wait_for


# ---------------------------------------------------------------- git repositories (worktrees)


class GitRepo:
    """A real git repository in a temporary folder, with one commit and a name to commit as."""

    def __init__(self, path: Path):
        self.path = path
        path.mkdir(parents=True)
        self.git("init", "--quiet", "--initial-branch=main")
        self.git("config", "user.name", "Test Person")
        self.git("config", "user.email", "test@example.invalid")
        (path / "shared.txt").write_text("line 1\n")
        self.git("add", "shared.txt")
        self.git("commit", "--quiet", "-m", "first")

    def git(self, *args: str, cwd: Path | str | None = None) -> str:
        env = {k: v for k, v in os.environ.items() if not k.startswith("GIT_")}
        r = subprocess.run(["git", "-C", str(cwd or self.path), *args], capture_output=True, text=True, env=env,
                           timeout=60)
        assert r.returncode == 0, (args, r.stderr)
        return r.stdout.strip()

    def head(self) -> str:
        return self.git("rev-parse", "HEAD")

    def status(self) -> str:
        """`git status --porcelain` of the repository's folder: "" when clean."""
        return self.git("status", "--porcelain", "--untracked-files=all")


@pytest.fixture
def git_repo(tmp_path) -> GitRepo:
    return GitRepo(tmp_path / "repo")


def agent_token(client: Client, agent_id: str) -> str:
    """The agent's secret, read the way only its own user can: from its environment."""
    pid = client.call("agent.get", {"agent": agent_id}).pid
    env = open(f"/proc/{pid}/environ", "rb").read().split(b"\0")
    return next(e.split(b"=", 1)[1].decode() for e in env if e.startswith(b"CAO_AGENT_TOKEN="))


@pytest.fixture(name="agent_token")
def _agent_token_fixture():
    return agent_token


# ---------------------------------------------------------------- workflows

# The scripted agent under another name ({name} = "twin" in its replies): workflows across two providers.
TWIN_PROVIDER = """
name = "twin"
description = "the scripted agent under another name"
command = [{python}, "-P", "-m", "providers.scripted_cli", "--name", "twin"]
verified = "scripted"
system_prompt_args = ["--system-prompt-file", "${{prompt_file}}"]
mcp_args = ["--mcp-config", "${{mcp_config}}"]

[[patterns]]
status = "waiting_user_answer"
regex = "^\\\\? Do you want to proceed\\\\?"
region = 6

[[patterns]]
status = "processing"
regex = "esc to interrupt"
region = 3

[[patterns]]
status = "error"
regex = "^  ✗ error · "
region = 2

[[patterns]]
status = "idle"
regex = "^  ready · \\\\? for help"
region = 2

[answer]
start = "^● "
stop = "^(╭|> |✗ Error: |Goodbye\\\\.$|\\\\^C$)"
indent = "  "
"""
# Each answer names the agent and its turn, then repeats exactly what it was sent.
ECHO_RULES: dict = {"rules": [], "default": {"reply": "[{name} turn {turn}] {text}", "think": 0.05}}


def write_twin_provider(folder: Path) -> None:
    """The `twin` provider (the scripted agent under another name) as a user provider file."""
    (folder / "twin.toml").write_text(TWIN_PROVIDER.format(python=json.dumps(sys.executable)))


@pytest.fixture(name="write_twin_provider")
def _write_twin_provider_fixture():
    return write_twin_provider


@pytest.fixture
def workflow_daemons(daemon_factory, tmp_path):
    """make(rules=None, like=None): a daemon that knows the `twin` provider, its agents
    following `rules` (default ECHO_RULES); `like` restarts on another daemon's home."""
    folder = tmp_path / "providers"
    folder.mkdir(exist_ok=True)
    write_twin_provider(folder)

    def make(rules: dict | None = None, like: DaemonProcess | None = None) -> DaemonProcess:
        d = daemon_factory.same(like, start=False) if like is not None else daemon_factory.new(start=False)
        d.env["CAOD_PROVIDERS_DIR"] = str(folder)
        d.env["CAO_SCRIPTED_RULES"] = json.dumps(rules or ECHO_RULES)
        return d.start()
    return make
