"""Handover files: each turn of a workflow run, and each handoff, assign and message in a
session, as a readable Markdown file people can read and commit:
<folder>/.caod/handover/<run-or-session>/turn_<n>_<role-or-agent>.md

A small header (who, to whom, when, which CLI and model, the step), then the text sent
and the answer, each byte for byte in a code fence longer than any run of backticks in
it (parse_sections reads them back). A file is written once, atomically (a temporary
file linked into place, so it never exists half-written), and never rewritten.
"""

from __future__ import annotations

import os
import re
import threading
import time
from dataclasses import dataclass
from pathlib import Path

from caod import paths

SAFE = re.compile(r"[^A-Za-z0-9_.-]+")
NUMBERED = re.compile(r"^turn_(\d+)_")


@dataclass
class Handover:
    title: str
    rows: list[tuple[str, str]]  # the header: (what, value)
    receiver: str  # who the text was sent to
    text: str
    answer: str | None = None  # None: a message, which has no answer of its own
    answer_note: str | None = None  # why there is no answer (the turn failed), shown instead


def folder_for(cwd: str, name: str) -> Path:
    """Where the files of run or session `name` go."""
    return Path(cwd) / ".caod" / "handover" / name


def allowed(cwd: str) -> bool:
    """Whether files may go under `cwd`: not in a folder anyone may write to, like /tmp
    (another user could have made .caod there, and our files would land in it)."""
    try:
        return not paths.shared_sticky(os.stat(cwd))
    except OSError:
        return False


def run_folder(cwd: str, run_id: str) -> Path:
    return folder_for(cwd, run_id)


def file_name(index: int, label: str) -> str:
    return f"turn_{index}_{SAFE.sub('-', label).strip('-') or 'turn'}.md"


def when(ts: float) -> str:
    return time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(ts))


def _fenced(text: str) -> str:
    longest = max((len(m) for m in re.findall(r"`+", text)), default=0)
    fence = "`" * max(3, longest + 1)
    return f"{fence}text\n{text}\n{fence}\n"


def render(h: Handover) -> str:
    table = "| | |\n| --- | --- |\n" + "".join(f"| {k} | {v.replace('|', '/')} |\n" for k, v in h.rows)
    out = f"# {h.title}\n\n{table}\n## Sent to {h.receiver}\n\n{_fenced(h.text)}"
    if h.answer is not None:
        out += f"\n## Answer\n\n{_fenced(h.answer)}"
    elif h.answer_note:
        out += f"\n## No answer\n\n{h.answer_note}\n"
    return out


def parse_sections(content: str) -> tuple[str, ...]:
    """The fenced texts of a handover file, in order: (sent,) or (sent, answer)."""
    return tuple(text for _fence, text in re.findall(r"^(`{3,})text\n(.*?)\n\1\n", content, flags=re.S | re.M))


def write_file(folder: Path, name: str, h: Handover) -> str | None:
    """Write `folder/name` once; an existing file is left as it is. Returns its path (None if it existed)."""
    paths.make_private_dirs(folder)  # only folders we create get 0700; existing ones keep their mode
    target = folder / name
    if target.exists():
        return None
    tmp = folder / f".{name}.{os.getpid()}.{threading.get_ident()}.tmp"
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC | os.O_CLOEXEC, 0o600)
    try:
        with os.fdopen(fd, "w", encoding="utf-8") as f:
            f.write(render(h))
            f.flush()
            os.fsync(f.fileno())
        try:
            os.link(tmp, target)  # fails if it exists: never rewritten
        except FileExistsError:
            return None
    finally:
        tmp.unlink(missing_ok=True)
    return str(target)


def next_number(folder: Path) -> int:
    """1 + the highest turn number already in `folder` (1 for a new folder)."""
    try:
        names = os.listdir(folder)
    except FileNotFoundError:
        return 1
    return 1 + max((int(m.group(1)) for n in names if (m := NUMBERED.match(n))), default=0)
