#!/usr/bin/env python3
"""Core benchmark for caod: spawn latency, turn overhead, event latency,
idle CPU, memory per agent and screen-parsing throughput.

    .venv/bin/python bench/bench_core.py            # full run (~1.5-3 min)
    .venv/bin/python bench/bench_core.py --quick    # smoke run (~30 s)
    .venv/bin/python bench/bench_core.py --json     # JSON on stdout, table on stderr

It starts its own daemon on a private temporary socket and home, drives it
with the built-in `scripted` provider, and removes everything at the end.
Targets are printed next to the figures; nothing is asserted.
See bench/README.md for what each figure means.
"""

from __future__ import annotations

import argparse
import itertools
import json
import random
import signal
import sys
import time
from pathlib import Path
from typing import Any

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
    pipeline,
    proc_cpu_seconds,
    proc_rss_kib,
    progress,
    read_trace,
    summary_ms,
    verdict,
    wait_trace,
)

import pyte  # noqa: E402

import providers  # noqa: E402
from caoctl.client import Client  # noqa: E402
from caod.screen import AgentScreen  # noqa: E402
from caod.status import Status  # noqa: E402

THINK_S = 0.05
QUIET_MS = providers.get("scripted").spec.quiet_ms  # the no-sync frame window

# Targets (p50 unless said otherwise); printed, never asserted.
TARGET_BEYOND_START_MS = 150.0
TARGET_TURN_OVERHEAD_MS = 30.0
TARGET_EVENT_MS = 50.0
TARGET_IDLE_CPU_PCT = 1.0
TARGET_MIB_PER_AGENT = 1.0


def scripted_rules(think: float = THINK_S) -> str:
    return json.dumps({"default": {"reply": "ok {turn}", "think": think}})


# ---------------------------------------------------------------- the benchmark


