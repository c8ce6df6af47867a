"""The scripted agent, driven through a real PTY and read back with pyte."""

from __future__ import annotations

import json
import os
import re
import select
import subprocess
import sys
import time
from pathlib import Path

import pyte
import pytest
from ptyprocess import PtyProcess

from providers.scripted_cli import render
from providers.scripted_cli.rules import RulesError, parse_rules
from providers.scripted_cli.term import InputParser

ROOT = Path(__file__).resolve().parents[2]
TIMEOUT = 10.0

BANNER = [
    "╭─ scripted-agent ─────────────────────╮",
    "│ A fake coding CLI for caod tests     │",
    "╰──────────────────────────────────────╯",
    "",
]
TOP = "╭" + "─" * 78 + "╮"
BOTTOM = "╰" + "─" * 78 + "╯"
READY = "  ready · ? for help"
BUSY = re.compile(r"^[⠋⠙⠹⠸⠼⠴⠦⠧⠇⠏] Thinking… \(\d+s · esc to interrupt\)$")


def box(text=""):
    return "│ > " + text.ljust(74) + " │"


def idle(text="", footer=READY):
    return [TOP, box(text), BOTTOM, footer]


def contains_seq(lines, seq):
    n = len(seq)
    return any(lines[i:i + n] == seq for i in range(len(lines) - n + 1))


class Agent:
    """One scripted agent in a PTY, its output fed to a pyte screen."""

    def __init__(self, *args, rules=None, env=None, rows=40, cols=120):
        environ = {k: v for k, v in os.environ.items() if not k.startswith("CAO_SCRIPTED_")}
        if rules is not None:
            environ["CAO_SCRIPTED_RULES"] = json.dumps(rules)
        environ.update(env or {})
        self.started = time.time()
        self.proc = PtyProcess.spawn(
            [sys.executable, "-m", "providers.scripted_cli", *args],
            cwd=str(ROOT), env=environ, dimensions=(rows, cols))
        self.screen = pyte.Screen(cols, rows)
        self.stream = pyte.ByteStream(self.screen)
        self.raw = bytearray()
        self.eof = False

    # -- reading --

    def pump(self, timeout):
        if self.eof:
            return False
        ready, _, _ = select.select([self.proc.fd], [], [], timeout)
        if not ready:
            return False
        try:
            data = os.read(self.proc.fd, 65536)
        except OSError:
            data = b""
        if not data:
            self.eof = True
            return False
        self.raw.extend(data)
        self.stream.feed(data)
        return True

    def lines(self):
        return [line.rstrip() for line in self.screen.display]

    def dump(self):
        return "\n".join(f"{i:2}|{line}" for i, line in enumerate(self.lines()))

    def wait_for(self, predicate, what, timeout=TIMEOUT):
        deadline = time.monotonic() + timeout
        while not predicate(self):
            left = deadline - time.monotonic()
            if left <= 0 or self.eof:
                pytest.fail(f"timed out waiting for {what}; screen:\n{self.dump()}\nraw tail: "
                            f"{bytes(self.raw[-300:])!r}")
            self.pump(min(left, 0.2))

    def wait_seq(self, seq, timeout=TIMEOUT):
        self.wait_for(lambda a: contains_seq(a.lines(), seq), f"lines {seq!r}", timeout)

    def wait_ready(self):
        self.wait_seq(idle())

    def wait_exit(self, timeout=TIMEOUT):
        deadline = time.monotonic() + timeout
        while not self.eof:
            if time.monotonic() > deadline:
                pytest.fail(f"agent did not exit; screen:\n{self.dump()}")
            self.pump(0.2)
        deadline = time.monotonic() + timeout
        while self.proc.isalive():
            if time.monotonic() > deadline:
                pytest.fail("agent closed its pty but did not exit")
            time.sleep(0.01)
        return self.proc.exitstatus

    # -- writing --

    def send(self, data):
        self.proc.write(data if isinstance(data, bytes) else data.encode())

    def submit(self, text):
        self.send(text)
        self.wait_seq([box(text.replace("\n", "⏎"))])
        self.send("\r")

    def close(self):
        if self.proc.isalive():
            self.proc.terminate(force=True)
        self.proc.close()


