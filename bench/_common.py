"""Helpers shared by the caod benchmarks (bench_core.py, bench_orch.py).

A private daemon on a temporary socket and home (`BenchDaemon`), a subscriber
that stamps every event on arrival (`EventTap`), pipelined RPCs, the scripted
agent's trace file, percentiles and the machine description.
"""

from __future__ import annotations

import itertools
import json
import math
import os
import platform
import select
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path
from typing import Any, Callable

REPO = Path(__file__).resolve().parent.parent
if str(REPO) not in sys.path:
    sys.path.insert(0, str(REPO))

import msgspec  # noqa: E402
import pyte  # noqa: E402

from caoctl.client import Client, RpcFailure  # noqa: E402
from caod import __version__ as CAOD_VERSION  # noqa: E402
from caod.protocol import METHODS, Event, encode_line  # noqa: E402
from caod.status import EventKind, Status  # noqa: E402

CLK_TCK = os.sysconf("SC_CLK_TCK")
T_START = time.monotonic()

# ---------------------------------------------------------------- small helpers


def progress(msg: str) -> None:
    print(f"[{time.monotonic() - T_START:6.1f}s] {msg}", file=sys.stderr, flush=True)


def percentile(values: list[float], q: float) -> float:
    """Linear interpolation between closest ranks (numpy's default)."""
    if not values:
        return math.nan
    s = sorted(values)
    k = (len(s) - 1) * q
    lo = math.floor(k)
    hi = min(lo + 1, len(s) - 1)
    return s[lo] + (s[hi] - s[lo]) * (k - lo)


def summary_ms(samples_s: list[float]) -> dict[str, Any]:
    ms = [x * 1000.0 for x in samples_s]
    return {
        "n": len(ms),
        "p50_ms": round(percentile(ms, 0.50), 3),
        "p95_ms": round(percentile(ms, 0.95), 3),
        "min_ms": round(min(ms), 3) if ms else None,
        "max_ms": round(max(ms), 3) if ms else None,
        "samples_ms": [round(x, 3) for x in ms],
    }


def machine_info() -> dict[str, Any]:
    model = "unknown"
    try:
        with open("/proc/cpuinfo", encoding="utf-8", errors="replace") as fh:
            for line in fh:
                if line.lower().startswith("model name"):
                    model = line.split(":", 1)[1].strip()
                    break
    except OSError:
        pass
    try:
        usable = len(os.sched_getaffinity(0))
    except (AttributeError, OSError):
        usable = os.cpu_count() or 0
    try:
        load = [round(x, 2) for x in os.getloadavg()]
    except OSError:
        load = []
    return {
        "nproc": usable,
        "cpu_count": os.cpu_count(),
        "cpu_model": model,
        "python": platform.python_version(),
        "implementation": platform.python_implementation(),
        "kernel": platform.release(),
        "loadavg_at_start": load,
        "pyte": getattr(pyte, "__version__", None) or _dist_version("pyte"),
        "caod": CAOD_VERSION,
    }


def _dist_version(name: str) -> str | None:
    try:
        from importlib.metadata import version

        return version(name)
    except Exception:
        return None


def proc_cpu_seconds(pid: int) -> float:
    """utime + stime of one process, from /proc/PID/stat."""
    with open(f"/proc/{pid}/stat", "rb") as fh:
        raw = fh.read()
    fields = raw[raw.rindex(b")") + 2 :].split()  # fields after "pid (comm)"; [0] is state
    return (int(fields[11]) + int(fields[12])) / CLK_TCK  # fields 14 and 15 of stat(5)


def proc_rss_kib(pid: int) -> int:
    with open(f"/proc/{pid}/status", encoding="ascii", errors="replace") as fh:
        for line in fh:
            if line.startswith("VmRSS:"):
                return int(line.split()[1])
    raise RuntimeError(f"no VmRSS for pid {pid}")


def read_trace(path: Path) -> list[dict]:
    records: list[dict] = []
    try:
        with open(path, encoding="utf-8") as fh:
            for line in fh:
                line = line.strip()
                if not line:
                    continue
                try:
                    records.append(json.loads(line))
                except ValueError:
                    pass  # a line still being written
    except FileNotFoundError:
        pass
    return records


def wait_trace(path: Path, pred: Callable[[dict], bool], timeout: float = 3.0) -> dict:
    deadline = time.monotonic() + timeout
    while True:
        for rec in read_trace(path):
            if pred(rec):
                return rec
        if time.monotonic() > deadline:
            raise TimeoutError(f"no matching trace record in {path}")
        time.sleep(0.005)

# ---------------------------------------------------------------- daemon and connections


