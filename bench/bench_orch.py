#!/usr/bin/env python3
"""Orchestration benchmark for caod: handoff overhead, inbox delivery latency
and parallel assigns, with scripted agents that call the real MCP bridge.

    .venv/bin/python bench/bench_orch.py            # full run (~30-60 s)
    .venv/bin/python bench/bench_orch.py --quick    # smoke run (~15 s)
    .venv/bin/python bench/bench_orch.py --json     # JSON on stdout, table on stderr

It starts its own daemon on a private temporary socket and home, drives it
with the built-in `scripted` provider (agent -> MCP stdio -> `caoctl mcp` ->
socket -> daemon), and removes everything at the end. Targets are printed
next to the figures; nothing is asserted. See bench/README.md.
"""

from __future__ import annotations

import argparse
import json
import os
import select
import signal
import subprocess
import sys
import threading
import time
from pathlib import Path
from typing import Any, Callable

HERE = Path(__file__).resolve().parent
if str(HERE) not in sys.path:
    sys.path.insert(0, str(HERE))

from _common import (  # noqa: E402  (also puts the repository on sys.path)
    CLK_TCK,
    add_caod_option,
    fill_defaults,
    T_START,
    BenchDaemon,
    EventTap,
    is_status,
    machine_info,
    proc_cpu_seconds,
    progress,
    read_trace,
    summary_ms,
    verdict,
    wait_trace,
)

from caoctl.client import Client  # noqa: E402
from caod.protocol import Event  # noqa: E402
from caod.status import EventKind, Status  # noqa: E402

THINK_S = 0.05  # the worker's (and every other scripted turn's) think time

# Targets; printed, never asserted.
TARGET_HANDOFF_OVERHEAD_MS = 300.0  # p50, beyond the worker CLI's own start
TARGET_INBOX_P95_MS = 50.0  # p95
CAO_HANDOFF_S = 5.55  # the reference orchestrator (CAO), same scenario, total
CAO_INBOX_MS = 445.0

# Every agent of a session opens this path as its trace. The kernel resolves
# /proc/self per process, so each agent writes `trace.jsonl` in its own working
# directory: one trace per agent from one session-wide environment value (the
# scripted CLI has no per-agent placeholder and its trace lines carry no pid).
PER_AGENT_TRACE = "/proc/self/cwd/trace.jsonl"
TRACE_NAME = "trace.jsonl"

# One rules document for every agent of a session (supervisor and workers).
TEAM_RULES = {
    "rules": [
        # supervisor, figure 1: no think of its own, so its turn is all plumbing plus the worker
        {"match": r"^handoff (?P<wd>\S+) (?P<task>.+)$", "think": 0,
         "mcp_call": {"server": "caod", "tool": "handoff",
                      "args": {"agent_profile": "developer", "message": "{task}", "working_directory": "{wd}"}},
         "reply": "worker said: {result}", "reply_error": "handoff failed: {error}"},
        # developer, figure 1: the handed-off task
        {"match": r"^build (?P<what>\w+)$", "think": THINK_S, "reply": "built {what}"},
        # reviewer, figure 3: an assignment (it carries the report-back instruction) -> send_message
        {"match": r"^\[message from (?P<sup>\w+)\] review (?P<what>\w+)(?s:.*)report your result",
         "think": THINK_S,
         "mcp_call": {"server": "caod", "tool": "send_message",
                      "args": {"receiver_id": "{sup}", "message": "review of {what}: LGTM"}},
         "reply": "reported to {sup}", "reply_error": "report failed: {error}"},
        # supervisor, figure 3: a callback arrives as input
        {"match": r"^\[message from (?P<sender>\w+)\] (?P<body>.*)", "think": THINK_S,
         "reply": "got message from {sender}: {body}"},
        # inbox target, figure 2
        {"match": r"^note (?P<n>\d+)$", "think": THINK_S, "reply": "noted {n}"},
    ],
    "default": {"reply": "ok {turn}", "think": THINK_S},
}


# ---------------------------------------------------------------- small helpers


def token_of(pid: int) -> str:
    """An agent's secret, read the way only its own user can: from its environment."""
    with open(f"/proc/{pid}/environ", "rb") as fh:
        env = fh.read().split(b"\0")
    return next(e.split(b"=", 1)[1].decode() for e in env if e.startswith(b"CAO_AGENT_TOKEN="))


def _stat_fields(pid: int) -> list[bytes]:
    with open(f"/proc/{pid}/stat", "rb") as fh:
        raw = fh.read()
    return raw[raw.rindex(b")") + 2 :].split()  # [0] is field 3 (state) of stat(5)