class Bench:
    def __init__(self, args: argparse.Namespace, daemon: BenchDaemon):
        self.args = args
        self.d = daemon
        self.rpc = Client(daemon.socket)
        self.tap = EventTap(daemon.socket)
        self.tap.start()
        self._trace_n = itertools.count(1)

    def close(self) -> None:
        self.tap.close()
        self.rpc.close()

    # ------------------------------------------------------------ agents

    def spawn_params(self, label: str, sync: bool = True, think: float = THINK_S) -> tuple[dict, Path]:
        trace = self.d.traces / f"{label}-{next(self._trace_n)}.jsonl"
        params = {
            "provider": "scripted",
            "cwd": str(self.d.work),
            "env": {
                "CAO_SCRIPTED_RULES": scripted_rules(think),
                "CAO_SCRIPTED_TRACE": str(trace),
                "CAO_SCRIPTED_NO_SYNC": "0" if sync else "1",
            },
        }
        return params, trace

    def spawn_many_until_idle(self, label: str, count: int, timeout: float = 120.0) -> dict[str, Any]:
        """Spawn `count` agents at once; wait until every one is idle."""
        specs = [self.spawn_params(label) for _ in range(count)]
        mark = self.tap.mark()
        t0 = time.time()
        infos = pipeline(self.rpc, "agent.spawn", [p for p, _ in specs], timeout=timeout)
        t_replied = time.time()
        idle_at = {}
        for info in infos:
            t, _ = self.tap.wait_for(is_status(info.id, Status.IDLE), mark, timeout)
            idle_at[info.id] = t
        ready_at = [wait_trace(trace, lambda r: r.get("event") == "ready")["t"] for _, trace in specs]
        return {
            "ids": [i.id for i in infos],
            "pids": [i.pid for i in infos],
            "t0": t0,
            "spawn_replies_s": t_replied - t0,
            "all_idle_s": max(idle_at.values()) - t0,
            "last_cli_ready_s": max(ready_at) - t0,
        }

    def kill(self, ids: list[str]) -> None:
        if ids:
            pipeline(self.rpc, "agent.kill", [{"agent": i, "grace": 2.0} for i in ids], timeout=60)

    # ------------------------------------------------------------ figure 1

    def fig_spawn(self) -> dict[str, Any]:
        n = self.args.agents
        progress(f"1. spawn -> idle: {n} agents one after another")
        total, cli_start, beyond, rpc = [], [], [], []
        ids = []
        for _ in range(n):
            params, trace = self.spawn_params("spawn")
            mark = self.tap.mark()
            t0 = time.time()
            info = self.rpc.call("agent.spawn", params, timeout=30)
            t_reply = time.time()
            ids.append(info.id)
            t_idle, _ = self.tap.wait_for(is_status(info.id, Status.IDLE), mark, 30)
            t_ready = wait_trace(trace, lambda r: r.get("event") == "ready")["t"]
            total.append(t_idle - t0)
            cli_start.append(t_ready - t0)
            beyond.append(t_idle - t_ready)
            rpc.append(t_reply - t0)
        self.kill(ids)

        b = self.args.burst
        progress(f"1. spawn -> idle: {b} agents at once")
        burst = self.spawn_many_until_idle("burst", b)
        self.kill(burst["ids"])
        return {
            "sequential": {
                "agents": n,
                "spawn_to_idle": summary_ms(total),
                "cli_own_start": summary_ms(cli_start),
                "beyond_cli_start": summary_ms(beyond),
                "spawn_rpc": summary_ms(rpc),
            },
            "at_once": {
                "agents": b,
                "all_idle_ms": round(burst["all_idle_s"] * 1000, 1),
                "last_cli_ready_ms": round(burst["last_cli_ready_s"] * 1000, 1),
                "beyond_last_cli_ready_ms": round((burst["all_idle_s"] - burst["last_cli_ready_s"]) * 1000, 1),
                "spawn_replies_ms": round(burst["spawn_replies_s"] * 1000, 1),
            },
        }

    # ------------------------------------------------------------ figures 2 and 3

    def fig_turns(self, sync: bool) -> dict[str, Any]:
        n = self.args.turns
        mode = "sync frames" if sync else "no sync (quiescence)"
        progress(f"2+3. {n} turns, {mode}")
        params, trace = self.spawn_params("turns-sync" if sync else "turns-nosync", sync=sync)
        mark = self.tap.mark()
        info = self.rpc.call("agent.spawn", params, timeout=30)
        self.tap.wait_for(is_status(info.id, Status.IDLE), mark, 30)
        rows = []
        try:
            for i in range(self.args.warmup_turns + n):
                mark = self.tap.mark()
                t0 = time.time()
                res = self.rpc.call(
                    "agent.send", {"agent": info.id, "text": f"task {i}", "wait": True, "timeout": 30}, timeout=40
                )
                t1 = time.time()
                if res.answer is None or not res.answer.startswith("ok "):
                    raise RuntimeError(f"unexpected answer {res.answer!r} (status {res.agent.status.value})")
                turn = int(res.answer.split()[1])
                t_ev, ev = self.tap.wait_for(is_status(info.id, Status.COMPLETED), mark, 10)
                if i >= self.args.warmup_turns:
                    rows.append({"turn": turn, "t0": t0, "t1": t1, "t_event": t_ev, "event_ts": ev.ts})
        finally:
            self.kill([info.id])
        records = read_trace(trace)
        inputs = {r["turn"]: r["t"] for r in records if r.get("event") == "input"}
        finals = {r["turn"]: r["t"] for r in records if r.get("event") == "final_frame"}
        overhead, to_input, cli_turn, final_to_reply = [], [], [], []
        ev_latency, ev_publish, ev_delivery = [], [], []
        for row in rows:
            turn = row["turn"]
            overhead.append(row["t1"] - row["t0"] - THINK_S)
            if turn not in finals or turn not in inputs:
                continue
            to_input.append(inputs[turn] - row["t0"])
            cli_turn.append(finals[turn] - inputs[turn] - THINK_S)
            final_to_reply.append(row["t1"] - finals[turn])
            ev_latency.append(row["t_event"] - finals[turn])
            ev_publish.append(row["event_ts"] - finals[turn])
            ev_delivery.append(row["t_event"] - row["event_ts"])
        return {
            "sync": sync,
            "quiet_window_ms": None if sync else QUIET_MS,
            "turns": len(rows),
            "think_s": THINK_S,
            "turn_overhead": summary_ms(overhead),
            "breakdown": {
                "send_to_cli_input": summary_ms(to_input),
                "cli_input_to_final_frame_minus_think": summary_ms(cli_turn),
                "final_frame_to_reply": summary_ms(final_to_reply),
            },
            "status_event": summary_ms(ev_latency),
            "status_event_breakdown": {
                "final_frame_to_publish": summary_ms(ev_publish),
                "publish_to_subscriber": summary_ms(ev_delivery),
            },
        }

    # ------------------------------------------------------------ figures 4 and 5

    def fig_idle(self) -> dict[str, Any]:
        pid = self.d.pid
        assert pid is not None
        rss_fresh = proc_rss_kib(pid)
        progress("5. warm-up: one agent spawned and killed (one-time imports, caches)")
        warm = self.spawn_many_until_idle("warmup", 1)
        self.kill(warm["ids"])
        time.sleep(0.5)
        rss0 = proc_rss_kib(pid)

        n = self.args.idle_agents
        progress(f"4+5. spawning {n} agents at once, waiting until all are idle")
        many = self.spawn_many_until_idle("idle", n, timeout=180)
        time.sleep(1.0)  # let the last frames, timers and store writes settle
        rss_n_before = proc_rss_kib(pid)

        window = self.args.idle_seconds
        progress(f"4. measuring the daemon's CPU over {window:g}s with {n} idle agents")
        mark = self.tap.mark()
        agent_pids = [p for p in many["pids"] if p]
        agents_cpu0 = sum(_safe_cpu(p) for p in agent_pids)
        w0, c0 = time.monotonic(), proc_cpu_seconds(pid)
        time.sleep(window)
        w1, c1 = time.monotonic(), proc_cpu_seconds(pid)
        agents_cpu1 = sum(_safe_cpu(p) for p in agent_pids)
        events_during = self.tap.mark() - mark
        rss_n = proc_rss_kib(pid)
        live = self.rpc.call("daemon.status", timeout=10).agents_live
        self.kill(many["ids"])

        wall = w1 - w0
        return {
            "idle_cpu": {
                "agents": n,
                "agents_live": live,
                "window_s": round(wall, 2),
                "daemon_cpu_s": round(c1 - c0, 3),
                "daemon_pct_of_core": round(100.0 * (c1 - c0) / wall, 3),
                "resolution_pct": round(100.0 / CLK_TCK / wall, 3),
                "agents_cpu_s_total": round(agents_cpu1 - agents_cpu0, 3),
                "events_during_window": events_during,
                "all_idle_ms": round(many["all_idle_s"] * 1000, 1),
            },
            "rss": {
                "agents": n,
                "fresh_kib": rss_fresh,
                "zero_agents_kib": rss0,
                "n_agents_settled_kib": rss_n_before,
                "n_agents_after_window_kib": rss_n,
                "per_agent_mib": round((rss_n - rss0) / n / 1024.0, 3),
            },
        }


