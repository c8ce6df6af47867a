"""Turning words into an FTS5 query, and memories into the block a new agent reads."""

from __future__ import annotations

import re

from caod.memory.scopes import SCOPES

QUERY_WORDS = 32  # words of a recall query that are searched for
BRIEF_WORDS = 64  # of a profile's name and first task, for the memories a new agent gets
BRIEF_BYTES = 4096  # the block's size at most (a few KB: it must not crowd the task out)
_WORD = re.compile(r"\w+", re.UNICODE)
# Words that say nothing about what a note is about: they would match every note.
STOP = frozenset("""a an and are as at be but by can do does for from has have how i if in into is it its
me my no not of on or our so than that the their then there these this to was we were what when where which
who why will with you your please reply""".split())
BLOCK_START = "[caod memory: notes kept from earlier work, most relevant first. They may be out of date: check before relying on them.]"
BLOCK_END = "[end of caod memory]"


def fts_query(text: str, words: int = QUERY_WORDS) -> str | None:
    """Any of the text's words (each quoted, so FTS5 syntax in it is only text), or None."""
    seen: list[str] = []
    for word in _WORD.findall(text.lower()):
        if len(word) >= 2 and word not in STOP and word not in seen:
            seen.append(word)
        if len(seen) >= words:
            break
    return " OR ".join(f'"{w}"' for w in seen) if seen else None


def scope_order(column: str) -> str:
    """An ORDER BY term: narrowest scope first."""
    return "CASE " + " ".join(f"WHEN {column} = '{s}' THEN {i}" for i, s in enumerate(SCOPES)) + " END"


def brief_block(rows: list[tuple[str, str, str]], budget: int = BRIEF_BYTES) -> str | None:
    """The delimited block of (scope, key, content) rows, best first, within `budget` bytes."""
    lines: list[str] = []
    used = len(BLOCK_START) + len(BLOCK_END) + 2
    for scope, key, content in rows:
        one = " ".join(content.split())
        line = f"- ({scope}) {key}: {one}"
        if used + len(line.encode()) + 1 > budget:
            room = budget - used - 1
            if lines or room < 80:
                break
            line = line.encode()[:room - 1].decode(errors="ignore") + "…"
        lines.append(line)
        used += len(line.encode()) + 1
    if not lines:
        return None
    return "\n".join([BLOCK_START, *lines, BLOCK_END])