def proc_start_wall(pid: int) -> float:
    """When `pid` was forked, as a time.time() value (resolution 1/CLK_TCK s)."""
    start_ticks = int(_stat_fields(pid)[19])  # field 22, starttime, in ticks since boot
    return time.time() - (time.clock_gettime(time.CLOCK_BOOTTIME) - start_ticks / CLK_TCK)


def _cmdline(pid: int | str) -> str:
    try:
        with open(f"/proc/{pid}/cmdline", "rb") as fh:
            return fh.read().replace(b"\0", b" ").decode(errors="replace")
    except OSError:
        return ""


def bridge_of(agent_pid: int) -> int | None:
    """The `caoctl mcp` process an agent's CLI started (its child), if any."""
    for entry in os.listdir("/proc"):
        if not entry.isdigit():
            continue
        try:
            ppid = int(_stat_fields(int(entry))[1])
        except (OSError, ValueError, IndexError):
            continue
        if ppid == agent_pid and "caoctl" in _cmdline(entry) and " mcp" in _cmdline(entry):
            return int(entry)
    return None


def processes_of(socket_path: Path) -> list[int]:
    """Live processes whose environment names our socket: agents, bridges, the daemon's children."""
    want = f"CAOD_SOCKET={socket_path}".encode()
    found = []
    for entry in os.listdir("/proc"):
        if not entry.isdigit() or int(entry) == os.getpid():
            continue
        try:
            with open(f"/proc/{entry}/environ", "rb") as fh:
                env = fh.read().split(b"\0")
            if _stat_fields(int(entry))[0] == b"Z":
                continue
        except (OSError, IndexError):
            continue
        if want in env:
            found.append(int(entry))
    return found


def trace_of(folder: Path) -> Path:
    return folder / TRACE_NAME


def first(records: list[dict], event: str, pred: Callable[[dict], bool] = lambda r: True) -> dict | None:
    return next((r for r in records if r.get("event") == event and pred(r)), None)


def is_spawned_by(parent: str) -> Callable[[Event], bool]:
    return lambda ev: ev.kind is EventKind.SPAWNED and ev.detail.get("parent") == parent


def is_message(receiver: str, state: str, msg_id: int | None = None) -> Callable[[Event], bool]:
    return lambda ev: (ev.kind is EventKind.MESSAGE and ev.agent == receiver and ev.detail.get("state") == state
                       and (msg_id is None or ev.detail.get("id") == msg_id))


def ms(seconds: float) -> float:
    return round(seconds * 1000.0, 1)


# ---------------------------------------------------------------- the bridge on its own


class BridgeProbe:
    """`caoctl mcp` started by hand and spoken to with raw MCP JSON-RPC lines,
    to time its own start without the agent's MCP SDK client in the way."""

    def __init__(self, socket_path: Path, token: str, agent_id: str, cwd: Path):
        env = {k: v for k, v in os.environ.items() if not k.startswith(("CAO_", "CAOD_"))}
        env.update({"CAO_AGENT_TOKEN": token, "CAO_AGENT_ID": agent_id, "CAOD_SOCKET": str(socket_path)})
        self.t_exec = time.time()
        self.proc = subprocess.Popen(
            [sys.executable, "-m", "caoctl", "mcp"], cwd=str(cwd), env=env,
            stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=subprocess.DEVNULL,
        )
        self._buf = b""
        self._ids = 0

    def request(self, method: str, params: dict, timeout: float = 30.0) -> tuple[float, dict]:
        """(time the answer arrived, the answer)."""
        self._ids += 1
        rid = self._ids
        self._send({"jsonrpc": "2.0", "id": rid, "method": method, "params": params})
        deadline = time.monotonic() + timeout
        fd = self.proc.stdout.fileno()
        while True:
            while b"\n" in self._buf:
                line, self._buf = self._buf.split(b"\n", 1)
                try:
                    msg = json.loads(line)
                except ValueError:
                    continue
                if msg.get("id") == rid:
                    now = time.time()
                    if "error" in msg or (msg.get("result") or {}).get("isError"):
                        raise RuntimeError(f"caoctl mcp: {method} failed: {msg.get('error') or msg['result']}")
                    return now, msg
            left = deadline - time.monotonic()
            if left <= 0 or not select.select([fd], [], [], left)[0]:
                raise TimeoutError(f"caoctl mcp did not answer {method} within {timeout:g}s")
            chunk = os.read(fd, 65536)
            if not chunk:
                raise RuntimeError(f"caoctl mcp exited (rc {self.proc.poll()}) before answering {method}")
            self._buf += chunk

    def notify(self, method: str) -> None:
        self._send({"jsonrpc": "2.0", "method": method})

    def _send(self, msg: dict) -> None:
        self.proc.stdin.write(json.dumps(msg).encode() + b"\n")
        self.proc.stdin.flush()

    def close(self) -> None:
        try:
            self.proc.stdin.close()  # end of input: the server stops
            self.proc.wait(timeout=5)
        except (OSError, subprocess.TimeoutExpired):
            self.proc.kill()
            self.proc.wait(timeout=5)
        self.proc.stdout.close()