def _safe_cpu(pid: int) -> float:
    try:
        return proc_cpu_seconds(pid)
    except (OSError, ValueError):
        return 0.0


# ---------------------------------------------------------------- figure 6 (in process)


_WORDS = (
    "def return import self async await class None True False yield lambda "
    "caod agent screen frame status idle completed processing waiting pyte "
    "buffer cursor socket daemon provider transcript detector event subscribe "
    "the of and to in is that for it with as on be at by this from or"
).split()
_SPIN = "⠋⠙⠹⠸⠼⠴⠦⠧⠇⠏"
_UNICODE_BITS = ["│", "─", "╭", "╮", "╰", "╯", "●", "✓", "✗", "⎿", "…", "→", "日本語", "テスト", "é", "ß"]


def make_stream(size: int, seed: int = 2026) -> bytes:
    """A deterministic stream that looks like a captured coding-CLI session."""
    rng = random.Random(seed)
    out: list[bytes] = []
    total = 0

    def words(lo: int, hi: int) -> str:
        return " ".join(rng.choice(_WORDS) for _ in range(rng.randint(lo, hi)))

    while total < size:
        r = rng.random()
        if r < 0.40:  # plain answer/tool-output lines
            piece = "".join(f"  {words(3, 16)}\r\n" for _ in range(rng.randint(1, 6)))
        elif r < 0.60:  # syntax-highlighted code: 16/256/truecolour SGR, bold, reset
            parts = []
            for _ in range(rng.randint(2, 8)):
                c = rng.random()
                if c < 0.4:
                    sgr = f"\x1b[{rng.choice((31, 32, 33, 34, 35, 36, 90))}m"
                elif c < 0.7:
                    sgr = f"\x1b[38;5;{rng.randint(16, 231)}m"
                else:
                    sgr = f"\x1b[1;38;2;{rng.randint(0, 255)};{rng.randint(0, 255)};{rng.randint(0, 255)}m"
                parts.append(f"{sgr}{words(1, 4)}\x1b[0m")
            piece = "    " + " ".join(parts) + "\r\n"
        elif r < 0.72:  # spinner redraws on one line with CR and erase-in-line
            piece = "".join(
                f"\r\x1b[2K\x1b[38;5;208m{_SPIN[k % 10]}\x1b[0m Thinking… ({k // 10}s · esc to interrupt)"
                for k in range(rng.randint(3, 12))
            ) + "\r\n"
        elif r < 0.88:  # a synchronized-output frame redrawing an input box
            width = 78
            body = words(1, 8)[: width - 6]
            piece = (
                "\x1b[?2026h\r\x1b[3A\x1b[J"
                + "".join(f"● {words(2, 10)}\r\n" for _ in range(rng.randint(0, 2)))
                + "╭" + "─" * (width - 2) + "╮\r\n"
                + "│ > " + body + " " * (width - 6 - len(body)) + " │\r\n"
                + "╰" + "─" * (width - 2) + "╯\r\n"
                + "\x1b[2m  ready · ? for help\x1b[0m"
                + "\x1b[?2026l"
            )
        else:  # absolute/relative cursor moves, erases, wide characters
            y, x = rng.randint(1, 40), rng.randint(1, 100)
            piece = (
                f"\x1b[{y};{x}H{rng.choice(_UNICODE_BITS)} {words(1, 5)}\x1b[K"
                f"\x1b[{rng.randint(1, 5)}A\x1b[{rng.randint(1, 60)}G{rng.choice(_UNICODE_BITS)}"
                f"\x1b[{rng.randint(1, 5)}B\x1b[7m {words(1, 2)} \x1b[27m"
                f"\x1b[40;1H\r\n"
            )
        data = piece.encode("utf-8")
        out.append(data)
        total += len(data)
    return b"".join(out)