@pytest.fixture
def spawn():
    agents = []

    def make(*args, **kw):
        agent = Agent(*args, **kw)
        agents.append(agent)
        return agent

    yield make
    for agent in agents:
        agent.close()


PING = {"match": "^ping$", "reply": "pong", "think": 0.3}
DEPLOY = {"match": r"deploy (?P<what>\w+)", "approval": "Run deploy of {what}?",
          "reply": "deployed {what}", "reply_declined": "not deployed"}


# -- screens ------------------------------------------------------------------------

def test_banner_then_idle_box(spawn):
    agent = spawn()
    agent.wait_ready()
    assert agent.lines()[:8] == BANNER + idle()
    assert agent.raw.startswith(b"\x1b[?2004h")


def test_ping_reply_block(spawn):
    agent = spawn(rules={"rules": [dict(PING, think=1.0)]})
    agent.wait_ready()
    for ch in "ping":
        agent.send(ch)
    agent.wait_seq([box("ping")])
    agent.send("\r")
    agent.wait_for(lambda a: any(BUSY.match(line) for line in a.lines()), "spinner")
    lines = agent.lines()
    row = next(i for i, line in enumerate(lines) if BUSY.match(line))
    assert lines[row - 2:row] == ["> ping", ""]
    assert lines[row + 1] == render.BUSY_FOOTER
    agent.wait_seq(["> ping", "", "● pong", ""] + idle())
    assert not any(BUSY.match(line) for line in agent.lines())
    # the spinner really animated: several distinct frames went out
    assert len(set(re.findall("([⠋⠙⠹⠸⠼⠴⠦⠧⠇⠏]) Thinking".encode(), agent.raw))) >= 3


def test_default_echo_of_split_multiline_paste(spawn):
    agent = spawn()
    agent.wait_ready()
    for piece in (b"\x1b[20", b"0~line one\nli", b"ne two\x1b[2", b"01~"):
        agent.send(piece)
        time.sleep(0.05)           # let each piece arrive in its own read
    agent.wait_seq([box("line one⏎line two")])
    assert not any(line.startswith("> line") for line in agent.lines())   # not submitted
    agent.send("\r")
    agent.wait_seq(["> line one", "  line two", "", "● echo: line one", "  line two", ""] + idle())


def test_late_reply_draws_the_idle_prompt_first(spawn):
    agent = spawn(rules={"rules": [{"match": "^ping$", "reply": "pong", "think": 0.1, "late": 0.8}]})
    agent.wait_ready()
    agent.submit("ping")
    agent.wait_seq(["> ping", ""] + idle())  # the prompt is back, with no reply under the task
    prompt_at = time.monotonic()
    assert "● pong" not in agent.lines()
    agent.wait_seq(["> ping", "", "● pong", ""] + idle())
    assert time.monotonic() - prompt_at >= 0.5


def test_templates_turn_name_and_groups(spawn):
    rules = {"rules": [{"match": r"^hi (?P<who>\w+)(?P<opt>!)?", "reply": "{name} #{turn} hi {who}{opt}\n\nbye {{x}}"}],
             "default": {"reply": "default {turn}: {text}", "think": 0}}
    agent = spawn("--name", "bob", rules=rules)
    agent.wait_ready()
    agent.submit("hi ann")
    agent.wait_seq(["● bob #1 hi ann", "", "  bye {x}", ""] + idle())   # "  " rstripped
    assert b"\r\n  \r\n  bye {x}\r\n" in agent.raw
    agent.submit("other")
    agent.wait_seq(["● default 2: other", ""] + idle())


# -- approval -----------------------------------------------------------------------

APPROVAL = ["? Do you want to proceed? Run deploy of prod?", "❯ 1. Yes", "  2. No",
            "  (press 1 or 2 · esc to cancel)"]


def test_approval_approved_by_key(spawn):
    agent = spawn(rules={"rules": [DEPLOY]})
    agent.wait_ready()
    agent.submit("deploy prod")
    agent.wait_seq(["> deploy prod", ""] + APPROVAL)
    agent.send("1")
    agent.wait_seq(["  ✓ approved", "● deployed prod", ""] + idle())


