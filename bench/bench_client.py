#!/usr/bin/env python3
"""Client benchmark for caod: how fast `caoctl` starts and answers.

    .venv/bin/python bench/bench_client.py                 # full run (~1 min)
    .venv/bin/python bench/bench_client.py --quick         # smoke run (~15 s)
    .venv/bin/python bench/bench_client.py --json          # JSON on stdout, table on stderr
    .venv/bin/python bench/bench_client.py --old 03994e2   # also the caoctl of that commit

It starts its own daemon on a private temporary socket and home (with a few idle
scripted agents, so `ls` prints a real table), runs every route as a fresh process,
interleaved round by round, and removes everything at the end. Baselines in the same
run: bare `python -c pass`, the eager route (this caoctl with every command module
imported first, as before lazy loading), the MCP SDK's import alone, and with --old
the caoctl of an older commit (extracted with `git archive`). Targets are printed
next to the figures; nothing is asserted. See bench/README.md.
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import signal
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

HERE = Path(__file__).resolve().parent
if str(HERE) not in sys.path:
    sys.path.insert(0, str(HERE))

from _common import (  # noqa: E402  (also puts the repository on sys.path)
    REPO,
    T_START,
    BenchDaemon,
    add_caod_option,
    fill_defaults,
    machine_info,
    percentile,
    progress,
    verdict,
)

from caoctl.client import Client  # noqa: E402

TARGET_LS_MS = 100.0
TARGET_MCP_MS = 300.0
PY = sys.executable
# The route before lazy loading: every command module imported, then the same main().
EAGER = ("from caoctl import cli\n"
         "for listed in cli.COMMANDS.values(): __import__(listed.module)\n"
         "cli.main()")
# An older tree's caoctl: this venv's editable install would win over PYTHONPATH, so
# its finder is dropped and the tree put first on sys.path (argv: the tree, then caoctl's).
OLD_RUNNER = ("import runpy, sys\n"
              "sys.meta_path[:] = [f for f in sys.meta_path if not type(f).__module__.startswith('__editable__')]\n"
              "sys.path.insert(0, sys.argv.pop(1))\n"
              "runpy.run_module('caoctl', run_name='__main__', alter_sys=True)")
INIT = {"jsonrpc": "2.0", "id": 1, "method": "initialize",
        "params": {"protocolVersion": "2025-06-18", "capabilities": {}, "clientInfo": {"name": "bench", "version": "0"}}}
AFTER_INIT = (json.dumps({"jsonrpc": "2.0", "method": "notifications/initialized"}) + "\n"
              + json.dumps({"jsonrpc": "2.0", "id": 2, "method": "tools/list"}) + "\n").encode()


def summary(samples_s: list[float], digits: int = 1) -> dict[str, Any]:
    ms = [x * 1000.0 for x in samples_s]
    return {"n": len(ms), "p50_ms": round(percentile(ms, 0.5), digits),
            "p90_ms": round(percentile(ms, 0.9), digits), "min_ms": round(min(ms), digits),
            "max_ms": round(max(ms), digits)}


def children_cpu() -> float:
    """user + system seconds of every child waited for so far."""
    usage = resource.getrusage(resource.RUSAGE_CHILDREN)
    return usage.ru_utime + usage.ru_stime


def run_wall(argv: list[str], env: dict[str, str]) -> tuple[float, float]:
    """(seconds from fork to exit, the process's CPU seconds); the command must succeed."""
    cpu0 = children_cpu()
    t0 = time.perf_counter()
    r = subprocess.run(argv, env=env, stdin=subprocess.DEVNULL, stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    wall = time.perf_counter() - t0
    if r.returncode != 0:
        raise RuntimeError(f"{argv} failed ({r.returncode}): {r.stderr.decode(errors='replace')[-500:]}")
    return wall, children_cpu() - cpu0


def mcp_first_list(argv: list[str], env: dict[str, str]) -> tuple[float, float]:
    """(seconds from fork to the first tools/list answer, the bridge's CPU seconds to its
    exit), talking as a CLI does: initialize, wait for its answer, then initialized and tools/list."""
    cpu0 = children_cpu()
    t0 = time.perf_counter()
    proc = subprocess.Popen(argv, env=env, stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=subprocess.DEVNULL)
    try:
        proc.stdin.write(json.dumps(INIT).encode() + b"\n")
        proc.stdin.flush()
        if json.loads(proc.stdout.readline()).get("id") != 1:
            raise RuntimeError("no initialize answer")
        proc.stdin.write(AFTER_INIT)
        proc.stdin.flush()
        answer = json.loads(proc.stdout.readline())
        wall = time.perf_counter() - t0
        if answer.get("id") != 2 or len(answer["result"]["tools"]) < 5:
            raise RuntimeError(f"odd tools/list answer: {str(answer)[:300]}")
    finally:
        proc.stdin.close()
        proc.wait(timeout=15)
        proc.stdout.close()
    return wall, children_cpu() - cpu0


def extract_old(rev: str, root: Path) -> Path:
    """The caoctl, caod and providers packages of `rev`, for PYTHONPATH."""
    dest = root / "old"
    dest.mkdir()
    archive = subprocess.run(["git", "-C", str(REPO), "archive", rev, "caoctl", "caod", "providers"],
                             capture_output=True, check=True).stdout
    subprocess.run(["tar", "-x", "-C", str(dest)], input=archive, check=True)
    return dest


def routes(args, daemon: BenchDaemon, old: Path | None) -> dict[str, dict[str, tuple]]:
    """figure -> route name -> (kind, argv, env)."""
    base = {k: v for k, v in os.environ.items() if not k.startswith(("CAO_", "CAOD_", "CAOCTL_", "PYTHON"))}
    env = {**base, "CAOD_SOCKET": str(daemon.socket), "CAOD_HOME": str(daemon.home)}
    mcp_env = {**base, "CAOD_SOCKET": str(daemon.socket)}  # outside an agent: it lists, calls would be refused
    figs: dict[str, dict[str, tuple]] = {
        "python": {"python -c pass": ("wall", [PY, "-c", "pass"], env)},
        "help": {"caoctl --help": ("wall", [PY, "-m", "caoctl", "--help"], env),
                 "eager (every command imported)": ("wall", [PY, "-c", EAGER, "--help"], env)},
        "ls": {"caoctl ls": ("wall", [PY, "-m", "caoctl", "ls"], env),
               "eager (every command imported)": ("wall", [PY, "-c", EAGER, "ls"], env)},
        "mcp": {"caoctl mcp": ("mcp", [PY, "-P", "-m", "caoctl", "mcp"], mcp_env),
                "MCP SDK import alone": ("wall", [PY, "-c", "import mcp.server.mcpserver"], env)},
    }
    if old:
        run_old = [PY, "-c", OLD_RUNNER, str(old)]
        figs["help"][f"caoctl of {args.old}"] = ("wall", [*run_old, "--help"], env)
        figs["ls"][f"caoctl of {args.old}"] = ("wall", [*run_old, "ls"], env)
        figs["mcp"][f"caoctl mcp of {args.old}"] = ("mcp", [*run_old, "mcp"], mcp_env)
    return figs


def check_old_is_used(old: Path) -> None:
    """The old tree must be what loads, not this checkout, or the baseline is this code."""
    probe = OLD_RUNNER.replace("runpy.run_module('caoctl', run_name='__main__', alter_sys=True)",
                               "import caoctl; print(caoctl.__file__)")
    out = subprocess.run([PY, "-c", probe, str(old)], capture_output=True, text=True, check=True).stdout.strip()
    if not out.startswith(str(old)):
        raise RuntimeError(f"--old: caoctl still loads from {out}")


def measure(figs: dict[str, dict[str, tuple]], rounds: int) -> dict[str, dict[str, dict]]:
    samples = {f: {name: [] for name in rs} for f, rs in figs.items()}
    cpu = {f: {name: [] for name in rs} for f, rs in figs.items()}
    for kind, argv, env in (r for rs in figs.values() for r in rs.values()):  # warm the page cache once
        (mcp_first_list if kind == "mcp" else run_wall)(argv, env)
    for i in range(rounds):
        if i % 5 == 0:
            progress(f"round {i + 1}/{rounds}")
        for f, rs in figs.items():
            for name, (kind, argv, env) in rs.items():
                wall, used = (mcp_first_list if kind == "mcp" else run_wall)(argv, env)
                samples[f][name].append(wall)
                cpu[f][name].append(used)
    return {f: {name: {**summary(s), "cpu": summary(cpu[f][name])} for name, s in rs.items()}
            for f, rs in samples.items()}


def connection_cost(daemon: BenchDaemon, rounds: int) -> dict[str, Any]:
    """In-process: connect to the socket, and one agent.list call on it (no handshake exists)."""
    connect, call = [], []
    for _ in range(rounds):
        t0 = time.perf_counter()
        c = Client(daemon.socket)
        t1 = time.perf_counter()
        c.call("agent.list", {}, timeout=10)
        t2 = time.perf_counter()
        c.close()
        connect.append(t1 - t0)
        call.append(t2 - t1)
    return {"connect": summary(connect, 3), "agent_list_call": summary(call, 3)}


def spawn_idle_agents(daemon: BenchDaemon, count: int) -> None:
    with Client(daemon.socket) as c:
        for i in range(count):
            info = c.call("agent.spawn", {"provider": "scripted", "name": f"bench-{i}", "cwd": str(daemon.work)},
                          timeout=30)
            c.call("agent.wait", {"agent": info.id, "statuses": ["idle"], "timeout": 20}, timeout=30)


def render_table(res: dict[str, Any]) -> str:
    m = res["machine"]
    lines = [f"caod client benchmark ({'quick' if res['options']['quick'] else 'full'} run, "
             f"{res['options']['rounds']} rounds interleaved), caod {m['caod']}",
             f"machine: nproc {m['nproc']} · {m['cpu_model']} · Python {m['python']} · Linux {m['kernel']} · "
             f"load avg at start {m['loadavg_at_start']}, at end {res['loadavg_at_end']}", ""]
    rows = [("figure / route", "p50", "p90", "CPU p50", "target", "")]
    targets = {("ls", "caoctl ls"): TARGET_LS_MS, ("mcp", "caoctl mcp"): TARGET_MCP_MS}
    titles = {"python": "1. bare interpreter", "help": "2. caoctl --help",
              "ls": f"3. caoctl ls ({res['options']['agents']} agents, live daemon)",
              "mcp": "4. caoctl mcp: start -> first tools/list answer"}
    for f, title in titles.items():
        rows.append((title, "", "", "", "", ""))
        for name, s in res["figures"][f].items():
            limit = targets.get((f, name))
            rows.append((f"   {name}", f"{s['p50_ms']:.1f} ms", f"{s['p90_ms']:.1f} ms", f"{s['cpu']['p50_ms']:.1f} ms",
                         f"<= {limit:g} ms" if limit else "", verdict(s["p50_ms"], limit) if limit else ""))
    c = res["connection"]
    rows.append(("5. in-process: connect to the socket", f"{c['connect']['p50_ms']:.3f} ms",
                 f"{c['connect']['p90_ms']:.3f} ms", "", "", ""))
    rows.append(("   one agent.list call", f"{c['agent_list_call']['p50_ms']:.3f} ms",
                 f"{c['agent_list_call']['p90_ms']:.3f} ms", "", "", ""))
    widths = [max(len(r[i]) for r in rows) for i in range(6)]
    for r in rows:
        lines.append("  ".join(c.ljust(w) if i == 0 else c.rjust(w) for i, (c, w) in enumerate(zip(r, widths))).rstrip())
    return "\n".join(lines)


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--quick", action="store_true", help="a smoke run: 5 rounds, 2 agents")
    ap.add_argument("--json", action="store_true", help="JSON on stdout, the table on stderr")
    ap.add_argument("--rounds", type=int, help="runs of each route (default 20, --quick 5)")
    ap.add_argument("--agents", type=int, help="idle scripted agents `ls` lists (default 5, --quick 2)")
    ap.add_argument("--old", metavar="REV", help="also measure the caoctl of this git revision (git archive)")
    add_caod_option(ap)
    args = ap.parse_args(argv)
    fill_defaults(args, {"rounds": 5 if args.quick else 20, "agents": 2 if args.quick else 5})
    return args


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)

    def on_term(_signum: int, _frame: Any) -> None:
        raise KeyboardInterrupt

    signal.signal(signal.SIGTERM, on_term)
    results: dict[str, Any] = {"machine": machine_info(), "options": vars(args),
                               "targets": {"caoctl_ls_p50_ms": TARGET_LS_MS, "caoctl_mcp_first_list_p50_ms": TARGET_MCP_MS}}
    daemon = BenchDaemon(args.caod)
    try:
        progress(f"starting caod on {daemon.socket}")
        daemon.start()
        old = None
        if args.old:
            progress(f"extracting caoctl of {args.old}")
            old = extract_old(args.old, daemon.root)
            check_old_is_used(old)
        progress(f"spawning {args.agents} idle scripted agents")
        spawn_idle_agents(daemon, args.agents)
        figs = routes(args, daemon, old)
        progress(f"measuring {sum(len(r) for r in figs.values())} routes, {args.rounds} rounds")
        results["figures"] = measure(figs, args.rounds)
        results["connection"] = connection_cost(daemon, max(args.rounds, 20))
    except KeyboardInterrupt:
        progress("interrupted")
        return 130
    finally:
        progress("stopping caod")
        daemon.stop()
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