def fig_pyte(size_mb: float, chunk: int, repeats: int) -> dict[str, Any]:
    progress(f"6. building a {size_mb:g} MB stream and feeding it in {chunk // 1024} KiB chunks")
    data = make_stream(int(size_mb * 1_000_000))
    chunks = [data[i : i + chunk] for i in range(0, len(data), chunk)]
    n_frames_in_stream = data.count(b"\x1b[?2026l")

    def run_raw() -> float:
        screen = pyte.Screen(120, 40)
        stream = pyte.ByteStream(screen)
        t = time.perf_counter()
        for c in chunks:
            stream.feed(c)
        return time.perf_counter() - t

    frames = [0]

    def run_ours() -> float:
        screen = AgentScreen(120, 40)
        frames[0] = 0

        def on_frame_end() -> None:
            frames[0] += 1

        t = time.perf_counter()
        for c in chunks:
            screen.feed(c, on_frame_end)
        return time.perf_counter() - t

    raw_times, ours_times = [], []
    for _ in range(repeats):  # interleaved, best of `repeats`
        raw_times.append(run_raw())
        ours_times.append(run_ours())
    mb = len(data) / 1_000_000
    raw_best, ours_best = min(raw_times), min(ours_times)
    return {
        "stream_bytes": len(data),
        "chunk_bytes": chunk,
        "chunks": len(chunks),
        "sync_frames_in_stream": n_frames_in_stream,
        "frame_callbacks": frames[0],
        "repeats": repeats,
        "agentscreen_mb_s": round(mb / ours_best, 3),
        "raw_pyte_mb_s": round(mb / raw_best, 3),
        "agentscreen_s": [round(t, 3) for t in ours_times],
        "raw_pyte_s": [round(t, 3) for t in raw_times],
        "overhead_ratio": round(ours_best / raw_best, 3),
    }


