"""Capture labelled screens from the pinned real CLIs, for tests/providers/test_captures.py.

    .venv/bin/python tests/e2e/capture_screens.py                 # every CLI
    .venv/bin/python tests/e2e/capture_screens.py codex opencode  # some

For each CLI x {default, yolo} x {24x80, 40x120, 50x200, 60x250}, against the fake model:
the fresh prompt (`idle`), a turn while the model still holds its answer (`processing`),
the finished turn (`completed`, with the exact answer), and in the default mode an approval
(`waiting_user_answer`). Plus each CLI's first run with no key (its login dialog or error),
and the raw byte stream of one finished turn per mode at 40x120 (titles and redraws in it).

A label says what the capture's moment was by construction (the model had not answered yet;
the answer was streamed; the tool call was sent and nothing ran), not what caod read: the
test then checks that caod reads each one right. Look at new captures before committing them.
Writes tests/providers/captures/<provider>/<state>-<mode>-<rows>x<cols>.txt and labels.json.
"""

from __future__ import annotations

import json
import os
import shutil
import sys
import tempfile
import threading
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
ROOT = HERE.parents[1]
sys.path[:0] = [str(ROOT / "tests"), str(HERE), str(ROOT)]

from caoctl.client import Client  # noqa: E402
from conftest import DaemonFactory  # noqa: E402
from fakemodel.server import FakeModel, Reply  # noqa: E402
from realclis import BIN, CLIS, DEAD, START_TIMEOUT, TURN_TIMEOUT, Cli, agent_env, opencode_project  # noqa: E402

OUT = ROOT / "tests" / "providers" / "captures"
MODES = ("default", "yolo")
SIZES = ((24, 80), (40, 120), (50, 200), (60, 250))
HOLD = 6.0  # the model holds a `processing` turn's answer this long


def version(cli: Cli) -> str:
    package = {"claude": "@anthropic-ai/claude-code", "codex": "@openai/codex", "gemini": "@google/gemini-cli",
               "qwen": "@qwen-code/qwen-code", "opencode": "opencode-ai"}[cli.binary]
    return json.loads((BIN.parent / package / "package.json").read_text())["version"]