@pytest.mark.parametrize("answer", [b"\x1b[200~2\x1b[201~\r", b"\x1b[200~no\x1b[201~\r", b"n", b"\x1b"])
def test_approval_declined(spawn, answer):
    agent = spawn(rules={"rules": [DEPLOY]})
    agent.wait_ready()
    agent.submit("deploy prod")
    agent.wait_seq(APPROVAL)
    agent.send(answer)
    agent.wait_seq(["  ✗ declined", "● not deployed", ""] + idle())


def test_approval_pasted_yes_and_default_declined_text(spawn):
    rule = {"match": "^go", "approval": "Go?", "reply": "went"}
    agent = spawn(rules={"rules": [rule]})
    agent.wait_ready()
    agent.submit("go")
    agent.wait_seq(["? Do you want to proceed? Go?"])
    agent.send(b"\x1b[200~maybe\x1b[201~\r")      # not an answer: still asking
    agent.send(b"\x1b[200~yes\x1b[201~\r")
    agent.wait_seq(["  ✓ approved", "● went", ""] + idle())
    agent.submit("go again")
    agent.wait_seq(["? Do you want to proceed? Go?"])
    agent.send("2")
    agent.wait_seq(["  ✗ declined", "● Declined.", ""] + idle())


# -- error, exit, keys --------------------------------------------------------------

def test_error_screen_and_footer(spawn):
    agent = spawn(rules={"rules": [PING, {"match": "^fail", "error": "model overloaded"}]})
    agent.wait_ready()
    agent.submit("fail now")
    footer = "  ✗ error · model overloaded"
    agent.wait_seq(["> fail now", "", "✗ Error: model overloaded", ""] + idle(footer=footer))
    agent.send("pi")                                  # typing keeps the error footer
    agent.wait_seq(idle("pi", footer=footer))
    agent.send("ng\r")
    agent.wait_seq(["● pong", ""] + idle())


def test_exit_rule_code(spawn):
    agent = spawn(rules={"rules": [{"match": "^quit", "exit": 3, "think": 0.1}]})
    agent.wait_ready()
    agent.submit("quit")
    assert agent.wait_exit() == 3
    assert "Goodbye." in agent.lines()
    assert agent.raw.endswith(b"\x1b[?2004l")


def test_ctrl_c_inside_paste_is_text_outside_exits(spawn):
    agent = spawn()
    agent.wait_ready()
    agent.send(b"\x1b[200~a\x03b\x1b[201~")
    agent.wait_seq([box("a^Cb")])
    agent.send("\r")
    agent.wait_seq(["> a^Cb", "", "● echo: a^Cb", ""] + idle())
    assert agent.proc.isalive()
    agent.send(b"\x03")
    assert agent.wait_exit() == 130
    assert "^C" in agent.lines()


def test_ctrl_c_while_thinking_exits(spawn):
    agent = spawn(rules={"rules": [{"match": "", "reply": "never", "think": 30}]})
    agent.wait_ready()
    agent.submit("x")
    agent.wait_for(lambda a: any(BUSY.match(line) for line in a.lines()), "spinner")
    agent.send(b"\x03")
    assert agent.wait_exit() == 130


def test_ctrl_d_exits_only_on_empty_buffer(spawn):
    agent = spawn()
    agent.wait_ready()
    agent.send("ab\x04")
    agent.wait_seq([box("ab")])
    assert agent.proc.isalive()
    agent.send("\x7f\x7f")
    agent.wait_seq([box("")])
    agent.send("\x04")
    assert agent.wait_exit() == 0


def test_esc_interrupts_and_typed_text_is_kept(spawn):
    agent = spawn(rules={"rules": [{"match": "^slow", "reply": "late", "think": 30}]})
    agent.wait_ready()
    agent.submit("slow")
    agent.wait_for(lambda a: any(BUSY.match(line) for line in a.lines()), "spinner")
    agent.send("next\r")                        # buffered, Enter does not submit while busy
    agent.send(b"\x1b")
    agent.wait_seq(["> slow", "", "  ⎿ Interrupted"] + idle("next"))
    assert "● late" not in agent.lines()
    assert "> next" not in agent.lines()


