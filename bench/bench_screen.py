"""Screen ingest: MB of a coding-CLI-like stream per CPU-second, route by route.

Every route gets the same bytes (bench_core.make_stream) in the same chunks, in one
process, interleaved round by round (best of --repeats):

  pty floor   the bytes written through a real PTY (raw mode) by `cat` and read back
              with os.read: what the daemon pays before any parsing
  raw pyte    pyte.ByteStream + pyte.Screen, nothing else
  reference   caod.screen.AgentScreen(fast=False): pyte's own parser and draw (the
              route before issue 11)
  fast        caod.screen.AgentScreen(): the default route

The two AgentScreen routes render the screen as the daemon does at each frame end
(logical_lines and text, once per chunk that ends a sync frame).
"""

from __future__ import annotations

import argparse
import json
import os
import pty
import subprocess
import sys
import tempfile
import time
import tty
from pathlib import Path
from typing import Any, Callable

HERE = Path(__file__).resolve().parent
if str(HERE) not in sys.path:
    sys.path.insert(0, str(HERE))

from _common import machine_info, progress  # noqa: E402  (also puts the repository on sys.path)
from bench_core import make_stream  # noqa: E402

import pyte  # noqa: E402

from caod.screen import AgentScreen  # noqa: E402

TARGET_MB_PER_CPU_S = 15.0


def route_pty(data: bytes, chunk: int) -> float:
    """CPU seconds this process spends reading `data` from a PTY (the writer is `cat`)."""
    with tempfile.NamedTemporaryFile(prefix="caod-bench-screen-") as fh:
        fh.write(data)
        fh.flush()
        master, slave = pty.openpty()
        tty.setraw(slave)  # no onlcr: the reader gets the bytes as written
        t = time.process_time()
        proc = subprocess.Popen(["cat", fh.name], stdout=slave, stdin=subprocess.DEVNULL, close_fds=True)
        os.close(slave)
        got = 0
        try:
            while True:
                try:
                    block = os.read(master, chunk)
                except OSError:  # EIO: the writer closed its end
                    break
                if not block:
                    break
                got += len(block)
        finally:
            os.close(master)
            proc.wait()
        spent = time.process_time() - t
    if got != len(data):
        raise RuntimeError(f"pty floor read {got} of {len(data)} bytes")
    return spent


def route_raw_pyte(chunks: list[bytes], cols: int, rows: int) -> float:
    screen = pyte.Screen(cols, rows)
    stream = pyte.ByteStream(screen)
    t = time.process_time()
    for c in chunks:
        stream.feed(c)
    return time.process_time() - t


def route_agent_screen(chunks: list[bytes], cols: int, rows: int, fast: bool) -> float:
    screen = AgentScreen(cols, rows, fast=fast)

    def on_frame_end() -> None:  # what the daemon reads at a frame's end
        screen.logical_lines()
        screen.text()

    t = time.process_time()
    for c in chunks:
        screen.feed(c, on_frame_end)
    screen.history_and_lines()
    return time.process_time() - t


def run(size_mb: float, chunk: int, cols: int, rows: int, repeats: int, pty_floor: bool) -> dict[str, Any]:
    progress(f"building a {size_mb:g} MB stream, {chunk} B chunks, screen {cols}x{rows}")
    data = make_stream(int(size_mb * 1_000_000))
    chunks = [data[i : i + chunk] for i in range(0, len(data), chunk)]
    routes: dict[str, Callable[[], float]] = {
        "raw pyte": lambda: route_raw_pyte(chunks, cols, rows),
        "reference AgentScreen (fast=False)": lambda: route_agent_screen(chunks, cols, rows, fast=False),
        "fast AgentScreen (default)": lambda: route_agent_screen(chunks, cols, rows, fast=True),
    }
    if pty_floor:
        routes = {"pty floor (read only)": lambda: route_pty(data, chunk), **routes}
    times: dict[str, list[float]] = {name: [] for name in routes}
    for r in range(repeats):  # interleaved: every route once per round
        for name, fn in routes.items():
            times[name].append(fn())
        progress(f"round {r + 1}/{repeats}: " + ", ".join(f"{n} {t[-1]:.2f}s" for n, t in times.items()))
    mb = len(data) / 1_000_000
    return {
        "stream_bytes": len(data),
        "chunk_bytes": chunk,
        "screen": f"{cols}x{rows}",
        "repeats": repeats,
        "cpu_s": {n: [round(x, 3) for x in t] for n, t in times.items()},
        "mb_per_cpu_s": {n: round(mb / max(min(t), 1e-9), 2) for n, t in times.items()},
    }


def render(res: dict[str, Any], machine: dict[str, Any]) -> str:
    lines = [
        f"caod screen ingest benchmark, caod {machine['caod']}, pyte {machine['pyte']}",
        f"machine: nproc {machine['nproc']} · {machine['cpu_model']} · Python {machine['python']} · "
        f"load {' '.join(map(str, machine['loadavg_at_start']))} at start",
        f"stream {res['stream_bytes'] / 1e6:.1f} MB (bench_core.make_stream), {res['chunk_bytes']} B chunks, "
        f"screen {res['screen']}, best of {res['repeats']} interleaved",
        "",
        f"{'route':40} {'MB per CPU-second':>18}",
    ]
    for name, v in res["mb_per_cpu_s"].items():
        lines.append(f"{name:40} {v:18.2f}")
    fast = res["mb_per_cpu_s"]["fast AgentScreen (default)"]
    ref = res["mb_per_cpu_s"]["reference AgentScreen (fast=False)"]
    ok = "ok" if fast >= TARGET_MB_PER_CPU_S else "MISS"
    lines.append(f"fast / reference: {fast / ref:.1f}x; target >= {TARGET_MB_PER_CPU_S:g} MB per CPU-second: {ok}")
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--mb", type=float, default=10.0, help="stream size in MB (default 10)")
    ap.add_argument("--chunk", type=int, default=65536, help="bytes per feed (default 65536, a PTY read)")
    ap.add_argument("--size", default="200x50", help="screen COLSxROWS (default 200x50, as in issue 11)")
    ap.add_argument("--repeats", type=int, default=3)
    ap.add_argument("--no-pty", action="store_true", help="skip the PTY floor")
    ap.add_argument("--quick", action="store_true", help="2 MB, 2 rounds")
    ap.add_argument("--json", action="store_true", help="JSON on stdout, the table on stderr")
    args = ap.parse_args(argv)
    if args.quick:
        args.mb, args.repeats = 2.0, 2
    cols, rows = (int(x) for x in args.size.lower().split("x"))
    machine = machine_info()
    res = run(args.mb, args.chunk, cols, rows, args.repeats, not args.no_pty)
    table = render(res, machine)
    if args.json:
        print(table, file=sys.stderr)
        print(json.dumps({"machine": machine, **res}, indent=2))
    else:
        print(table)
    return 0


if __name__ == "__main__":
    sys.exit(main())