class Capturer:
    def __init__(self, cli: Cli):
        self.cli = cli
        self.labels: list[dict] = []
        self.folder = OUT / cli.provider
        self.model = FakeModel()
        self.model.rule(r"Reply at once with the word (\S+)\.", lambda m: Reply(m[1]))
        self.model.rule(r"Reply slowly with the word (\S+)\.", lambda m: Reply(m[1], delay=HOLD))
        self.model.rule(r"Create the file now\.", cli.shell)
        self.lock = threading.Lock()

    def save(self, name: str, text: str | bytes, expected: str, mode: str, rows: int, cols: int, note: str,
             **extra) -> None:
        path = self.folder / name
        path.write_bytes(text if isinstance(text, bytes) else (text.rstrip("\n") + "\n").encode())
        label = {"file": f"{self.cli.provider}/{name}", "provider": self.cli.provider,
                 "cli_version": version(self.cli), "expected": expected,
                 "kind": "raw_stream" if isinstance(text, bytes) else "screen", "synthetic": False,
                 "mode": mode, "render_hint": {"rows": rows, "cols": cols}, "note": note, **extra}
        with self.lock:
            self.labels.append(label)

    def run(self) -> list[dict]:
        shutil.rmtree(self.folder, ignore_errors=True)
        self.folder.mkdir(parents=True)
        factory = DaemonFactory()
        workdir = Path(tempfile.mkdtemp(prefix="caod-capture-", dir="/tmp"))
        try:
            daemon = factory.new(start=False)
            daemon.env.update(agent_env(self.model.url))
            opencode_project(self.model.url, workdir)
            daemon.start()
            cells = [threading.Thread(target=self.cell, args=(daemon, workdir, mode, rows, cols))
                     for mode in MODES for rows, cols in SIZES]
            for t in cells:
                t.start()
            for t in cells:
                t.join()
            daemon.stop()
            self.first_run(factory, workdir)
        finally:
            problems = factory.cleanup()
            self.model.stop()
            shutil.rmtree(workdir, ignore_errors=True)
        if problems:
            print(f"{self.cli.provider}: {problems}", file=sys.stderr)
        return self.labels

    def cell(self, daemon, workdir: Path, mode: str, rows: int, cols: int) -> None:
        tag = f"{mode}-{rows}x{cols}"
        with Client(daemon.socket) as c:
            agent = c.call("agent.spawn", {"provider": self.cli.provider, "cwd": str(workdir), "rows": rows,
                                           "cols": cols, "yolo": mode == "yolo",
                                           "args": self.cli.launch_args(self.model.url)}, timeout=30).id
            c.call("agent.wait", {"agent": agent, "statuses": ["idle"], "timeout": START_TIMEOUT},
                   timeout=START_TIMEOUT + 10)
            time.sleep(1.5)  # settled: MCP servers up, no more start-up notices
            self.save(f"idle-{tag}.txt", self.screen(c, agent), "idle", mode, rows, cols,
                      "fresh: the prompt, no input sent yet")

            slow = f"SLOW-{self.cli.provider}-{tag}"
            done: dict = {}
            sender = threading.Thread(target=lambda: done.setdefault("turn", self.turn(
                daemon, agent, f"Reply slowly with the word {slow}.")))
            sender.start()
            self.until_the_model_has(slow)
            time.sleep(HOLD / 2)
            self.save(f"processing-{tag}.txt", self.screen(c, agent), "processing", mode, rows, cols,
                      f"a task sent; the model holds its answer for {HOLD:g} s and this is {HOLD / 2:g} s in")
            sender.join()

            word = f"DONE-{self.cli.provider}-{tag}"
            finished = self.turn(daemon, agent, f"Reply at once with the word {word}.")
            time.sleep(1.0)  # the footer and any late redraw are on screen
            self.save(f"completed-{tag}.txt", self.screen(c, agent), "completed", mode, rows, cols,
                      "the second turn finished; the model streamed exactly this answer", extract=word,
                      expected_by_input={"no_input_sent": "idle", "input_sent": "completed"})
            if (rows, cols) == (40, 120):
                transcript = daemon.home / "transcripts" / f"{agent}.log"
                self.save(f"session-{tag}.raw", transcript.read_bytes(), "completed", mode, rows, cols,
                          "the raw stream from start to the second turn's end", extract=word)
            if mode == "default":
                self.turn(daemon, agent, "Create the file now.", ended=("waiting_user_answer",))
                time.sleep(1.0)
                self.save(f"waiting-{tag}.txt", self.screen(c, agent), "waiting_user_answer", mode, rows, cols,
                          "the model called a shell tool that needs approval; nothing has run")
            c.call("agent.kill", {"agent": agent, "grace": 2}, timeout=20)

    def first_run(self, factory, workdir: Path) -> None:
        """No key, caod's isolated home: the CLI's login dialog, or its error."""
        daemon = factory.new(start=False)
        env = agent_env(DEAD)
        for key in ("ANTHROPIC_API_KEY", "OPENAI_API_KEY", "GEMINI_API_KEY", "OPENAI_MODEL"):
            env.pop(key, None)
            daemon.env.pop(key, None)
        daemon.env.update(env)
        if shutil.which("unshare"):
            daemon.wrapper = ["unshare", "-n"] if os.geteuid() == 0 else ["unshare", "-rn"]
        daemon.start()
        with Client(daemon.socket) as c:
            agent = c.call("agent.spawn", {"provider": self.cli.provider, "cwd": str(workdir)}, timeout=30).id
            time.sleep(8.0)  # long enough for every CLI to show its first screen
            text = self.screen(c, agent)
            status = c.call("agent.get", {"agent": agent}).status.value
        daemon.stop()
        if status in ("waiting_user_answer", "error"):
            self.save("first-run-no-key-40x120.txt", text, status, "default", 40, 120,
                      "a first run with no API key in caod's isolated home")

    def turn(self, daemon, agent: str, text: str, ended=("completed",)):
        with Client(daemon.socket) as c:
            r = c.call("agent.send", {"agent": agent, "text": text, "wait": True, "timeout": TURN_TIMEOUT},
                       timeout=TURN_TIMEOUT + 10)
        if r.ended.value not in ended:
            raise RuntimeError(f"{self.cli.provider} {agent}: {text!r} ended {r.ended.value}")
        return r

    def screen(self, c, agent: str) -> str:
        return c.call("agent.output", {"agent": agent}).text or ""

    def until_the_model_has(self, text: str) -> None:
        deadline = time.monotonic() + TURN_TIMEOUT
        while not any(text in r.user_text for r in self.model.main_requests()):
            if time.monotonic() > deadline:
                raise TimeoutError(f"the model never got {text!r}")
            time.sleep(0.05)


def main(argv: list[str]) -> int:
    wanted = [c for c in CLIS if not argv or c.provider in argv]
    labels_path = OUT / "labels.json"
    labels = json.loads(labels_path.read_text()) if labels_path.exists() else []
    for cli in wanted:
        if not (BIN / cli.binary).exists():
            print(f"skipped {cli.provider}: {cli.binary} is not installed (run .ci/install-clis)", file=sys.stderr)
            continue
        print(f"capturing {cli.provider} ...", file=sys.stderr)
        fresh = Capturer(cli).run()
        labels = [label for label in labels if label["provider"] != cli.provider] + fresh
        labels_path.write_text(json.dumps(sorted(labels, key=lambda x: x["file"]), indent=1, ensure_ascii=False)
                               + "\n")
        print(f"  {len(fresh)} screens", file=sys.stderr)
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