def test_utf8_typing_and_backspace(spawn):
    agent = spawn()
    agent.wait_ready()
    data = "héllo ✓".encode()
    for i in range(len(data)):                  # byte by byte: multibyte split across reads
        agent.send(data[i:i + 1])
    agent.wait_seq([box("héllo ✓")])
    agent.send("\x7f\x08")
    agent.wait_seq([box("héllo")])
    agent.send("\r")
    agent.wait_seq(["● echo: héllo", ""] + idle())


# -- output modes, trace, burst, resize ---------------------------------------------

@pytest.mark.parametrize("how", ["flag", "env"])
def test_no_sync_mode(spawn, how):
    args, env = (["--no-sync"], None) if how == "flag" else ([], {"CAO_SCRIPTED_NO_SYNC": "1"})
    agent = spawn(*args, env=env, rules={"rules": [PING]})
    agent.wait_ready()
    agent.submit("ping")
    agent.wait_seq(["● pong", ""] + idle())
    assert b"\x1b[?2026h" not in agent.raw
    assert b"\x1b[?2026l" not in agent.raw


def test_sync_frames_by_default_and_per_rule_override(spawn):
    agent = spawn(rules={"rules": [PING, {"match": "^plain", "reply": "unsynced", "sync": False}]})
    agent.wait_ready()
    agent.submit("ping")
    agent.wait_seq(["● pong", ""] + idle())
    assert agent.raw.count(b"\x1b[?2026h") == agent.raw.count(b"\x1b[?2026l") > 3
    agent.send("plain")
    agent.wait_seq([box("plain")])              # typing redraws use the global setting
    mark = len(agent.raw)
    agent.send("\r")
    agent.wait_seq(["● unsynced", ""] + idle())
    assert b"\x1b[?2026h" not in agent.raw[mark:]
    mark = len(agent.raw)
    agent.send("ping\r")
    agent.wait_seq(["● unsynced", "", "> ping", "", "● pong", ""] + idle())
    assert b"\x1b[?2026h" in agent.raw[mark:]


@pytest.mark.parametrize("how", ["flag", "env"])
def test_trace_file(spawn, tmp_path, how):
    trace = tmp_path / "trace.jsonl"
    args, env = (["--trace", str(trace)], None) if how == "flag" else ([], {"CAO_SCRIPTED_TRACE": str(trace)})
    agent = spawn(*args, env=env, rules={"rules": [PING, DEPLOY, {"match": "^fail", "error": "x"}]})
    agent.wait_ready()
    agent.submit("ping")
    agent.wait_seq(["● pong", ""] + idle())
    agent.submit("deploy prod")
    agent.wait_seq(APPROVAL)
    agent.send("y")
    agent.wait_seq(["● deployed prod", ""] + idle())
    agent.submit("fail")
    agent.wait_seq(idle(footer="  ✗ error · x"))
    agent.send(b"\x03")
    assert agent.wait_exit() == 130
    events = [json.loads(line) for line in trace.read_text().splitlines()]
    assert [(e["event"], e.get("turn"), e.get("kind")) for e in events] == [
        ("ready", None, None),
        ("input", 1, None), ("final_frame", 1, "reply"),
        ("input", 2, None), ("final_frame", 2, "approval"), ("final_frame", 2, "reply"),
        ("input", 3, None), ("final_frame", 3, "error"),
    ]
    times = [e["t"] for e in events]
    assert times == sorted(times)
    assert times[2] - times[1] >= 0.3          # the ping rule thinks for 0.3 s
    assert set(events[2]) == {"event", "t", "turn", "kind"}


def test_start_delay(spawn, tmp_path):
    trace = tmp_path / "trace.jsonl"
    agent = spawn("--start-delay", "0.6", "--trace", str(trace))
    agent.wait_ready()
    deadline = time.monotonic() + TIMEOUT  # the trace line is written just after the frame
    while not trace.read_text() and time.monotonic() < deadline:
        time.sleep(0.01)
    ready = json.loads(trace.read_text().splitlines()[0])
    assert ready["event"] == "ready"
    assert ready["t"] - agent.started >= 0.6


