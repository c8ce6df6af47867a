"""The status matrix: each real CLI x {default, yolo} x {24x80, 40x120, 50x200, 60x250}.

Per cell: start -> `idle`; one turn -> `processing` -> `completed` with the exact
scripted answer; and a resize in the middle of that turn (what `caoctl attach`
does when a viewer's terminal has another size), which must neither lose the
turn nor end it early. Yolo is the provider's own yolo flags (`agent.spawn`'s
`yolo`, what `caoctl launch --yolo` passes).

The eight cells of one CLI run at once in one daemon against one fake model
(its rules answer each agent by its own prompt), so the tier stays a few
minutes long; each cell is still its own test, so a report names the cell.
"""

from __future__ import annotations

import threading
import time
from dataclasses import dataclass, field

import pytest

from caoctl.client import Client
from fakemodel.server import FakeModel, Reply
from realclis import CLIS, START_TIMEOUT, TURN_TIMEOUT, Cli, agent_env, binary, opencode_project

pytestmark = [pytest.mark.e2e, pytest.mark.timeout(600)]

MODES = ("default", "yolo")
SIZES = ((24, 80), (40, 120), (50, 200), (60, 250))
REPLY_DELAY = 2.5  # the model holds its answer this long: the resize lands mid-turn
# Cells run at once, per CLI. Eight OpenCode processes (Bun, ~350 MB each) starting together
# on two cores took over a minute to be ready: four at a time.
AT_ONCE = {"opencode": 4}


def resized(rows: int, cols: int) -> tuple[int, int]:
    """The size a viewer brings mid-turn: a small terminal, or a bigger one for the smallest."""
    return (40, 120) if (rows, cols) == (24, 80) else (24, 80)


def word(provider: str, mode: str, rows: int, cols: int) -> str:
    """The cell's own answer: the fake model serves every cell of the module."""
    return f"PONG-{provider}-{mode}-{rows}x{cols}"


@dataclass
class CellRun:
    agent: str = ""
    spawned: float = 0.0
    idle_after: float | None = None  # seconds from spawn to idle
    status_at_resize: str | None = None
    ended: str | None = None
    answer: str | None = None
    error: str | None = None
    trail: list[tuple[str, str]] = field(default_factory=list)  # (status, signal)
    screen: str = ""

    def report(self) -> str:
        return (f"agent {self.agent}: idle after {self.idle_after}, status at resize {self.status_at_resize}, "
                f"ended {self.ended}, answer {self.answer!r}, error {self.error}\ntrail: {self.trail}\n{self.screen}")


