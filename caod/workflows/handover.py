"""Handover files: each ended step of a workflow run as a readable Markdown file,
<cwd>/.caod/handover/<run>/turn_<n>_<role>.md, that people can read and commit.

The text sent and the answer are kept byte for byte, each in a code fence longer than
any run of backticks inside it. A file is written once, atomically (a temporary file
linked into place), and never rewritten: a step that already has its file keeps it.
"""

from __future__ import annotations

import os
import re
import time
from dataclasses import dataclass
from pathlib import Path

from caod import paths

SAFE = re.compile(r"[^A-Za-z0-9_.-]+")


@dataclass
class Handover:
    run: str
    workflow: str
    index: int
    total: int
    step: str
    role: str
    participant: int
    agent: str
    cli: str
    model: str | None
    sent_at: float
    answered_at: float
    text: str
    answer: str


def run_folder(cwd: str, run_id: str) -> Path:
    return Path(cwd) / ".caod" / "handover" / run_id


def file_name(index: int, role: str) -> str:
    return f"turn_{index}_{SAFE.sub('-', role).strip('-') or 'step'}.md"


def _when(ts: float) -> str:
    return time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(ts))


def _fenced(text: str) -> str:
    longest = max((len(m) for m in re.findall(r"`+", text)), default=0)
    fence = "`" * max(3, longest + 1)
    return f"{fence}text\n{text}\n{fence}\n"


def render(h: Handover) -> str:
    rows = [
        ("workflow", f"{h.workflow} (run {h.run})"),
        ("step", f"{h.index} of {h.total}: {h.step}"),
        ("from", f"caod workflow run {h.run}"),
        ("to", f"agent {h.agent}, participant {h.participant}, as {h.role}"),
        ("CLI", h.cli),
        ("model", h.model or "the CLI's default"),
        ("sent", _when(h.sent_at)),
        ("answered", _when(h.answered_at)),
    ]
    table = "| | |\n| --- | --- |\n" + "".join(f"| {k} | {v} |\n" for k, v in rows)
    return (f"# {h.workflow} · step {h.index}: {h.step} ({h.role})\n\n{table}\n"
            f"## Sent to {h.agent}\n\n{_fenced(h.text)}\n## Answer\n\n{_fenced(h.answer)}")


def parse_sections(content: str) -> tuple[str, str]:
    """(text sent, answer) from a handover file's content: the inverse of render."""
    found = re.findall(r"^(`{3,})text\n(.*?)\n\1\n", content, flags=re.S | re.M)
    if len(found) != 2:
        raise ValueError("not a handover file: expected two fenced sections")
    return found[0][1], found[1][1]


def write(cwd: str, h: Handover) -> str:
    """Write the step's file (once); returns its path. An existing file is left as it is."""
    folder = run_folder(cwd, h.run)
    paths.make_private_dirs(folder)  # only folders we create get 0700; existing ones keep their mode
    target = folder / file_name(h.index, h.role)
    if target.exists():
        return str(target)
    tmp = folder / f".{target.name}.{os.getpid()}.tmp"
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC | os.O_CLOEXEC, 0o600)
    try:
        with os.fdopen(fd, "w", encoding="utf-8") as f:
            f.write(render(h))
            f.flush()
            os.fsync(f.fileno())
        try:
            os.link(tmp, target)  # fails if it exists: never rewritten
        except FileExistsError:
            pass
    finally:
        tmp.unlink(missing_ok=True)
    return str(target)