def test_burst_writes_exactly_n_bytes_outside_sync(spawn):
    size = 12345
    agent = spawn(rules={"rules": [{"match": "^flood", "burst": size, "reply": "done flooding"}]})
    agent.wait_ready()
    agent.submit("flood")
    agent.wait_seq(["● done flooding", ""] + idle(), timeout=30)
    raw = bytes(agent.raw)
    start = raw.index(b"burst 000001 ")
    end = raw.index(b"\x1b[?2026h", start)
    assert raw.rindex(b"\x1b[?2026l", 0, start) + len(b"\x1b[?2026l") == start
    burst = raw[start:end]
    assert len(burst) == size
    lines = burst.split(b"\r\n")
    assert len(lines) == size // 80 + 2 and all(len(line) == 78 for line in lines[:-2])
    assert lines[0].startswith(b"burst 000001 abc") and lines[153].startswith(b"burst 000154 ")
    assert lines[-1] == b"" and len(lines[-2]) == size % 80 - 2


def test_sigwinch_updates_size_and_redraws(spawn):
    agent = spawn(rules={"rules": [{"match": "^size", "reply": "size {cols}x{rows}", "think": 0}]})
    agent.wait_ready()
    agent.submit("size")
    agent.wait_seq(["● size 120x40", ""] + idle())
    agent.proc.setwinsize(30, 60)
    agent.screen.resize(30, 60)
    narrow = "╭" + "─" * 57 + "╮"
    agent.wait_for(lambda a: narrow in a.lines(), "live region redrawn at the new width")
    agent.send("size\r")
    agent.wait_seq(["● size 60x30", "", narrow])


# -- rules sources and errors -------------------------------------------------------

def run_plain(*args, env=None):
    environ = {k: v for k, v in os.environ.items() if not k.startswith("CAO_SCRIPTED_")}
    environ.update(env or {})
    return subprocess.run([sys.executable, "-m", "providers.scripted_cli", *args], cwd=str(ROOT),
                          env=environ, stdin=subprocess.DEVNULL, capture_output=True, text=True,
                          timeout=30)


BAD_RULES = {
    "json": '{"rules": [',
    "unknown key": '{"rules": [{"match": "x", "replay": "y"}]}',
    "regex": '{"rules": [{"match": "(", "reply": "y"}]}',
    "template field": '{"rules": [{"match": "x", "reply": "{nope}"}]}',
    "exit code": '{"rules": [{"match": "x", "exit": "3"}]}',
    "missing match": '{"rules": [{"reply": "y"}]}',
    "top-level key": '{"rulez": []}',
    "default match": '{"default": {"match": "x"}}',
}


@pytest.mark.parametrize("how", ["env", "file", "env-file"])
@pytest.mark.parametrize("kind", sorted(BAD_RULES))
def test_bad_rules_exit_2(tmp_path, how, kind):
    path = tmp_path / "rules.json"
    path.write_text(BAD_RULES[kind])
    if how == "env":
        result = run_plain(env={"CAO_SCRIPTED_RULES": BAD_RULES[kind]})
    elif how == "file":
        result = run_plain("--rules", str(path))
    else:
        result = run_plain(env={"CAO_SCRIPTED_RULES": f"@{path}"})
    assert result.returncode == 2
    assert result.stdout == ""
    assert result.stderr.startswith("scripted_cli: bad rules:")
    assert result.stderr.count("\n") == 1


def test_missing_rules_file_exit_2(tmp_path):
    result = run_plain("--rules", str(tmp_path / "nope.json"))
    assert result.returncode == 2 and result.stderr.count("\n") == 1


def test_rules_file_wins_over_env(spawn, tmp_path):
    path = tmp_path / "rules.json"
    path.write_text(json.dumps({"rules": [{"match": "^a$", "reply": "from file", "think": 0}]}))
    agent = spawn("--rules", str(path), env={"CAO_SCRIPTED_RULES": "not json"})
    agent.wait_ready()
    agent.submit("a")
    agent.wait_seq(["● from file", ""] + idle())