class Matrix:
    """Runs one CLI's cells at once (on first use) and keeps the results for the cell tests."""

    def __init__(self, factory, model: FakeModel, workdir):
        self._factory = factory
        self._model = model
        self._workdir = workdir
        self._runs: dict[str, dict[tuple[str, int, int], CellRun]] = {}
        opencode_project(model.url, workdir)
        model.rule(r"Reply with the word (PONG-[\w-]+)\.", lambda m: Reply(m[1], delay=REPLY_DELAY))

    def run(self, cli: Cli) -> dict[tuple[str, int, int], CellRun]:
        if cli.provider not in self._runs:
            self._runs[cli.provider] = self._run(cli)
        return self._runs[cli.provider]

    def _run(self, cli: Cli) -> dict[tuple[str, int, int], CellRun]:
        daemon = self._factory.new(start=False)
        for key in list(daemon.env):
            if key.lower() in ("http_proxy", "https_proxy", "all_proxy", "no_proxy"):
                del daemon.env[key]
        daemon.env.update(agent_env(self._model.url))
        daemon.start()
        runs: dict[tuple[str, int, int], CellRun] = {}
        cells = [(mode, rows, cols) for mode in MODES for rows, cols in SIZES]
        at_once = AT_ONCE.get(cli.provider, len(cells))
        with Client(daemon.socket) as c:
            for group in range(0, len(cells), at_once):
                threads = []
                for mode, rows, cols in cells[group:group + at_once]:
                    info = c.call("agent.spawn", {
                        "provider": cli.provider, "cwd": str(self._workdir), "rows": rows, "cols": cols,
                        "args": cli.launch_args(self._model.url), "yolo": mode == "yolo"}, timeout=30)
                    run = runs[(mode, rows, cols)] = CellRun(agent=info.id, spawned=time.monotonic())
                    threads.append(threading.Thread(target=self._cell, args=(daemon, run, cli, mode, rows, cols)))
                for t in threads:
                    t.start()
                for t in threads:
                    t.join()
                for mode, rows, cols in cells[group:group + at_once]:
                    run = runs[(mode, rows, cols)]
                    events = c.call("events.list", {"agent": run.agent, "limit": 1000}).events
                    run.trail = [(e.new.value, e.signal.value) for e in events if e.kind.value == "status"]
                    run.screen = c.call("agent.output", {"agent": run.agent}).text or ""
                    if run.idle_after is not None:
                        run.idle_after = round(run.idle_after - run.spawned, 1)
                    c.call("agent.kill", {"agent": run.agent, "grace": 3}, timeout=30)  # room for the next group
        daemon.stop()  # frees the machine for the next CLI's cells
        return runs

    def _cell(self, daemon, run: CellRun, cli: Cli, mode: str, rows: int, cols: int) -> None:
        text = f"Reply with the word {word(cli.provider, mode, rows, cols)}."
        try:
            with Client(daemon.socket) as c, Client(daemon.socket) as sender:
                c.call("agent.wait", {"agent": run.agent, "statuses": ["idle"], "timeout": START_TIMEOUT},
                       timeout=START_TIMEOUT + 10)
                run.idle_after = time.monotonic()
                result: dict = {}

                def send() -> None:
                    try:
                        result["turn"] = sender.call("agent.send", {"agent": run.agent, "text": text, "wait": True,
                                                                    "timeout": TURN_TIMEOUT}, timeout=TURN_TIMEOUT + 10)
                    except Exception as e:  # reported by the cell's test
                        result["error"] = f"send: {e}"

                turn = threading.Thread(target=send)
                turn.start()
                self._until_the_model_has(text, timeout=TURN_TIMEOUT)
                time.sleep(REPLY_DELAY / 3)  # the CLI is working and waiting for its answer
                run.status_at_resize = c.call("agent.get", {"agent": run.agent}).status.value
                c.call("agent.resize", {"agent": run.agent, "rows": resized(rows, cols)[0],
                                        "cols": resized(rows, cols)[1]})
                turn.join()
                if "error" in result:
                    run.error = result["error"]
                else:
                    run.ended, run.answer = result["turn"].ended.value, result["turn"].answer
        except Exception as e:
            run.error = run.error or f"{type(e).__name__}: {e}"

    def _until_the_model_has(self, text: str, timeout: float) -> None:
        deadline = time.monotonic() + timeout
        while not any(text in r.user_text for r in self._model.main_requests()):
            if time.monotonic() > deadline:
                raise TimeoutError(f"the model never got {text!r}")
            time.sleep(0.05)


@pytest.fixture(scope="module")
def matrix(module_daemon_factory, tmp_path_factory):
    model = FakeModel()
    try:
        yield Matrix(module_daemon_factory, model, tmp_path_factory.mktemp("matrix", numbered=True))
    finally:
        model.stop()


CELLS = [pytest.param(cli, mode, rows, cols, id=f"{cli.provider}-{mode}-{rows}x{cols}")
         for cli in CLIS for mode in MODES for rows, cols in SIZES]


@pytest.mark.parametrize("cli, mode, rows, cols", CELLS)
def test_cell(matrix, cli, mode, rows, cols):
    binary(cli.binary)
    run = matrix.run(cli)[(mode, rows, cols)]

    assert run.error is None, run.report()
    assert run.idle_after is not None and run.idle_after < START_TIMEOUT, run.report()
    assert run.status_at_resize == "processing", f"the resize did not land mid-turn\n{run.report()}"
    assert (run.ended, run.answer) == ("completed", word(cli.provider, mode, rows, cols)), run.report()
    # after idle: the turn, and nothing else (no early completion, no idle/timeout, no error)
    after = [s for s, _ in run.trail[run.trail.index(("idle", "screen")):]]
    assert after == ["idle", "processing", "completed"], run.report()
