"""Logging never takes its caller down: a log file that takes no more lines (full, or past
the file size limit) costs the lines, counted and reported once it takes lines again, and a
request whose handler fails still gets its reply when the log cannot be written.

Each case runs in its own Python: it configures structlog and changes process limits.
"""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]


def python(code: str, *args: str) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-c", code, *args], cwd=ROOT, capture_output=True, text=True, timeout=30)


# RLIMIT_FSIZE: past it a write fails (EFBIG), as on a full disk; raising it again is "space returns".
FULL_LOG = """
import resource, signal, sys
from pathlib import Path
signal.signal(signal.SIGXFSZ, signal.SIG_IGN)
from caod import logs
path = Path(sys.argv[1])
logs.configure(path)
logs.log.info("before")
resource.setrlimit(resource.RLIMIT_FSIZE, (path.stat().st_size + 10, resource.RLIM_INFINITY))
for i in range(50):
    logs.log.error("while full", i=i)
resource.setrlimit(resource.RLIMIT_FSIZE, (resource.RLIM_INFINITY, resource.RLIM_INFINITY))
logs.log.info("after")
print("still running")
"""


def test_a_log_file_that_takes_no_more_lines_never_raises_and_the_loss_is_reported(tmp_path):
    log_file = tmp_path / "caod.log"
    done = python(FULL_LOG, str(log_file))
    assert done.returncode == 0 and done.stdout == "still running\n", done.stderr
    lines = log_file.read_text().splitlines()
    assert len(lines) == 4, lines
    before, cut, note, after = lines
    assert json.loads(before)["event"] == "before"
    assert len(cut) == 10  # the first line that did not fit went out in part, and was ended
    note = json.loads(note)
    assert note["event"] == "log lines were dropped: the log file could not be written"
    assert note["dropped"] == 50 and note["error"] == "File too large" and note["level"] == "warning"
    assert json.loads(after)["event"] == "after"


DISPATCH = """
import asyncio
from pathlib import Path
from caod import logs
logs.configure(Path("/dev/full"))  # every write: ENOSPC
from caod.handlers import HANDLERS
from caod.rpc import Context, Dispatcher

async def broken(ctx, params):
    raise ValueError("a handler bug")

dispatcher = Dispatcher(dict(HANDLERS, **{"daemon.ping": broken}))
call = dispatcher.parse_object(b'{"jsonrpc": "2.0", "id": 7, "method": "daemon.ping"}')
reply = asyncio.run(dispatcher.run(call, Context(None, None)))
print(reply.id, reply.error.code, reply.error.message)
"""


def test_a_failing_handler_is_answered_even_when_its_error_cannot_be_logged():
    done = python(DISPATCH)
    assert done.returncode == 0, done.stderr
    assert done.stdout == "7 -32603 internal error: ValueError('a handler bug')\n"