def test_env_rules_from_at_file(spawn, tmp_path):
    path = tmp_path / "rules.json"
    path.write_text(json.dumps({"rules": [], "default": {"reply": "dflt {text}", "think": 0}}))
    agent = spawn(env={"CAO_SCRIPTED_RULES": f"@{path}"})
    agent.wait_ready()
    agent.submit("zz")
    agent.wait_seq(["● dflt zz", ""] + idle())


def test_console_script_entry_point():
    from providers.scripted_cli.__main__ import main
    with pytest.raises(SystemExit) as info:
        main(["--help"])
    assert info.value.code == 0


# -- pure units ---------------------------------------------------------------------

def test_parser_handles_every_split_point():
    data = "ab\x1b[200~x\x03\ny\x1b[201~é\x1b[A\r\x1bq".encode()
    expected = [("key", "a"), ("key", "b"), ("paste", "x\x03\ny"), ("key", "é"), ("key", "\r"),
                ("esc",), ("key", "q")]
    for cut in range(len(data) + 1):
        parser = InputParser()
        events = parser.feed(data[:cut]) + parser.feed(data[cut:])
        assert events == expected, cut


def test_parser_lone_escape_is_held_then_flushed():
    parser = InputParser()
    assert parser.feed(b"\x1b") == [] and parser.holding_escape
    assert parser.flush() == [("esc",)] and not parser.holding_escape
    assert parser.feed(b"\x1b") == [] and parser.feed(b"[200~hi\x1b[201~") == [("paste", "hi")]


@pytest.mark.parametrize("size", [0, 1, 2, 3, 79, 80, 81, 160, 80 * 1024 + 7, 200000])
def test_burst_chunks_exact_size(size):
    assert sum(len(chunk) for chunk in render.burst_chunks(size)) == size


def test_idle_box_keeps_tail_and_width():
    lines = render.idle_lines("x" * 200 + "日本", 120)
    assert lines[1].startswith("│ > …") and lines[1].endswith("xx日本 │")
    assert {render.text_width(line) for line in lines[:3]} == {80}
    assert render.idle_lines("", 30)[0] == "╭" + "─" * 27 + "╮"


def test_frame_layout():
    out = render.frame(["s1", "s2"], ["l1", "l2", "l3"], 4, 10, sync=True)
    assert out == "\x1b[?2026h\r\x1b[3A\x1b[Js1\r\ns2\r\nl1\r\nl2\r\nl3\x1b[?2026l"
    assert render.frame([], ["0123456789abc"], 1, 10, sync=False) == "\r\x1b[J012345678"


def test_rule_steps_and_fallback_reply():
    rules = parse_rules(json.dumps({
        "rules": [{"match": "a", "burst": 5, "approval": "ok?"}, {"match": "b", "exit": 0, "reply": "bye"}],
        "default": {"reply": "D {text}"}}))
    assert rules.rules[0].steps == ["approval", "burst", "reply"]
    assert rules.rules[0].params["reply"] == "D {text}"
    assert rules.rules[1].steps == ["reply", "exit"]
    assert rules.match("zzz")[0] is rules.default
    with pytest.raises(RulesError):
        parse_rules('{"rules": [{"match": "a", "think": -1}]}')


def test_raw_mode_while_running_and_restored_on_exit(spawn):
    import termios
    agent = spawn()
    before = termios.tcgetattr(agent.proc.fd)
    assert before[3] & termios.ICANON
    agent.wait_ready()
    assert not termios.tcgetattr(agent.proc.fd)[3] & (termios.ICANON | termios.ECHO | termios.ISIG)
    agent.send(b"\x03")
    assert agent.wait_exit() == 130
    after = termios.tcgetattr(agent.proc.fd)
    assert after[3] & termios.ICANON and after[3] & termios.ECHO


def test_sigterm_restores_and_exits(spawn):
    import signal
    agent = spawn(rules={"rules": [{"match": "", "reply": "never", "think": 30}]})
    agent.wait_ready()
    agent.submit("x")
    agent.wait_for(lambda a: any(BUSY.match(line) for line in a.lines()), "spinner")
    agent.proc.kill(signal.SIGTERM)
    agent.wait_exit()
    assert agent.proc.exitstatus == 128 + signal.SIGTERM
    assert agent.raw.endswith(b"\x1b[?2004l")
