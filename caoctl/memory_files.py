"""Memories as files people read, review and commit: one Markdown file per scope (and
owner), and back. `caoctl memory export --markdown DIR` writes them; `memory import`
reads them (or a JSON export) back, unchanged.

A file:

    # caod memory: project /home/me/repo
    <!-- caod memory {"scope": "project", "owner": "/home/me/repo"} -->

    ## build-command
    <!-- caod memory {"key": "build-command", "tags": ["ci"], "source": "user", ...} -->

    Run `make test` before pushing.

A note runs from its marker line to the next `## ` heading that is followed by a marker
line (or the end of the file); the heading is for people, the key is the marker's.
"""

from __future__ import annotations

import hashlib
import json
import re
from pathlib import Path

from caod.protocol import MemoryInfo

MARKER = re.compile(r"^<!-- caod memory (\{.*\}) -->$")


class BadMemoryFile(ValueError):
    """`str(e)` is one line naming the file and the problem."""


def file_name(scope: str, owner: str) -> str:
    """global.md, project-<folder>-<digest>.md, session-<name>.md, agent-<profile>.md"""
    if scope == "global":
        return "global.md"
    base = Path(owner).name if scope == "project" else owner
    safe = re.sub(r"[^\w.-]+", "_", base).strip("._") or "x"
    digest = hashlib.sha256(owner.encode()).hexdigest()[:6] if scope == "project" else ""
    return f"{scope}-{safe}{'-' + digest if digest else ''}.md"


def _marker(data: dict) -> str:
    text = json.dumps(data, ensure_ascii=False).replace("-->", "--\\u003e")  # a comment's end, escaped
    return f"<!-- caod memory {text} -->"


def to_markdown(scope: str, owner: str, memories: list[MemoryInfo]) -> str:
    lines = [f"# caod memory: {scope}{' ' + owner if owner else ''}", _marker({"scope": scope, "owner": owner}), ""]
    for m in sorted(memories, key=lambda m: m.key):
        lines += [f"## {m.key}",
                  _marker({"key": m.key, "tags": list(m.tags), "source": m.source,
                           "created_at": m.created_at, "updated_at": m.updated_at}),
                  "", m.content.rstrip("\n"), ""]
    return "\n".join(lines)


def write_markdown(folder: Path, memories: list[MemoryInfo]) -> list[Path]:
    """One file per (scope, owner) in `folder` (made private if new); the files written."""
    folder.mkdir(mode=0o700, parents=True, exist_ok=True)
    groups: dict[tuple[str, str], list[MemoryInfo]] = {}
    for m in memories:
        groups.setdefault((m.scope, m.owner), []).append(m)
    written = []
    for (scope, owner), group in sorted(groups.items()):
        path = folder / file_name(scope, owner)
        path.write_text(to_markdown(scope, owner, group), encoding="utf-8")
        written.append(path)
    return written


def from_markdown(text: str, source: str) -> list[MemoryInfo]:
    lines = text.split("\n")
    head = next((i for i, line in enumerate(lines[:5]) if MARKER.match(line)), None)
    if head is None:
        raise BadMemoryFile(f"{source}: not a caod memory file (no `<!-- caod memory {{...}} -->` header)")
    where = _json(lines[head], source)
    scope, owner = where.get("scope"), where.get("owner", "")
    if not isinstance(scope, str) or not isinstance(owner, str):
        raise BadMemoryFile(f"{source}: its header names no scope")
    starts = [i for i in range(head + 1, len(lines))
              if MARKER.match(lines[i]) and i > 0 and lines[i - 1].startswith("## ")]
    out = []
    for n, at in enumerate(starts):
        end = starts[n + 1] - 1 if n + 1 < len(starts) else len(lines)  # up to the next note's heading
        meta = _json(lines[at], source)
        content = "\n".join(lines[at + 1:end]).strip("\n")
        key = meta.get("key")
        if not isinstance(key, str) or not key:
            raise BadMemoryFile(f"{source}: line {at + 1}: a note without a key")
        out.append(MemoryInfo(id=0, scope=scope, owner=owner, key=key, content=content,
                              tags=[str(t) for t in meta.get("tags") or []], source=meta.get("source"),
                              created_at=float(meta.get("created_at") or 0), updated_at=float(meta.get("updated_at") or 0)))
    return out


def _json(line: str, source: str) -> dict:
    m = MARKER.match(line)
    try:
        data = json.loads(m.group(1)) if m else None
    except ValueError:
        data = None
    if not isinstance(data, dict):
        raise BadMemoryFile(f"{source}: a caod memory marker that is not a JSON object: {line[:80]}")
    return data


def read_any(path: Path) -> list[MemoryInfo]:
    """A JSON export (a list of memories), a Markdown file, or a folder of Markdown files."""
    if path.is_dir():
        return [m for f in sorted(path.glob("*.md")) for m in from_markdown(f.read_text(encoding="utf-8"), str(f))]
    text = path.read_text(encoding="utf-8")
    if text.lstrip().startswith("["):
        try:
            items = json.loads(text)
            return [MemoryInfo(**{k: v for k, v in item.items() if k in MemoryInfo.__struct_fields__})
                    for item in items]
        except (ValueError, TypeError) as e:
            raise BadMemoryFile(f"{path}: not a caod memory export: {e}") from None
    return from_markdown(text, str(path))