# ---------------------------------------------------------------- the benchmark


class Bench:
    def __init__(self, args: argparse.Namespace, daemon: BenchDaemon):
        self.args = args
        self.d = daemon
        self.rpc = Client(daemon.socket)
        self.tap = EventTap(daemon.socket)
        self.tap.start()
        self._n = 0

    def close(self) -> None:
        self.tap.close()
        self.rpc.close()

    def folder(self, label: str) -> Path:
        self._n += 1
        path = self.d.work / f"{label}-{self._n}"
        path.mkdir(mode=0o700)
        return path

    def session_env(self) -> dict[str, str]:
        return {
            "CAO_SCRIPTED_RULES": json.dumps(TEAM_RULES),
            "CAO_SCRIPTED_TRACE": PER_AGENT_TRACE,
            "CAO_SCRIPTED_MCP_LOG": str(self.d.root / "mcp.log"),  # bridge stderr, for post-mortems
        }

    def launch(self, name: str) -> tuple[str, int, Path]:
        """A supervisor in a new session, idle; (id, pid, its folder)."""
        folder = self.folder(name)
        mark = self.tap.mark()
        res = self.rpc.call("session.launch", {
            "profile": "code_supervisor", "provider": "scripted", "session": name, "cwd": str(folder),
            "env": self.session_env(),
        }, timeout=30)
        sup = res.supervisor
        self.tap.wait_for(is_status(sup.id, Status.IDLE), mark, 30)
        return sup.id, sup.pid, folder

    def shutdown(self, session: str) -> None:
        self.rpc.call("session.shutdown", {"session": session}, timeout=60)

    def daemon_cpu(self) -> float:
        return proc_cpu_seconds(self.d.pid)

    # ------------------------------------------------------------ figure 1

    def handoff_once(self, sup: str, sup_trace: Path, label: str) -> dict[str, float]:
        wd = self.folder(label)
        task = f"build {label.replace('-', '_')}"
        mark = self.tap.mark()
        t0 = time.time()
        res = self.rpc.call("agent.send", {"agent": sup, "text": f"handoff {wd} {task}", "wait": True,
                                           "timeout": 60}, timeout=70)
        t1 = time.time()
        want = f"worker said: built {task.split()[1]}"
        if res.answer != want:
            raise RuntimeError(f"unexpected supervisor answer {res.answer!r} (status {res.agent.status.value})")
        _, spawned = self.tap.wait_for(is_spawned_by(sup), mark, 10)
        worker = spawned.agent
        _, idle = self.tap.wait_for(is_status(worker, Status.IDLE), mark, 10)
        _, done = self.tap.wait_for(is_status(worker, Status.COMPLETED), mark, 10)
        # The daemon stops the worker once its answer is read; let it go before the
        # next handoff, so each one is measured on its own.
        self.tap.wait_for(is_status(worker, Status.EXITED), mark, 15)
        recs = [r for r in read_trace(sup_trace) if r["t"] >= t0]
        s_input = first(recs, "input")
        if s_input is None:
            s_input = wait_trace(sup_trace, lambda r: r.get("event") == "input" and r["t"] >= t0)
            recs = [r for r in read_trace(sup_trace) if r["t"] >= t0]
        turn = s_input["turn"]
        in_turn = lambda r: r.get("turn") == turn  # noqa: E731
        s_call, s_result, s_final = (first(recs, e, in_turn) for e in ("mcp_call", "mcp_result", "final_frame"))
        w_recs = read_trace(trace_of(wd))
        w_ready, w_input = first(w_recs, "ready"), first(w_recs, "input")
        if None in (s_call, s_result, s_final, w_ready, w_input):
            raise RuntimeError(f"incomplete traces for handoff {label}: {recs} / {w_recs}")
        cli_start = w_ready["t"] - spawned.ts
        return {
            "t0": t0,
            "turn_s": t1 - t0,
            "worker_cli_start_s": cli_start,
            "worker_start_by_events_s": idle.ts - spawned.ts,
            "overhead_s": t1 - t0 - THINK_S - cli_start,
            "send_to_sup_input_s": s_input["t"] - t0,
            "sup_input_to_mcp_call_s": s_call["t"] - s_input["t"],
            "mcp_call_to_worker_spawned_s": spawned.ts - s_call["t"],
            "worker_ready_to_input_s": w_input["t"] - w_ready["t"],
            "worker_turn_beyond_think_s": done.ts - w_input["t"] - THINK_S,
            "worker_completed_to_mcp_result_s": s_result["t"] - done.ts,
            "mcp_result_to_sup_final_s": s_final["t"] - s_result["t"],
            "sup_final_to_reply_s": t1 - s_final["t"],
            "mcp_call_t": s_call["t"],
            "worker_spawned_ts": spawned.ts,
        }

    def fig_handoff(self) -> dict[str, Any]:
        k, n = self.args.supervisors, self.args.handoffs
        per_sup = [n // k + (1 if i < n % k else 0) for i in range(k)]
        progress(f"1. handoff: {k} fresh supervisor(s), 1 cold + {n} warm handoffs in all")
        cpu0 = self.daemon_cpu()
        cold, warm = [], []
        last_sup = None
        for i in range(k):
            session = f"handoff{i}"
            sup, pid, folder = self.launch(session)
            row = self.handoff_once(sup, trace_of(folder), f"h{i}-cold")
            bridge = bridge_of(pid)
            if bridge is not None:
                started = proc_start_wall(bridge)
                row["mcp_call_to_bridge_exec_s"] = started - row["mcp_call_t"]
                row["bridge_exec_to_worker_spawned_s"] = row["worker_spawned_ts"] - started
            cold.append(row)
            for j in range(per_sup[i]):
                warm.append(self.handoff_once(sup, trace_of(folder), f"h{i}-w{j}"))
            if i < k - 1:
                self.shutdown(session)
            else:
                last_sup = (session, sup, pid)
        cpu1 = self.daemon_cpu()

        progress(f"1. caoctl mcp on its own: {self.args.bridge_runs} cold start(s)")
        session, sup, pid = last_sup
        probes = [self.probe_bridge(sup, token_of(pid)) for _ in range(self.args.bridge_runs)]
        self.shutdown(session)

        def col(rows: list[dict], key: str) -> list[float]:
            return [r[key] for r in rows if key in r]

        warm_request = summary_ms(col(warm, "mcp_call_to_worker_spawned_s"))
        cold_request = summary_ms(col(cold, "mcp_call_to_worker_spawned_s"))
        keys = ("send_to_sup_input_s", "sup_input_to_mcp_call_s", "mcp_call_to_worker_spawned_s",
                "worker_cli_start_s", "worker_ready_to_input_s", "worker_turn_beyond_think_s",
                "worker_completed_to_mcp_result_s", "mcp_result_to_sup_final_s", "sup_final_to_reply_s")
        return {
            "supervisors": k,
            "warm_handoffs": len(warm),
            "think_s": THINK_S,
            "overhead": summary_ms(col(warm, "overhead_s")),
            "turn": summary_ms(col(warm, "turn_s")),
            "worker_cli_start": summary_ms(col(warm, "worker_cli_start_s")),
            "worker_start_by_events": summary_ms(col(warm, "worker_start_by_events_s")),
            "breakdown": {key.removesuffix("_s"): summary_ms(col(warm, key)) for key in keys},
            "cold": {
                "overhead": summary_ms(col(cold, "overhead_s")),
                "turn": summary_ms(col(cold, "turn_s")),
                "mcp_request": cold_request,
                "mcp_call_to_bridge_exec": summary_ms(col(cold, "mcp_call_to_bridge_exec_s")),
                "bridge_exec_to_worker_spawned": summary_ms(col(cold, "bridge_exec_to_worker_spawned_s")),
                "bridge_start_ms": round(cold_request["p50_ms"] - warm_request["p50_ms"], 1),
            },
            "bridge_standalone": {
                "runs": len(probes),
                "exec_to_initialized": summary_ms([p["initialized_s"] for p in probes]),
                "first_tool_call": summary_ms([p["first_call_s"] for p in probes]),
                "second_tool_call": summary_ms([p["second_call_s"] for p in probes]),
            },
            "daemon_cpu_s": round(cpu1 - cpu0, 3),
        }

    def probe_bridge(self, sup: str, token: str) -> dict[str, float]:
        probe = BridgeProbe(self.d.socket, token, sup, self.d.work)
        try:
            t_init, _ = probe.request("initialize", {
                "protocolVersion": "2025-06-18", "capabilities": {},
                "clientInfo": {"name": "bench_orch", "version": "0"},
            })
            probe.notify("notifications/initialized")
            t_a = time.time()
            t_b, _ = probe.request("tools/call", {"name": "list_agents", "arguments": {}})
            t_c, _ = probe.request("tools/call", {"name": "list_agents", "arguments": {}})
        finally:
            probe.close()
        return {"initialized_s": t_init - probe.t_exec, "first_call_s": t_b - t_a, "second_call_s": t_c - t_b}

    # ------------------------------------------------------------ figure 2

    def fig_inbox(self) -> dict[str, Any]:
        n, warmup = self.args.messages, self.args.warmup_messages
        progress(f"2. inbox: {n} messages to an idle agent, one at a time")
        folder = self.folder("inbox")
        trace = trace_of(folder)
        mark = self.tap.mark()
        info = self.rpc.call("agent.spawn", {"provider": "scripted", "cwd": str(folder), "env": {
            "CAO_SCRIPTED_RULES": json.dumps(TEAM_RULES), "CAO_SCRIPTED_TRACE": str(trace)}}, timeout=30)
        agent = info.id
        self.tap.wait_for(is_status(agent, Status.IDLE), mark, 30)
        rows = []
        cpu0 = self.daemon_cpu()
        try:
            for i in range(warmup + n):
                mark = self.tap.mark()
                t0 = time.time()
                msg = self.rpc.call("inbox.send", {"receiver": agent, "message": f"note {i}"}, timeout=30)
                t_reply = time.time()
                _, delivered = self.tap.wait_for(is_message(agent, "delivered", msg.id), mark, 10)
                self.tap.wait_for(is_status(agent, Status.COMPLETED), mark, 10)  # its turn is over
                got = wait_trace(trace, lambda r, k=i + 1: r.get("event") == "input" and r.get("turn") == k)
                if i >= warmup:
                    rows.append({"latency_s": got["t"] - t0, "send_call_s": t_reply - t0,
                                 "to_delivered_event_s": delivered.ts - t0,
                                 "delivered_to_cli_input_s": got["t"] - delivered.ts})
        finally:
            cpu1 = self.daemon_cpu()
            self.rpc.call("agent.kill", {"agent": agent, "grace": 2.0}, timeout=30)
        acked = [m for m in self.rpc.call("inbox.list", {"agent": agent}, timeout=30).messages
                 if m.status == "acknowledged"]
        return {
            "messages": len(rows),
            "latency": summary_ms([r["latency_s"] for r in rows]),
            "breakdown": {
                "inbox_send_call": summary_ms([r["send_call_s"] for r in rows]),
                "send_to_delivered_event": summary_ms([r["to_delivered_event_s"] for r in rows]),
                "delivered_to_cli_input": summary_ms([r["delivered_to_cli_input_s"] for r in rows]),
            },
            "acknowledged": len(acked),
            "daemon_cpu_s": round(cpu1 - cpu0, 3),
        }

    # ------------------------------------------------------------ figure 3

    def fig_assign(self) -> dict[str, Any]:
        n = self.args.assigns
        progress(f"3. {n} parallel assigns from one supervisor's token, until every callback is acknowledged")
        session = "assign"
        sup, pid, _ = self.launch(session)
        token = token_of(pid)
        folders = [self.folder(f"reviewer{i}") for i in range(n)]
        clients = [Client(self.d.socket) for _ in range(n)]  # connected before the start line
        barrier = threading.Barrier(n + 1)
        calls: list[dict[str, Any] | None] = [None] * n

        def assign(i: int) -> None:
            try:
                barrier.wait(timeout=30)
                t_a = time.time()
                res = clients[i].call("orch.assign", {"token": token, "agent_profile": "reviewer",
                                                      "message": f"review part{i}",
                                                      "working_directory": str(folders[i])}, timeout=120)
                calls[i] = {"t_start": t_a, "t_end": time.time(), "agent": res.agent_id}
            except Exception as e:  # noqa: BLE001 - reported below
                calls[i] = {"error": repr(e)}

        threads = [threading.Thread(target=assign, args=(i,), name=f"assign-{i}") for i in range(n)]
        for t in threads:
            t.start()
        mark = self.tap.mark()
        cpu0 = self.daemon_cpu()
        barrier.wait(timeout=30)
        t0 = time.time()
        for t in threads:
            t.join(150)
        for c in clients:
            c.close()
        errors = [("no reply" if c is None else c["error"]) for c in calls if c is None or "error" in c]
        if errors:
            raise RuntimeError(f"orch.assign failed: {errors}")
        reviewers = {c["agent"] for c in calls}
        if len(reviewers) != n:
            raise RuntimeError(f"expected {n} distinct reviewers, got {len(reviewers)}")

        # All callbacks acknowledged, as inbox.list tells (polled), and to the event.
        deadline = time.monotonic() + 150
        while True:
            msgs = [m for m in self.rpc.call("inbox.list", {"agent": sup}, timeout=30).messages
                    if m.sender in reviewers]
            if len(msgs) >= n and all(m.status == "acknowledged" for m in msgs):
                t_polled = time.time()
                break
            if time.monotonic() > deadline:
                raise TimeoutError(f"callbacks not acknowledged: {[(m.sender, m.status) for m in msgs]}")
            time.sleep(self.args.poll_ms / 1000.0)
        cpu1 = self.daemon_cpu()

        # Events: the supervisor's completed status after its n-th delivered callback acknowledges it.
        idle_ts, queued_ts, delivered_ts = [], [], []
        since = mark
        for rid in reviewers:
            idle_ts.append(self.tap.wait_for(is_status(rid, Status.IDLE), mark, 5)[1].ts)
        for _ in range(n):
            i = self._index_of(lambda ev: is_message(sup, "queued")(ev) and ev.detail.get("from") in reviewers, since)
            queued_ts.append(self.tap.log[i][1].ts)
            since = i + 1
        since = mark
        for _ in range(n):
            i = self._index_of(lambda ev: is_message(sup, "delivered")(ev) and ev.detail.get("from") in reviewers,
                               since)
            delivered_ts.append(self.tap.log[i][1].ts)
            since = i + 1
        t_ack_event, _ = self.tap.wait_for(is_status(sup, Status.COMPLETED), since, 5)

        # Reviewer side: its send_message call (trace) -> the message queued at the daemon (event).
        report_request = []
        queued_by_sender = {}
        for _, ev in self.tap.log[mark:]:
            if is_message(sup, "queued")(ev) and ev.detail.get("from") in reviewers:
                queued_by_sender.setdefault(ev.detail["from"], ev.ts)
        pid_of = {ev.agent: ev.detail.get("pid") for _, ev in self.tap.log[mark:] if is_spawned_by(sup)(ev)}
        to_fork, fork_to_queued = [], []
        for i in range(n):
            rid = calls[i]["agent"]
            call = first(read_trace(trace_of(folders[i])), "mcp_call")
            if call is None or rid not in queued_by_sender:
                continue
            report_request.append(queued_by_sender[rid] - call["t"])
            bridge = bridge_of(pid_of[rid]) if pid_of.get(rid) else None
            if bridge is not None:
                forked = proc_start_wall(bridge)
                to_fork.append(forked - call["t"])
                fork_to_queued.append(queued_by_sender[rid] - forked)
        self.shutdown(session)

        durations = [c["t_end"] - c["t_start"] for c in calls]
        start_spread = max(c["t_start"] for c in calls) - min(c["t_start"] for c in calls)
        return {
            "assigns": n,
            "assign_call": summary_ms(durations),
            "assign_start_spread_ms": ms(start_spread),
            "all_assigns_returned_ms": ms(max(c["t_end"] for c in calls) - t0),
            "all_reviewers_idle_ms": ms(max(idle_ts) - t0),
            "first_callback_queued_ms": ms(min(queued_ts) - t0),
            "last_callback_queued_ms": ms(max(queued_ts) - t0),
            "first_callback_delivered_ms": ms(min(delivered_ts) - t0),
            "all_acknowledged_event_ms": ms(t_ack_event - t0),
            "all_acknowledged_polled_ms": ms(t_polled - t0),
            "poll_ms": self.args.poll_ms,
            "reviewer_report_request": summary_ms(report_request),
            "reviewer_mcp_call_to_bridge_exec": summary_ms(to_fork),
            "reviewer_bridge_exec_to_queued": summary_ms(fork_to_queued),
            "last_queued_to_all_acknowledged_ms": ms(t_ack_event - max(queued_ts)),
            "supervisor_callback_turns_ms": ms(t_ack_event - min(delivered_ts)),
            "supervisor_think_total_ms": ms(n * THINK_S),
            "daemon_cpu_s": round(cpu1 - cpu0, 3),
        }

    def _index_of(self, pred: Callable[[Event], bool], since: int, timeout: float = 10.0) -> int:
        self.tap.wait_for(pred, since, timeout)
        with self.tap.cond:
            return next(i for i in range(since, len(self.tap.log)) if pred(self.tap.log[i][1]))


# ---------------------------------------------------------------- report


def render_table(res: dict[str, Any]) -> str:
    m = res["machine"]
    lines = [
        f"caod orchestration benchmark ({'quick' if res['options']['quick'] else 'full'} run), caod {m['caod']}",
        f"machine: nproc {m['nproc']} · {m['cpu_model']} · Python {m['python']} ({m['implementation']}) · "
        f"Linux {m['kernel']} · load avg at start {m['loadavg_at_start']}",
        "",
    ]
    rows: list[tuple[str, str, str, str, str]] = []

    def f(x: float) -> str:
        return f"{x:8.1f} ms"

    def add(label: str, v: str = "", p95: str = "", target: str = "", ok: str = "") -> None:
        rows.append((label, v, p95, target, ok))

    def pair(label: str, s: dict, target: str = "", ok: str = "") -> None:
        add(label, f(s["p50_ms"]), f(s["p95_ms"]), target, ok)

    h = res.get("handoff")
    if h:
        o = h["overhead"]
        pair(f"1. handoff overhead beyond worker start ({h['warm_handoffs']} warm)", o,
             f"<= {TARGET_HANDOFF_OVERHEAD_MS:g} ms p50", verdict(o["p50_ms"], TARGET_HANDOFF_OVERHEAD_MS))
        pair("   supervisor turn, send -> completed (total)", h["turn"], f"CAO {CAO_HANDOFF_S:g} s")
        pair(f"   minus worker think ({THINK_S * 1000:g} ms) and worker CLI start", h["worker_cli_start"])
        pair("     (worker start by events: idle - spawned)", h["worker_start_by_events"])
        b = h["breakdown"]
        pair("     send -> supervisor CLI got input", b["send_to_sup_input"])
        pair("     supervisor input -> MCP tool call (think 0)", b["sup_input_to_mcp_call"])
        pair("     MCP call -> worker spawned (SDK, bridge, daemon)", b["mcp_call_to_worker_spawned"])
        pair("     worker ready -> worker got the task", b["worker_ready_to_input"])
        pair("     worker turn beyond think (-> completed event)", b["worker_turn_beyond_think"])
        pair("     worker completed -> supervisor got MCP result", b["worker_completed_to_mcp_result"])
        pair("     supervisor MCP result -> final frame", b["mcp_result_to_sup_final"])
        pair("     supervisor final frame -> send reply", b["sup_final_to_reply"])
        c = h["cold"]
        pair(f"   first handoff of a fresh supervisor ({c['overhead']['n']}): overhead", c["overhead"])
        pair("     MCP call -> worker spawned, first call", c["mcp_request"])
        add("     MCP bridge start (first call - warm p50)", f(c["bridge_start_ms"]))
        pair("       agent: MCP call -> caoctl mcp forked", c["mcp_call_to_bridge_exec"])
        pair("       caoctl mcp forked -> worker spawned", c["bridge_exec_to_worker_spawned"])
        s = h["bridge_standalone"]
        pair(f"   caoctl mcp alone ({s['runs']}): exec -> initialize answered", s["exec_to_initialized"])
        pair("     tools/call list_agents, first", s["first_tool_call"])
        pair("     tools/call list_agents, second", s["second_tool_call"])
    ib = res.get("inbox")
    if ib:
        lat = ib["latency"]
        pair(f"2. inbox.send -> idle agent's CLI got it ({ib['messages']} msgs)", lat,
             f"<= {TARGET_INBOX_P95_MS:g} ms p95", verdict(lat["p95_ms"], TARGET_INBOX_P95_MS))
        add("", "", "", f"CAO {CAO_INBOX_MS:g} ms")
        b = ib["breakdown"]
        pair("     inbox.send call (message committed)", b["inbox_send_call"])
        pair("     send -> delivered event (2nd commit, typed)", b["send_to_delivered_event"])
        pair("     delivered -> CLI got input (PTY, paste, submit)", b["delivered_to_cli_input"])
    a = res.get("assign")
    if a:
        n = a["assigns"]
        add(f"3. {n} parallel assigns: all callbacks acknowledged", f(a["all_acknowledged_event_ms"]))
        add(f"     same, polling inbox.list every {a['poll_ms']:g} ms", f(a["all_acknowledged_polled_ms"]))
        s = a["assign_call"]
        add("   orch.assign call p50 / max", f(s["p50_ms"]), f(s["max_ms"]))
        add("     all assign calls returned", f(a["all_assigns_returned_ms"]))
        add("     all reviewers idle", f(a["all_reviewers_idle_ms"]))
        add("     first / last callback queued", f(a["first_callback_queued_ms"]), f(a["last_callback_queued_ms"]))
        pair("     reviewer: send_message call -> queued", a["reviewer_report_request"])
        pair("       MCP call -> its caoctl mcp forked", a["reviewer_mcp_call_to_bridge_exec"])
        pair("       caoctl mcp forked -> message queued", a["reviewer_bridge_exec_to_queued"])
        add("     first callback delivered to the supervisor", f(a["first_callback_delivered_ms"]))
        add(f"     supervisor's {n} callback turns (incl. {a['supervisor_think_total_ms']:g} ms think)",
            f(a["supervisor_callback_turns_ms"]))
        add("     last callback queued -> all acknowledged", f(a["last_queued_to_all_acknowledged_ms"]))

    w0 = max(len(r[0]) for r in rows)
    w3 = max(len("target"), *(len(r[3]) for r in rows))
    header = ("figure", "p50 / value", "p95", "target", "")
    lines.append(f"{header[0]:<{w0}}  {header[1]:>11}  {header[2]:>11}  {header[3]:<{w3}} {header[4]}")
    lines.append("-" * (w0 + w3 + 32))
    for label, v, p95, target, ok in rows:
        lines.append(f"{label:<{w0}}  {v:>11}  {p95:>11}  {target:<{w3}} {ok}".rstrip())
    lines.append("")
    cpu = ", ".join(f"{name} {res[key]['daemon_cpu_s']:g} s" for key, name in
                    (("handoff", "1"), ("inbox", "2"), ("assign", "3")) if key in res)
    if cpu:
        lines.append(f"daemon CPU during figures: {cpu}")
    cl = res.get("cleanup")
    if cl:
        lines.append(f"left behind after the daemon stopped: {cl['leftover_processes']} processes, "
                     f"temp dir removed: {cl['temp_dir_removed']}")
    lines.append(f"total bench time {res['elapsed_s']:.1f} s; targets are not asserted")
    return "\n".join(lines)


# ---------------------------------------------------------------- main


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    ap = argparse.ArgumentParser(description="caod orchestration benchmark (starts its own daemon)")
    ap.add_argument("--quick", action="store_true", help="smaller counts (smoke run)")
    ap.add_argument("--json", action="store_true", help="print JSON on stdout (the table goes to stderr)")
    ap.add_argument("--handoffs", type=int, help="warm handoffs for figure 1 (default 24; quick 6)")
    ap.add_argument("--supervisors", type=int, help="fresh supervisors, one cold handoff each (default 3; quick 1)")
    ap.add_argument("--bridge-runs", type=int, help="standalone caoctl mcp starts (default 3; quick 1)")
    ap.add_argument("--messages", type=int, help="measured inbox messages for figure 2 (default 60; quick 15)")
    ap.add_argument("--warmup-messages", type=int, default=3, help="unmeasured messages first (default 3)")
    ap.add_argument("--assigns", type=int, help="parallel assigns for figure 3 (default 10; quick 4)")
    ap.add_argument("--poll-ms", type=float, default=25.0, help="inbox.list polling period in figure 3 (default 25)")
    ap.add_argument("--only", default="1,2,3", help="comma-separated figures to run (default all)")
    add_caod_option(ap)
    args = ap.parse_args(argv)
    q = args.quick
    defaults = {
        "handoffs": 6 if q else 24,
        "supervisors": 1 if q else 3,
        "bridge_runs": 1 if q else 3,
        "messages": 15 if q else 60,
        "assigns": 4 if q else 10,
    }
    fill_defaults(args, defaults)
    if args.supervisors < 1 or args.handoffs < args.supervisors:
        ap.error("need --supervisors >= 1 and --handoffs >= --supervisors")
    args.figures = {s.strip() for s in args.only.split(",") if s.strip()}
    return args


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)

    def on_term(_signum: int, _frame: Any) -> None:
        raise KeyboardInterrupt

    signal.signal(signal.SIGTERM, on_term)
    machine = machine_info()
    machine.pop("pyte", None)
    results: dict[str, Any] = {
        "machine": machine,
        "options": {k: v for k, v in vars(args).items() if k != "figures"},
        "targets": {
            "handoff_overhead_p50_ms": TARGET_HANDOFF_OVERHEAD_MS,
            "inbox_latency_p95_ms": TARGET_INBOX_P95_MS,
        },
        "reference_cao": {"handoff_total_s": CAO_HANDOFF_S, "inbox_latency_ms": CAO_INBOX_MS},
    }
    figs = args.figures
    daemon = BenchDaemon(args.caod)
    bench: Bench | None = None
    try:
        progress(f"starting caod on {daemon.socket}")
        daemon.start()
        bench = Bench(args, daemon)
        if "1" in figs:
            results["handoff"] = bench.fig_handoff()
        if "2" in figs:
            results["inbox"] = bench.fig_inbox()
        if "3" in figs:
            results["assign"] = bench.fig_assign()
    except KeyboardInterrupt:
        progress("interrupted")
        return 130
    finally:
        if bench is not None:
            bench.close()
        progress("stopping caod")
        daemon.stop()
        results["cleanup"] = cleanup(daemon)
    results["elapsed_s"] = round(time.monotonic() - T_START, 1)
    table = render_table(results)
    if args.json:
        print(table, file=sys.stderr)
        print(json.dumps(results, indent=2))
    else:
        print(table)
    return 0


def cleanup(daemon: BenchDaemon) -> dict[str, Any]:
    """After the daemon's own shutdown: anything of ours still running is killed and counted."""
    deadline = time.monotonic() + 5.0
    left = processes_of(daemon.socket)
    while left and time.monotonic() < deadline:  # agents and bridges may still be on their way out
        time.sleep(0.1)
        left = processes_of(daemon.socket)
    for pid in left:
        progress(f"killing left-over process {pid}: {_cmdline(pid)[:120]}")
        try:
            os.kill(pid, signal.SIGKILL)
        except ProcessLookupError:
            pass
    return {"leftover_processes": len(left), "temp_dir_removed": not daemon.root.exists()}


if __name__ == "__main__":
    sys.exit(main())
