"""The scripted agent's state machine and select() loop.

A turn is a generator (:meth:`Agent.turn_script`) that runs the rule's
action handlers (``actions.HANDLERS``); it yields wait commands --
``("think", seconds)``, ``("approval", prompt)`` or ``("mcp", (server, tool,
args, timeout))`` -- to the loop, which resumes it when the wait is over (an
MCP call runs in the hub's thread while the spinner keeps turning; the result
fields come back as the value of the yield).  All output goes through
:meth:`Agent.redraw`, one ``os.write`` per frame.
"""

from __future__ import annotations

import errno
import hashlib
import math
import os
import select
import time
import types

from providers.scripted_cli import render
from providers.scripted_cli.actions import HANDLERS, STOP, missing_handlers
from providers.scripted_cli.mcp_client import McpUnavailable, error_outcome
from providers.scripted_cli.rules import MCP_FIELDS
from providers.scripted_cli.term import InputParser

SPIN_INTERVAL = 0.1
YES = ("1", "y", "yes")
NO = ("2", "n", "no")

if missing_handlers():                       # a key was registered without a handler
    raise ImportError(f"scripted_cli: no handler for actions {missing_handlers()}")


class AgentExit(Exception):
    def __init__(self, code):
        super().__init__(code)
        self.code = code