# ---------------------------------------------------------------- report


def render_table(res: dict[str, Any]) -> str:
    m = res["machine"]
    lines = [
        f"caod core benchmark ({'quick' if res['options']['quick'] else 'full'} run), caod {m['caod']}",
        f"machine: nproc {m['nproc']} · {m['cpu_model']} · Python {m['python']} ({m['implementation']}) · "
        f"Linux {m['kernel']} · pyte {m['pyte']} · load avg at start {m['loadavg_at_start']}",
        "",
    ]
    rows: list[tuple[str, str, str, str, str]] = []

    def ms(x: float) -> str:
        return f"{x:8.1f} ms"

    def add(label: str, v: str = "", p95: str = "", target: str = "", ok: str = "") -> None:
        rows.append((label, v, p95, target, ok))

    f1 = res.get("spawn")
    if f1:
        s = f1["sequential"]
        add(f"1. spawn -> idle event ({s['agents']} sequential)", ms(s["spawn_to_idle"]["p50_ms"]),
            ms(s["spawn_to_idle"]["p95_ms"]))
        add("   CLI's own start (trace ready - spawn call)", ms(s["cli_own_start"]["p50_ms"]),
            ms(s["cli_own_start"]["p95_ms"]))
        b = s["beyond_cli_start"]
        add("   beyond the CLI's own start (idle - ready)", ms(b["p50_ms"]), ms(b["p95_ms"]),
            f"<= {TARGET_BEYOND_START_MS:g} ms", verdict(b["p50_ms"], TARGET_BEYOND_START_MS))
        add("   agent.spawn call itself", ms(s["spawn_rpc"]["p50_ms"]), ms(s["spawn_rpc"]["p95_ms"]))
        a = f1["at_once"]
        add(f"   {a['agents']} spawned at once: all idle after", ms(a["all_idle_ms"]))
        add("     last CLI ready after / beyond it", ms(a["last_cli_ready_ms"]), ms(a["beyond_last_cli_ready_ms"]),
            f"<= {TARGET_BEYOND_START_MS:g} ms", verdict(a["beyond_last_cli_ready_ms"], TARGET_BEYOND_START_MS))
    for key, name in (("turns_sync", "sync frames"), ("turns_nosync", f"no sync ({QUIET_MS} ms quiet)")):
        t = res.get(key)
        if not t:
            continue
        o = t["turn_overhead"]
        add(f"2. turn overhead, {name} ({t['turns']} turns)", ms(o["p50_ms"]), ms(o["p95_ms"]),
            f"<= {TARGET_TURN_OVERHEAD_MS:g} ms", verdict(o["p50_ms"], TARGET_TURN_OVERHEAD_MS))
        bd = t["breakdown"]
        add("     send -> CLI got input", ms(bd["send_to_cli_input"]["p50_ms"]), ms(bd["send_to_cli_input"]["p95_ms"]))
        add("     CLI's own turn work (beyond think)", ms(bd["cli_input_to_final_frame_minus_think"]["p50_ms"]),
            ms(bd["cli_input_to_final_frame_minus_think"]["p95_ms"]))
        add("     final frame -> send reply", ms(bd["final_frame_to_reply"]["p50_ms"]),
            ms(bd["final_frame_to_reply"]["p95_ms"]))
    for key, name in (("turns_sync", "sync frames"), ("turns_nosync", f"no sync ({QUIET_MS} ms quiet)")):
        t = res.get(key)
        if not t:
            continue
        e = t["status_event"]
        add(f"3. completed event after final frame, {name}", ms(e["p50_ms"]), ms(e["p95_ms"]),
            f"<= {TARGET_EVENT_MS:g} ms", verdict(e["p50_ms"], TARGET_EVENT_MS))
        eb = t["status_event_breakdown"]
        add("     final frame -> published (event ts)", ms(eb["final_frame_to_publish"]["p50_ms"]),
            ms(eb["final_frame_to_publish"]["p95_ms"]))
        add("     published -> subscriber got it", ms(eb["publish_to_subscriber"]["p50_ms"]),
            ms(eb["publish_to_subscriber"]["p95_ms"]))
    idle = res.get("idle")
    if idle:
        c = idle["idle_cpu"]
        add(f"4. idle CPU, {c['agents']} idle agents, {c['window_s']:g} s", f"{c['daemon_pct_of_core']:8.3f} %", "",
            f"< {TARGET_IDLE_CPU_PCT:g} % core", verdict(c["daemon_pct_of_core"], TARGET_IDLE_CPU_PCT, strict=True))
        add(f"     (resolution {c['resolution_pct']:g} %; {c['events_during_window']} events in window;"
            f" agents' own CPU {c['agents_cpu_s_total']:g} s)")
        r = idle["rss"]
        add("5. daemon RSS, 0 agents (after warm-up)", f"{r['zero_agents_kib'] / 1024:8.1f} MiB")
        add(f"   daemon RSS, {r['agents']} idle agents", f"{r['n_agents_after_window_kib'] / 1024:8.1f} MiB")
        add("   per agent", f"{r['per_agent_mib']:8.3f} MiB", "",
            f"< {TARGET_MIB_PER_AGENT:g} MiB", verdict(r["per_agent_mib"], TARGET_MIB_PER_AGENT, strict=True))
        add(f"     (fresh daemon {r['fresh_kib'] / 1024:.1f} MiB before any spawn)")
    p = res.get("pyte")
    if p:
        add(f"6. AgentScreen.feed ({p['stream_bytes'] / 1e6:.1f} MB, {p['chunk_bytes'] // 1024} KiB chunks)",
            f"{p['agentscreen_mb_s']:8.2f} MB/s")
        add("   raw pyte.ByteStream + pyte.Screen", f"{p['raw_pyte_mb_s']:8.2f} MB/s")
        add("   time ratio AgentScreen / raw pyte", f"{p['overhead_ratio']:8.2f} x")

    w0 = max(len(r[0]) for r in rows)
    header = ("figure", "p50 / value", "p95", "target", "")
    lines.append(f"{header[0]:<{w0}}  {header[1]:>11}  {header[2]:>11}  {header[3]:<15} {header[4]}")
    lines.append("-" * (w0 + 46))
    for label, v, p95, target, ok in rows:
        lines.append(f"{label:<{w0}}  {v:>11}  {p95:>11}  {target:<15} {ok}".rstrip())
    lines.append("")
    lines.append(f"total bench time {res['elapsed_s']:.1f} s; targets are checked against p50 (not asserted)")
    return "\n".join(lines)


