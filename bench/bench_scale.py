#!/usr/bin/env python3
"""Scale benchmark for caod: many agents spawned at once, then all turning at once.

    .venv/bin/python bench/bench_scale.py                   # 50, 100 and 200 agents
    .venv/bin/python bench/bench_scale.py --quick           # 20 and 50 agents, 1 burst
    .venv/bin/python bench/bench_scale.py --baseline PATH   # also another daemon, interleaved
    .venv/bin/python bench/bench_scale.py --json            # JSON on stdout, table on stderr

For each size it starts a fresh daemon of its own (a `/tmp/caod-bench-*` folder),
drives it with the built-in `scripted` provider and stops it. With `--baseline`
(another daemon executable, e.g. an older checkout) each size runs on both
daemons one after the other, so both see the same machine load. Progress on
stderr; targets next to the figures, nothing asserted. See bench/README.md.
"""

from __future__ import annotations

import argparse
import itertools
import json
import os
import resource
import shutil
import signal
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

HERE = Path(__file__).resolve().parent
if str(HERE) not in sys.path:
    sys.path.insert(0, str(HERE))

from _common import (  # noqa: E402  (also puts the repository on sys.path)
    T_START,
    BenchDaemon,
    EventTap,
    add_caod_option,
    fill_defaults,
    machine_info,
    percentile,
    proc_cpu_seconds,
    proc_rss_kib,
    progress,
    read_trace,
    verdict,
)

import msgspec  # noqa: E402

from caoctl.client import Client, RpcFailure  # noqa: E402
from caod.protocol import METHODS, encode_line  # noqa: E402
from caod.status import EventKind, Status  # noqa: E402

THINK_S = 0.05
FDS_PER_AGENT = 6  # PTY master, pidfd, transcript, and slack (the daemon's own need is measured below)

# Targets (the goals); printed, never asserted.
TARGET_SPAWN_WALL_S = 2.0  # 200 spawn replies
TARGET_EVENT_P99_MS = 50.0  # at 200 agents
TARGET_CPU_PER_TURN_MS = 0.5

_ids = itertools.count(1)

# A provider whose CLI does no start-up work (`sleep`): spawn replies then measure the
# daemon's own spawn path, not 2 cores shared with N Python CLIs importing themselves.
SLEEPER_TOML = """name = "bench_sleeper"
description = "bench_scale: a process that only sleeps"
command = ["sleep", "600"]
patterns = [{ status = "idle", regex = "^never drawn$" }]
"""


def timed_pipeline(client: Client, method: str, params_list: list[dict], timeout: float) -> tuple[list, list[float]]:
    """Send every request at once; (results in order, arrival time of each reply)."""
    ids = [f"scale-{next(_ids)}" for _ in params_list]
    client.send_raw(b"".join(
        encode_line({"jsonrpc": "2.0", "id": rid, "method": method, "params": p}) for rid, p in zip(ids, params_list)))
    wanted, replies, arrived = set(ids), {}, {}
    client.sock.settimeout(timeout)
    try:
        while wanted:
            msg = client.read_message()
            if msg.method is not msgspec.UNSET or msg.id not in wanted:
                continue
            arrived[msg.id] = time.time()
            wanted.discard(msg.id)
            replies[msg.id] = msg
    finally:
        client.sock.settimeout(None)
    result_type = METHODS[method][1]
    out = []
    for rid in ids:
        msg = replies[rid]
        if msg.error is not msgspec.UNSET:
            raise RpcFailure(msg.error.code, msg.error.message)
        out.append(msgspec.json.decode(msg.result, type=result_type))
    return out, [arrived[rid] for rid in ids]


def wait_all(tap: EventTap, ids: set[str], status: Status, since: int, timeout: float) -> dict[str, tuple[float, Any]]:
    """(arrival, event) of the first `status` event of each agent in `ids`, from index `since`."""
    found: dict[str, tuple[float, Any]] = {}
    deadline = time.monotonic() + timeout
    i = since
    with tap.cond:
        while len(found) < len(ids):
            while i < len(tap.log):
                t, ev = tap.log[i]
                i += 1
                if ev.kind is EventKind.STATUS and ev.new is status and ev.agent in ids and ev.agent not in found:
                    found[ev.agent] = (t, ev)
            if len(found) == len(ids):
                break
            left = deadline - time.monotonic()
            if left <= 0 or tap.closed:
                raise TimeoutError(f"{len(ids) - len(found)} of {len(ids)} agents never reached {status.value}")
            tap.cond.wait(left)
    return found


def loop_cpu_seconds(pid: int) -> float:
    """utime + stime of the daemon's main thread (the event loop), without SQLite's and
    the spawner's threads."""
    return proc_cpu_seconds_of(f"/proc/{pid}/task/{pid}/stat")