class BenchDaemon:
    """A caod on a private temporary socket and home, owned by this process."""

    def __init__(self, caod_bin: str):
        self.caod_bin = caod_bin
        self.root = Path(tempfile.mkdtemp(prefix="caod-bench-", dir="/tmp"))
        self.socket = self.root / "caod.sock"
        self.home = self.root / "home"
        self.traces = self.root / "traces"
        self.work = self.root / "work"
        for d in (self.traces, self.work):
            d.mkdir(mode=0o700)
        self.proc: subprocess.Popen | None = None
        self.pid: int | None = None
        self._log = None

    def start(self, timeout: float = 20.0) -> None:
        r, w = os.pipe()
        self._log = open(self.root / "caod.stderr", "wb")  # noqa: SIM115
        try:
            self.proc = subprocess.Popen(
                [
                    self.caod_bin,
                    "--socket", str(self.socket),
                    "--home", str(self.home),
                    "--ready-fd", str(w),
                ],
                pass_fds=(w,),
                stdin=subprocess.DEVNULL,
                stdout=self._log,
                stderr=subprocess.STDOUT,
                start_new_session=True,  # our Ctrl-C must not reach it; we stop it ourselves
                preexec_fn=_die_with_parent,
            )
        finally:
            os.close(w)
        try:
            got = b""
            deadline = time.monotonic() + timeout
            while b"\n" not in got:
                left = deadline - time.monotonic()
                if left <= 0 or not select.select([r], [], [], left)[0]:
                    raise RuntimeError(f"caod did not report ready within {timeout:g}s{self._log_tail()}")
                chunk = os.read(r, 64)
                if not chunk:
                    raise RuntimeError(f"caod exited before it was ready (rc {self.proc.poll()}){self._log_tail()}")
                got += chunk
        finally:
            os.close(r)
        with Client(self.socket) as c:
            self.pid = c.call("daemon.status", timeout=10).pid

    def _log_tail(self) -> str:
        try:
            text = (self.root / "caod.stderr").read_text(errors="replace")[-2000:]
        except OSError:
            return ""
        return f"\n--- caod output ---\n{text}" if text.strip() else ""

    def stop(self) -> None:
        if self.proc is not None and self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)  # graceful: the daemon stops its agents
            try:
                self.proc.wait(timeout=15)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait(timeout=5)
        if self._log is not None:
            self._log.close()
            self._log = None
        shutil.rmtree(self.root, ignore_errors=True)


def _die_with_parent() -> None:
    """In the forked child: get SIGTERM if the bench dies without cleaning up."""
    try:
        import ctypes

        libc = ctypes.CDLL(None, use_errno=True)
        libc.prctl(1, signal.SIGTERM, 0, 0, 0)  # PR_SET_PDEATHSIG
    except Exception:
        pass


class EventTap(threading.Thread):
    """A second connection subscribed to every event; stamps each on arrival."""

    def __init__(self, socket_path: Path):
        super().__init__(name="event-tap", daemon=True)
        self.client = Client(socket_path)
        self.client.call("events.subscribe", {}, timeout=10)
        self.cond = threading.Condition()
        self.log: list[tuple[float, Event]] = []
        self.closed = False

    def run(self) -> None:
        try:
            for event in self.client.events():
                now = time.time()
                with self.cond:
                    self.log.append((now, event))
                    self.cond.notify_all()
        except (ConnectionError, OSError, msgspec.DecodeError):
            pass
        finally:
            with self.cond:
                self.closed = True
                self.cond.notify_all()

    def mark(self) -> int:
        with self.cond:
            return len(self.log)

    def wait_for(self, pred: Callable[[Event], bool], since: int = 0, timeout: float = 30.0) -> tuple[float, Event]:
        """(arrival time, event) of the first event at index >= since matching pred."""
        deadline = time.monotonic() + timeout
        i = since
        with self.cond:
            while True:
                while i < len(self.log):
                    t, ev = self.log[i]
                    if pred(ev):
                        return t, ev
                    i += 1
                left = deadline - time.monotonic()
                if left <= 0 or self.closed:
                    raise TimeoutError("no matching event")
                self.cond.wait(left)

    def close(self) -> None:
        try:
            self.client.sock.shutdown(socket.SHUT_RDWR)
        except OSError:
            pass
        self.join(timeout=5)
        self.client.close()


def is_status(agent_id: str, status: Status) -> Callable[[Event], bool]:
    return lambda ev: ev.kind is EventKind.STATUS and ev.agent == agent_id and ev.new is status


_rpc_ids = itertools.count(1)


def pipeline(client: Client, method: str, params_list: list[dict], timeout: float = 120.0) -> list[Any]:
    """Send every request at once (the daemon runs them concurrently), then collect
    the replies. Returns results in request order; raises on the first error."""
    ids = [f"bench-{next(_rpc_ids)}" for _ in params_list]
    client.send_raw(
        b"".join(
            encode_line({"jsonrpc": "2.0", "id": rid, "method": method, "params": p})
            for rid, p in zip(ids, params_list)
        )
    )
    wanted = set(ids)
    replies: dict[str, Any] = {}
    client.sock.settimeout(timeout)
    try:
        while wanted:
            msg = client.read_message()
            if msg.method is not msgspec.UNSET or msg.id not in wanted:
                continue
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
    return out


# ---------------------------------------------------------------- report


def verdict(value: float, limit: float, strict: bool = False) -> str:
    if value != value:
        return "?"
    ok = value < limit if strict else value <= limit
    return "ok" if ok else "MISS"


def add_caod_option(ap) -> None:
    """--caod: the daemon executable (this interpreter's, else the repo's venv)."""
    default_caod = Path(sys.executable).with_name("caod")
    if not default_caod.exists():
        default_caod = REPO / ".venv" / "bin" / "caod"
    ap.add_argument("--caod", default=str(default_caod), help=f"daemon executable (default {default_caod})")


def fill_defaults(args, defaults: dict[str, Any]) -> None:
    """Options left unset take their full-run or --quick default."""
    for key, value in defaults.items():
        if getattr(args, key) is None:
            setattr(args, key, value)