class Agent:
    """State machine; ``mode`` is one of starting, booting (the prompt drawn, then a
    spinner while "MCP servers" start, as Codex does), idle, thinking, approval, burst,
    late (the idle prompt drawn, the reply still to come), done."""

    def __init__(self, term, rules, trace, *, name="scripted", sync=True, start_delay=0.0,
                 mcp=None, yolo=False, info=(), boot=0.0):
        self.term = term
        self.rules = rules
        self.trace = trace
        self.name = name
        self.sync = sync
        self.start_delay = start_delay
        self.mcp = mcp                 # McpHub, or None: every mcp_call fails
        self.yolo = yolo               # approvals pass without a prompt
        self.info = list(info)         # static lines under the banner (system, model)
        self.boot = boot               # seconds of start-up spinner after the first prompt
        self.mcp_job = None            # the hub job the running turn waits on
        self.mcp_note = None           # the last progress message of that job
        self.parser = InputParser()
        self.cols, self.rows = term.size()
        self.mode = "starting"
        self.buffer = ""
        self.error = None              # message shown in the idle footer
        self.static = []               # lines to print with the next frame
        self.live_height = 0
        self.turn = 0
        self.turn_sync = None          # per-rule override for the running turn
        self.gen = None
        self.think_start = self.think_until = self.next_tick = 0.0
        self.tick = 0
        self.approval_prompt = ""
        self.approval_input = ""
        self.resized = False
        self.ready_traced = False
        self.esc_deadline = None

    # -- output --

    def live_lines(self):
        if self.mode in ("idle", "late"):
            return render.idle_lines(self.buffer, self.cols, self.error)
        if self.mode in ("thinking", "booting"):
            return render.busy_lines(self.tick, time.monotonic() - self.think_start, self.mcp_note)
        if self.mode == "approval":
            return render.approval_lines(self.approval_prompt)
        return []

    def add_static(self, lines):
        self.static.extend(lines)

    def redraw(self, final=None):
        live = self.live_lines()
        sync = self.sync if self.turn_sync is None else self.turn_sync
        self.term.write(render.frame(self.static, live, self.live_height, self.cols, sync))
        self.static = []
        self.live_height = len(live)
        if self.mode == "idle" and not self.ready_traced:
            self.ready_traced = True
            self.trace.emit("ready")
        if final is not None:
            self.trace.emit("final_frame", turn=self.turn, kind=final)

    def finish_reply(self, text):
        self.add_static(render.reply_lines(text))
        self.mode = "idle"
        self.redraw(final="reply")

    def quit(self, code, line):
        gen, self.gen = self.gen, None
        if gen is not None and not gen.gi_running:   # not when called from the turn itself
            gen.close()
        self.add_static([line])
        self.mode = "done"
        self.redraw()
        raise AgentExit(code)

    def fmt(self, template, ctx):
        ctx["cols"], ctx["rows"] = self.cols, self.rows
        try:
            return template.format_map(ctx)
        except (KeyError, IndexError, ValueError, AttributeError, TypeError):
            return template

    # -- turns --

    def submit(self):
        text = self.buffer
        if not text.strip():
            self.redraw()
            return
        self.buffer = ""
        self.error = None
        self.turn += 1
        # Length and digest let a test check that a big input arrived whole, once.
        self.trace.emit("input", turn=self.turn, length=len(text),
                        sha256=hashlib.sha256(text.encode("utf-8", "surrogatepass")).hexdigest())
        rule, groups = self.rules.match(text)
        ctx = dict.fromkeys(MCP_FIELDS, "")
        ctx.update(groups)
        ctx.update(text=text, turn=self.turn, name=self.name)
        self.turn_sync = rule.sync
        self.add_static(render.echo_lines(text))
        self.mode = "thinking"
        self.gen = self.turn_script(rule, ctx)
        self.advance()

    def turn_script(self, rule, ctx):
        yield ("think", rule.think)
        for name in rule.steps:
            outcome = HANDLERS[name](self, rule, ctx, rule.params[name])
            if isinstance(outcome, types.GeneratorType):
                outcome = yield from outcome
            if outcome is STOP:
                return

    def advance(self, value=None):
        """Run the turn until it waits on something or ends."""
        while self.gen is not None:
            try:
                kind, arg = self.gen.send(value)
            except StopIteration:
                self.end_turn()
                return
            value = None
            now = time.monotonic()
            if kind == "think":
                if arg <= 0:
                    continue
                self.mode = "thinking"
                self.think_start, self.think_until = now, now + arg
                self.next_tick = now + SPIN_INTERVAL
                self.tick = 0
                self.redraw()
                return
            if kind == "late":
                self.mode = "late"
                self.think_until = now + arg
                self.redraw()
                return
            if kind == "approval":
                self.mode = "approval"
                self.approval_prompt, self.approval_input = arg, ""
                self.redraw(final="approval")
                return
            if kind == "mcp":
                server, tool, args, timeout = arg
                self.trace.emit("mcp_call", turn=self.turn, server=server, tool=tool)
                try:
                    if self.mcp is None:
                        raise McpUnavailable(f"no MCP server {server!r}: the agent was started without --mcp-config")
                    self.mcp_job = self.mcp.start_call(server, tool, args, timeout)
                except McpUnavailable as exc:
                    value = error_outcome(str(exc))
                    self.trace.emit("mcp_result", turn=self.turn, ok=False)
                    continue
                if self.mode != "thinking":
                    self.think_start = now
                    self.tick = 0
                self.mode = "thinking"
                self.think_until = math.inf        # until the hub answers
                self.next_tick = now + SPIN_INTERVAL
                self.mcp_note = None
                self.redraw()
                return
            raise RuntimeError(f"scripted_cli: unknown wait {kind!r}")

    def on_mcp(self):
        """Results and progress from the hub, for the running turn only."""
        for kind, job, payload in self.mcp.take():
            if job != self.mcp_job or self.gen is None:
                continue                            # a call of an interrupted turn
            if kind == "progress":
                self.mcp_note = payload
                self.redraw()
            elif kind == "result":
                self.mcp_job = self.mcp_note = None
                self.trace.emit("mcp_result", turn=self.turn, ok=not payload["error"])
                self.advance(payload)

    def end_turn(self):
        self.drop_mcp_job()
        gen, self.gen = self.gen, None
        if gen is not None:
            gen.close()
        self.turn_sync = None
        if self.mode not in ("idle", "done"):      # a turn that printed no final frame
            self.mode = "idle"
            self.redraw()

    def drop_mcp_job(self):
        if self.mcp_job is not None and self.mcp is not None:
            self.mcp.cancel(self.mcp_job)
        self.mcp_job = self.mcp_note = None

    def interrupt(self):
        self.drop_mcp_job()
        self.gen.close()
        self.gen = None
        self.add_static([render.INTERRUPTED_LINE])
        self.mode = "idle"
        self.redraw(final="interrupted")
        self.turn_sync = None

    def choose(self, approved):
        self.mode = "thinking"
        self.advance(approved)

    # -- input --

    def on_event(self, event):
        kind = event[0]
        ch = event[1] if kind == "key" else None
        if ch == "\x03":
            self.quit(130, render.CTRL_C_LINE)
        if self.mode == "approval":
            self.on_approval_event(kind, event)
            return
        if kind == "esc":
            if self.mode == "thinking":
                self.interrupt()
            return
        if kind == "paste":
            self.buffer += event[1].replace("\r\n", "\n").replace("\r", "\n")
        elif ch == "\r":
            if self.mode == "idle":
                self.submit()
            return                                  # busy: not submitted, text stays
        elif ch == "\n":
            self.buffer += "\n"
        elif ch in ("\x7f", "\x08"):
            self.buffer = self.buffer[:-1]
        elif ch == "\x04":
            if self.mode == "idle" and not self.buffer:
                self.quit(0, render.GOODBYE_LINE)
            return
        elif ch == "\t" or ord(ch) >= 0x20:
            self.buffer += ch
        else:
            return                                  # other control keys: ignored
        if self.mode == "idle":
            self.redraw()

    def on_approval_event(self, kind, event):
        if kind == "esc":
            self.choose(False)
        elif kind == "paste":
            self.approval_input += event[1]
        elif event[1] == "\r":
            answer, self.approval_input = self.approval_input.strip().lower(), ""
            if answer in YES or answer in NO:
                self.choose(answer in YES)
        elif event[1] in ("\x7f", "\x08"):
            self.approval_input = self.approval_input[:-1]
        elif not self.approval_input.strip() and event[1].lower() in ("1", "y", "2", "n"):
            self.choose(event[1].lower() in ("1", "y"))

    # -- loop --

    def on_resize(self):
        self.resized = False
        size = self.term.size()
        if size != (self.cols, self.rows):
            self.cols, self.rows = size
            if self.mode in ("idle", "late", "thinking", "approval"):
                self.redraw()

    def timeout(self, now, ready_at):
        deadlines = []
        if self.mode == "starting":
            deadlines.append(ready_at)
        elif self.mode in ("thinking", "booting"):
            deadlines += [self.next_tick, self.think_until]
        elif self.mode == "late":
            deadlines.append(self.think_until)
        if self.esc_deadline is not None:
            deadlines.append(self.esc_deadline)
        return max(0.0, min(deadlines) - now) if deadlines else None

    def run(self, wake_fd):
        ready_at = time.monotonic() + self.start_delay
        fds = [self.term.in_fd, wake_fd]
        if self.mcp is not None:
            fds.append(self.mcp.fd)
        while True:
            now = time.monotonic()
            if self.esc_deadline is not None and now >= self.esc_deadline:
                self.esc_deadline = None
                for event in self.parser.flush():
                    self.on_event(event)
            if self.mode == "starting" and now >= ready_at:
                self.add_static(render.banner_lines(render.fit_head(line, self.cols - 1) for line in self.info))
                self.mode = "idle"
                self.redraw()
                if self.boot > 0:  # drawn first, busy a moment later
                    self.mode, self.think_start = "booting", now
                    self.think_until, self.next_tick = now + self.boot, now + SPIN_INTERVAL
                    self.redraw()
            elif self.mode == "booting" and now >= self.think_until:
                self.mode = "idle"
                self.redraw()
                continue
            elif self.mode == "late" and now >= self.think_until:
                self.advance()
                continue
            elif self.mode in ("thinking", "booting"):
                if self.mode == "thinking" and now >= self.think_until:
                    self.advance()
                    continue
                if now >= self.next_tick:
                    self.tick += 1
                    self.next_tick += SPIN_INTERVAL
                    if self.next_tick <= now:
                        self.next_tick = now + SPIN_INTERVAL
                    self.redraw()
            readable, _, _ = select.select(fds, [], [], self.timeout(time.monotonic(), ready_at))
            if wake_fd in readable:
                try:
                    os.read(wake_fd, 512)
                except BlockingIOError:
                    pass
            if self.resized:
                self.on_resize()
            if self.mcp is not None and self.mcp.fd in readable:
                self.on_mcp()
            if self.term.in_fd in readable:
                try:
                    data = os.read(self.term.in_fd, 65536)
                except OSError as exc:
                    if exc.errno != errno.EIO:
                        raise
                    data = b""
                if not data:
                    raise AgentExit(0)             # input closed
                for event in self.parser.feed(data):
                    self.on_event(event)
                self.esc_deadline = (time.monotonic() + self.parser.ESC_TIMEOUT
                                     if self.parser.holding_escape else None)