def proc_cpu_seconds_of(path: str) -> float:
    with open(path, "rb") as fh:
        raw = fh.read()
    fields = raw[raw.rindex(b")") + 2 :].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def stats_ms(values_s: list[float]) -> dict[str, Any]:
    ms = [v * 1000 for v in values_s]
    return {"n": len(ms), "p50_ms": round(percentile(ms, 0.5), 2), "p99_ms": round(percentile(ms, 0.99), 2),
            "max_ms": round(max(ms), 2) if ms else None}


def one_size(caod_bin: str, n: int, bursts: int, label: str, signal_turns: bool = False) -> dict[str, Any]:
    d = BenchDaemon(caod_bin)
    progress(f"[{label}] {n} agents: starting caod on {d.socket}")
    d.start()
    rpc = Client(d.socket)
    tap = EventTap(d.socket)
    tap.start()
    try:
        pid = d.pid
        assert pid is not None
        fds0 = len(os.listdir(f"/proc/{pid}/fd"))
        rss0 = proc_rss_kib(pid)
        rules = json.dumps({"default": {"reply": "ok {turn}", "think": THINK_S}})
        traces = [d.traces / f"a{i}.jsonl" for i in range(n)]
        params = [{"provider": "scripted", "cwd": str(d.work),
                   "env": {"CAO_SCRIPTED_RULES": rules, "CAO_SCRIPTED_TRACE": str(tr)}} for tr in traces]
        progress(f"[{label}] {n} spawns of `sleep` sent at once")
        c0, t0 = proc_cpu_seconds(pid), time.time()
        sleepers, s_arrived = timed_pipeline(rpc, "agent.spawn", [{"provider": "bench_sleeper", "cwd": str(d.work)}
                                                                  for _ in range(n)], timeout=300)
        sleeper_spawn = {"wall_ms": round((max(s_arrived) - t0) * 1000, 1),
                         "daemon_cpu_ms_per_spawn": round((proc_cpu_seconds(pid) - c0) * 1000 / n, 2)}
        timed_pipeline(rpc, "agent.kill", [{"agent": i.id, "grace": 2.0} for i in sleepers], timeout=120)
        progress(f"[{label}] {n} spawns of the scripted CLI sent at once")
        mark = tap.mark()
        c0, t0 = proc_cpu_seconds(pid), time.time()
        infos, arrived = timed_pipeline(rpc, "agent.spawn", params, timeout=300)
        c_spawned = proc_cpu_seconds(pid)
        ids = [i.id for i in infos]
        idle = wait_all(tap, set(ids), Status.IDLE, mark, timeout=600)
        t_idle = max(t for t, _ in idle.values())
        c_idle = proc_cpu_seconds(pid)
        time.sleep(1.0)  # let the start-up frames and store writes settle
        fds_n = len(os.listdir(f"/proc/{pid}/fd"))
        rss_n = proc_rss_kib(pid)
        gaps = sorted(arrived)
        spawn = {
            "wall_ms": round((max(arrived) - t0) * 1000, 1),
            "first_reply_ms": round((min(arrived) - t0) * 1000, 1),
            "per_spawn_ms": round((max(arrived) - t0) * 1000 / n, 2),
            "max_gap_between_replies_ms": round(max((b - a for a, b in zip(gaps, gaps[1:])), default=0) * 1000, 1),
            "daemon_cpu_ms_per_spawn": round((c_spawned - c0) * 1000 / n, 2),
            "all_idle_ms": round((t_idle - t0) * 1000, 1),
            "sleeper_wall_ms": sleeper_spawn["wall_ms"],
            "sleeper_daemon_cpu_ms_per_spawn": sleeper_spawn["daemon_cpu_ms_per_spawn"],
            "daemon_cpu_ms_per_agent_start": round((c_idle - c0) * 1000 / n, 2),
        }
        progress(f"[{label}] {n} spawn replies in {spawn['wall_ms']:.0f} ms, all idle after {spawn['all_idle_ms']:.0f} ms")

        latencies, publish, cpu_per_turn, walls, loop_per_turn = [], [], [], [], []
        if signal_turns:  # a profiling wrapper starts its profile on SIGUSR1 and writes it on SIGUSR2
            os.kill(pid, signal.SIGUSR1)
        for b in range(bursts):
            mark = tap.mark()
            c0, t0, l0 = proc_cpu_seconds(pid), time.time(), loop_cpu_seconds(pid)
            timed_pipeline(rpc, "agent.send", [{"agent": i, "text": f"task {b}"} for i in ids], timeout=300)
            done = wait_all(tap, set(ids), Status.COMPLETED, mark, timeout=300)
            t_done = max(t for t, _ in done.values())
            time.sleep(0.3)  # the turns' store writes (aiosqlite's thread is in the daemon's CPU too)
            c1 = proc_cpu_seconds(pid)
            cpu_per_turn.append((c1 - c0) / n)
            loop_per_turn.append((loop_cpu_seconds(pid) - l0) / n)
            walls.append(t_done - t0)
            for agent_id, trace in zip(ids, traces):
                finals = [r["t"] for r in read_trace(trace) if r.get("event") == "final_frame" and r.get("turn") == b + 1]
                if not finals:
                    continue
                t_arrive, ev = done[agent_id]
                latencies.append(t_arrive - finals[-1])
                publish.append(ev.ts - finals[-1])
            progress(f"[{label}] burst {b + 1}/{bursts}: all {n} completed after {(t_done - t0) * 1000:.0f} ms")
            time.sleep(0.5)
        if signal_turns:
            os.kill(pid, signal.SIGUSR2)
        result = {
            "agents": n,
            "spawn": spawn,
            "status_event": stats_ms(latencies),
            "final_frame_to_publish": stats_ms(publish),
            "turn_burst_wall_ms": round(max(walls) * 1000, 1),
            "cpu_ms_per_turn": round(sorted(cpu_per_turn)[len(cpu_per_turn) // 2] * 1000, 3),
            "cpu_ms_per_turn_all": [round(c * 1000, 3) for c in cpu_per_turn],
            "loop_cpu_ms_per_turn": round(sorted(loop_per_turn)[len(loop_per_turn) // 2] * 1000, 3),
            "rss_zero_kib": rss0,
            "rss_n_kib": rss_n,
            "rss_per_agent_kib": round((rss_n - rss0) / n, 1),
            "fds_zero": fds0,
            "fds_n": fds_n,
        }
        progress(f"[{label}] killing {n} agents")
        timed_pipeline(rpc, "agent.kill", [{"agent": i, "grace": 2.0} for i in ids], timeout=120)
        return result
    finally:
        tap.close()
        rpc.close()
        d.stop()


def render_table(res: dict[str, Any]) -> str:
    m = res["machine"]
    lines = [
        f"caod scale benchmark, caod {m['caod']}",
        f"machine: nproc {m['nproc']} · {m['cpu_model']} · Python {m['python']} · Linux {m['kernel']} · "
        f"load avg at start {m['loadavg_at_start']} · at end {res['loadavg_at_end']}",
        f"fd limit (soft/hard) {res['fd_limit']}: need about {FDS_PER_AGENT} per agent + the daemon's own",
        "",
    ]
    routes = list(res["routes"])
    head = f"{'figure':<42}" + "".join(f"{r:>16}" for r in routes) + "  target"
    lines += [head, "-" * len(head)]
    for n in res["options"]["sizes"]:
        rows = [
            (f"{n} spawns of `sleep` at once: all replies", lambda r: f"{r['spawn']['sleeper_wall_ms']:.0f} ms",
             f"<= {TARGET_SPAWN_WALL_S * 1000:.0f} ms at 200" if n == 200 else "",
             lambda r: verdict(r["spawn"]["sleeper_wall_ms"], TARGET_SPAWN_WALL_S * 1000) if n == 200 else ""),
            ("  daemon CPU per spawn", lambda r: f"{r['spawn']['sleeper_daemon_cpu_ms_per_spawn']:.1f} ms", "", None),
            (f"{n} spawns of the scripted CLI: all replies", lambda r: f"{r['spawn']['wall_ms']:.0f} ms",
             f"<= {TARGET_SPAWN_WALL_S * 1000:.0f} ms at 200" if n == 200 else "",
             lambda r: verdict(r["spawn"]["wall_ms"], TARGET_SPAWN_WALL_S * 1000) if n == 200 else ""),
            ("  per spawn (wall / N)", lambda r: f"{r['spawn']['per_spawn_ms']:.1f} ms", "", None),
            ("  longest gap between two replies", lambda r: f"{r['spawn']['max_gap_between_replies_ms']:.0f} ms", "", None),
            ("  daemon CPU per spawn", lambda r: f"{r['spawn']['daemon_cpu_ms_per_spawn']:.1f} ms", "", None),
            ("  all idle (the CLIs' own start)", lambda r: f"{r['spawn']['all_idle_ms']:.0f} ms", "", None),
            (f"{n} turning at once: status event p50", lambda r: f"{r['status_event']['p50_ms']:.1f} ms", "", None),
            ("  status event p99", lambda r: f"{r['status_event']['p99_ms']:.1f} ms",
             f"<= {TARGET_EVENT_P99_MS:g} ms at 200" if n == 200 else "",
             lambda r: verdict(r["status_event"]["p99_ms"], TARGET_EVENT_P99_MS) if n == 200 else ""),
            ("  final frame -> published p99", lambda r: f"{r['final_frame_to_publish']['p99_ms']:.1f} ms", "", None),
            ("  daemon CPU per turn", lambda r: f"{r['cpu_ms_per_turn']:.2f} ms",
             f"<= {TARGET_CPU_PER_TURN_MS:g} ms", lambda r: verdict(r["cpu_ms_per_turn"], TARGET_CPU_PER_TURN_MS)),
            ("    of it the loop's thread", lambda r: f"{r['loop_cpu_ms_per_turn']:.2f} ms", "", None),
            ("  daemon RSS (per agent)",
             lambda r: f"{r['rss_n_kib'] / 1024:.0f} MiB ({r['rss_per_agent_kib'] / 1024:.2f})", "", None),
            ("  daemon fds", lambda r: f"{r['fds_n']}", "", None),
        ]
        for label, fmt, target, ok in rows:
            cells = []
            for route in routes:
                r = res["routes"][route].get(str(n))
                cells.append(fmt(r) if r else "-")
            mine = res["routes"][routes[-1]].get(str(n))
            mark = ok(mine) if ok and mine else ""
            lines.append(f"{label:<42}" + "".join(f"{c:>16}" for c in cells) + f"  {target} {mark}".rstrip())
        lines.append("")
    lines.append(f"total bench time {res['elapsed_s']:.1f} s; targets checked on the last route (not asserted)")
    return "\n".join(lines)


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    ap = argparse.ArgumentParser(description="caod scale benchmark (starts its own daemons)")
    ap.add_argument("--quick", action="store_true", help="20 and 50 agents, one turn burst (smoke run)")
    ap.add_argument("--json", action="store_true", help="print JSON on stdout (the table goes to stderr)")
    ap.add_argument("--sizes", help="comma-separated agent counts (default 50,100,200; quick 20,50)")
    ap.add_argument("--bursts", type=int, help="turn bursts per size (default 3; quick 1)")
    ap.add_argument("--baseline", help="another daemon executable, run before ours at each size")
    ap.add_argument("--rounds", type=int, default=1,
                    help="repeat every size this many times, routes interleaved (columns route#round)")
    ap.add_argument("--signal-turns", action="store_true",
                    help="send the daemon SIGUSR1 before the turn bursts and SIGUSR2 after (for a profiling wrapper)")
    add_caod_option(ap)
    args = ap.parse_args(argv)
    fill_defaults(args, {"sizes": "20,50" if args.quick else "50,100,200", "bursts": 1 if args.quick else 3})
    args.sizes = [int(s) for s in str(args.sizes).split(",") if s.strip()]
    return args


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)

    def on_term(_signum: int, _frame: Any) -> None:
        raise KeyboardInterrupt

    signal.signal(signal.SIGTERM, on_term)
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    need = max(args.sizes) * FDS_PER_AGENT + 100
    if soft < need <= hard:  # the daemon inherits ours
        resource.setrlimit(resource.RLIMIT_NOFILE, (need, hard))
        progress(f"raised the fd limit from {soft} to {need} for {max(args.sizes)} agents")
    elif soft < need:
        progress(f"warning: the fd limit ({soft}, hard {hard}) may be too low for {max(args.sizes)} agents")
    providers_dir = Path(tempfile.mkdtemp(prefix="caod-bench-providers-", dir="/tmp"))
    (providers_dir / "bench_sleeper.toml").write_text(SLEEPER_TOML)
    os.environ["CAOD_PROVIDERS_DIR"] = str(providers_dir)  # the daemons inherit it
    routes = {"baseline": args.baseline, "caod": args.caod} if args.baseline else {"caod": args.caod}
    results: dict[str, Any] = {
        "machine": machine_info(),
        "options": {"sizes": args.sizes, "bursts": args.bursts, "routes": routes, "think_s": THINK_S},
        "fd_limit": list(resource.getrlimit(resource.RLIMIT_NOFILE)),
        "targets": {"spawn_wall_200_ms": TARGET_SPAWN_WALL_S * 1000, "status_event_p99_200_ms": TARGET_EVENT_P99_MS,
                    "cpu_ms_per_turn": TARGET_CPU_PER_TURN_MS},
        "routes": {},
    }
    columns = [(f"{name}#{k + 1}" if args.rounds > 1 else name, exe) for k in range(args.rounds)
               for name, exe in routes.items()]
    results["routes"] = {column: {} for column, _ in columns}
    try:
        for n in args.sizes:
            for column, exe in columns:
                results["routes"][column][str(n)] = one_size(exe, n, args.bursts, column, args.signal_turns)
    except KeyboardInterrupt:
        progress("interrupted")
        return 130
    finally:
        shutil.rmtree(providers_dir, ignore_errors=True)
    results["loadavg_at_end"] = [round(x, 2) for x in os.getloadavg()]
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
