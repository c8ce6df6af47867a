"""A transcript the disk does not take (full) drops output but never raises into the
agent's output handling (which would stop its screen, and its status, from being read),
and writing goes on by itself once there is room."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]

# RLIMIT_FSIZE: past it a write fails (EFBIG), as on a full disk.
FULL_TRANSCRIPT = """
import resource, signal, sys
from pathlib import Path
signal.signal(signal.SIGXFSZ, signal.SIG_IGN)
from caod.transcript import Transcript
t = Transcript(Path(sys.argv[1]), cap=1 << 20)
t.write(b"before\\n"); t.flush()
resource.setrlimit(resource.RLIMIT_FSIZE, (7, resource.RLIM_INFINITY))
for _ in range(40):
    t.write(b"z" * 4096)  # more than its buffer holds: the buffer must go to the disk, and cannot
    t.flush()
resource.setrlimit(resource.RLIMIT_FSIZE, (resource.RLIM_INFINITY, resource.RLIM_INFINITY))
t.write(b"after\\n"); t.flush(); t.close()
print("still running")
"""


def test_a_full_transcript_drops_output_without_raising_and_goes_on(tmp_path):
    path = tmp_path / "a1.log"
    done = subprocess.run([sys.executable, "-c", FULL_TRANSCRIPT, str(path)], cwd=ROOT, capture_output=True,
                          text=True, timeout=30)
    assert done.returncode == 0 and done.stdout.endswith("still running\n"), done.stderr
    data = path.read_bytes()
    assert data.startswith(b"before\n") and data.endswith(b"after\n")
    assert len(data) < 7 + 40 * 4096  # what the disk did not take is gone, not written late
    assert "transcript write failed; output is dropped until it can be written" in done.stdout