# ---------------------------------------------------------------- main


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    ap = argparse.ArgumentParser(description="caod core benchmark (starts its own daemon)")
    ap.add_argument("--quick", action="store_true", help="smaller counts and a 5 s idle window (smoke run)")
    ap.add_argument("--json", action="store_true", help="print JSON on stdout (the table goes to stderr)")
    ap.add_argument("--agents", type=int, help="sequential spawns for figure 1 (default 10; quick 4)")
    ap.add_argument("--burst", type=int, help="agents spawned at once for figure 1 (default 20; quick 8)")
    ap.add_argument("--turns", type=int, help="measured turns per mode for figures 2-3 (default 60; quick 15)")
    ap.add_argument("--warmup-turns", type=int, default=3, help="unmeasured turns first (default 3)")
    ap.add_argument("--idle-agents", type=int, help="agents for figures 4-5 (default 50; quick 20)")
    ap.add_argument("--idle-seconds", type=float, help="idle CPU window in seconds (default 30; quick 5)")
    ap.add_argument("--pyte-mb", type=float, help="stream size for figure 6 in MB (default 10; quick 2)")
    ap.add_argument("--pyte-repeats", type=int, help="interleaved runs, best taken (default 2; quick 1)")
    ap.add_argument("--only", default="1,2,3,4,5,6", help="comma-separated figures to run (default all)")
    add_caod_option(ap)
    args = ap.parse_args(argv)
    q = args.quick
    defaults = {
        "agents": 4 if q else 10,
        "burst": 8 if q else 20,
        "turns": 15 if q else 60,
        "idle_agents": 20 if q else 50,
        "idle_seconds": 5.0 if q else 30.0,
        "pyte_mb": 2.0 if q else 10.0,
        "pyte_repeats": 1 if q else 2,
    }
    fill_defaults(args, defaults)
    args.figures = {s.strip() for s in args.only.split(",") if s.strip()}
    return args


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)

    def on_term(_signum: int, _frame: Any) -> None:
        raise KeyboardInterrupt

    signal.signal(signal.SIGTERM, on_term)
    results: dict[str, Any] = {
        "machine": machine_info(),
        "options": {k: v for k, v in vars(args).items() if k != "figures"},
        "targets": {
            "beyond_cli_start_p50_ms": TARGET_BEYOND_START_MS,
            "turn_overhead_p50_ms": TARGET_TURN_OVERHEAD_MS,
            "status_event_p50_ms": TARGET_EVENT_MS,
            "idle_cpu_pct_of_core": TARGET_IDLE_CPU_PCT,
            "mib_per_agent": TARGET_MIB_PER_AGENT,
        },
    }
    figs = args.figures
    daemon: BenchDaemon | None = None
    bench: Bench | None = None
    try:
        if figs & {"1", "2", "3", "4", "5"}:
            daemon = BenchDaemon(args.caod)
            progress(f"starting caod on {daemon.socket}")
            daemon.start()
            bench = Bench(args, daemon)
            # Figures 4-5 first, on a fresh daemon, so the baseline RSS is clean.
            if figs & {"4", "5"}:
                results["idle"] = bench.fig_idle()
            if "1" in figs:
                results["spawn"] = bench.fig_spawn()
            if figs & {"2", "3"}:
                results["turns_sync"] = bench.fig_turns(sync=True)
                results["turns_nosync"] = bench.fig_turns(sync=False)
            bench.close()
            bench = None
            progress("stopping caod")
            daemon.stop()
            daemon = None
        if "6" in figs:
            results["pyte"] = fig_pyte(args.pyte_mb, 65536, args.pyte_repeats)
    except KeyboardInterrupt:
        progress("interrupted")
        return 130
    finally:
        if bench is not None:
            bench.close()
        if daemon is not None:
            daemon.stop()
    results["elapsed_s"] = round(time.monotonic() - T_START, 1)
    table = render_table(results)
    if args.json:
        print(table, file=sys.stderr)
        print(json.dumps(results, indent=2))
    else:
        print(table)
    return 0


if __name__ == "__main__":
    sys.exit(main())
