"""The fast screen route against pyte's own (AgentScreen(fast=False)), byte for byte.

Every corpus screen, every capture (screens and raw streams), the bench's synthetic
stream and a fuzzed stream of the sequences the fast route does not take itself go
through both routes, whole and cut at odd chunk sizes (so escapes split across
chunks). Both must agree on everything AgentScreen exposes (rows, logical lines,
history and continuation flags, styles, cursor, title, modes, the frame callbacks
and what they saw, the ANSI redraw, which carries every cell's look) and on pyte's
cells themselves. No difference is accepted.
"""

from __future__ import annotations

import os
import random
import sys
from pathlib import Path

import pytest

from caoctl.commands.provider import prepare_stream
from caod.screen import AgentScreen

ROOT = Path(__file__).resolve().parents[2]
# Next to the repository as in tests/providers/test_captures.py; CAOD_CORPUS points elsewhere.
CORPUS = Path(os.environ.get("CAOD_CORPUS") or ROOT.parent / "shared" / "corpus")
CAPTURES = ROOT / "tests" / "providers" / "captures"
# (cols, rows, chunk): None feeds the whole stream at once; the narrow screen wraps and scrolls.
RUNS = ((200, 50, None), (200, 50, 61), (80, 24, 1021), (80, 24, 7))


def state(screen: AgentScreen, frames: list) -> dict:
    s = screen._screen
    return {
        "lines": screen.lines(),
        "logical": screen.logical_lines(),
        "history": screen.history_and_lines(),
        "styles": screen.styles(),
        "cursor": screen.cursor,
        "title": screen.title,
        "size": (screen.rows, screen.cols),
        "bracketed_paste": screen.bracketed_paste,
        "in_sync": screen.in_sync,
        "frames": frames,
        "redraw": screen.ansi_redraw(),
        "cells": {y: dict(row) for y, row in s.buffer.items() if row},
        "attrs": s.cursor.attrs,
        "mode": set(s.mode),
        "margins": s.margins,
        "scrolled": s.scrolled,
    }


def run(data: bytes, cols: int, rows: int, chunk: int | None, fast: bool, resize_at: int | None = None) -> dict:
    screen = AgentScreen(cols, rows, fast=fast)
    frames: list = []
    screen.on_query_reply(lambda text: frames.append(("reply", text)))

    def on_frame_end() -> None:
        frames.append((screen.text(), screen.cursor, screen.logical_lines()[-3:]))

    step = chunk or len(data) or 1
    for i in range(0, len(data), step):
        if resize_at is not None and i // step == resize_at:
            screen.resize(max(3, rows // 2), max(10, cols - 13))
        screen.feed(data[i : i + step], on_frame_end)
    return state(screen, frames)


def same_both_ways(data: bytes, cols: int, rows: int, chunk: int | None, resize_at: int | None = None) -> None:
    ref = run(data, cols, rows, chunk, fast=False, resize_at=resize_at)
    new = run(data, cols, rows, chunk, fast=True, resize_at=resize_at)
    for key in ref:
        assert new[key] == ref[key], f"{key} differs ({cols}x{rows}, chunk {chunk})"


def corpus_files() -> list[Path]:
    if not CORPUS.is_dir():
        return []
    return sorted(p for p in CORPUS.rglob("*.txt") if p.is_file())


def capture_files() -> list[Path]:
    return sorted(p for p in CAPTURES.rglob("*") if p.suffix in (".raw", ".txt"))


def test_there_are_captures_to_compare():
    assert len(capture_files()) > 100


@pytest.mark.parametrize("path", capture_files(), ids=lambda p: str(p.relative_to(CAPTURES)))
def test_every_capture_renders_the_same(path):
    data = prepare_stream(path.read_bytes())
    for cols, rows, chunk in RUNS:
        same_both_ways(data, cols, rows, chunk)


@pytest.mark.skipif(not corpus_files(), reason=f"the shared corpus is not here ({CORPUS})")
@pytest.mark.parametrize("path", corpus_files(), ids=lambda p: p.name)
def test_every_corpus_screen_renders_the_same(path):
    data = prepare_stream(path.read_bytes())
    for cols, rows, chunk in RUNS:
        same_both_ways(data, cols, rows, chunk)


def bench_stream(size: int, seed: int) -> bytes:
    bench = str(ROOT / "bench")
    if bench not in sys.path:
        sys.path.insert(0, bench)
    from bench_core import make_stream

    return make_stream(size, seed)


@pytest.mark.parametrize("seed", [1, 2, 2026])
def test_the_bench_stream_renders_the_same(seed):
    data = bench_stream(60_000, seed)
    for cols, rows, chunk in ((200, 50, 4093), (200, 50, 61), (80, 24, None), (80, 24, 65536)):
        same_both_ways(data, cols, rows, chunk)
    same_both_ways(data, 120, 40, 997, resize_at=50)


# What the fast route hands to pyte, or must get exactly right itself.
_PIECES = [
    "plain words ", "x" * 130, "\r\n", "\n", "\r", "\t", "\b", "\x07", "\x0b", "\x0c", "\x00", "\x7f",
    "\x0e", "\x0f", "\x01", "\x18oops", "\x1a", "é", "日本語", "テ", "e\u0301", "\u0301", "\u200b", "\u200d",
    "👍", "│─╭╮", "\ufe0f", "\x1b[31m", "\x1b[1;38;5;208m", "\x1b[38;2;1;2;3m", "\x1b[48;5;300m", "\x1b[m",
    "\x1b[0m", "\x1b[7m", "\x1b[27m", "\x1b[38;5m", "\x1b[38:2::1:2:3m", "\x1b[?25l", "\x1b[?25h", "\x1b[?7l",
    "\x1b[?7h", "\x1b[4h", "\x1b[4l", "\x1b[20h", "\x1b[20l", "\x1b[?2004h", "\x1b[?2026h", "\x1b[?2026l",
    "\x1b[H", "\x1b[5;10H", "\x1b[99;999H", "\x1b[;5H", "\x1b[3A", "\x1b[2B", "\x1b[40C", "\x1b[D", "\x1b[7G",
    "\x1b[3d", "\x1b[K", "\x1b[1K", "\x1b[2K", "\x1b[3K", "\x1b[J", "\x1b[1J", "\x1b[2J", "\x1b[3J", "\x1b[4J",
    "\x1b[2@", "\x1b[3P", "\x1b[2X", "\x1b[2L", "\x1b[M", "\x1b[3;10r", "\x1b[r", "\x1b[6n", "\x1b[c",
    "\x1b[>c", "\x1b[>4;?m", "\x1b[?5W", "\x1b[1?2h", "\x1b[12\r34H", "\x1b[5$p", "\x1b[[A", "\x1b[<u",
    "\x1b[=1;1u", "\x1b[>1u", "\x1b7", "\x1b8", "\x1bM", "\x1bD", "\x1bE", "\x1bH", "\x1b[g", "\x1b=", "\x1b>",
    "\x1b(B", "\x1b(0", "\x1b#8", "\x1bc", "\x1b]0;title\x07", "\x1b]2;t2\x1b\\", "\x1b]1;icon\x07",
    "\x1b]8;;http://x\x1b\\link\x1b]8;;\x1b\\", "\x1b]133;A\x07", "\x1b]0\x07", "\x1b]0;a\x1bxb\x07",
    "\x1b]R", "\x1b]P", "\x9b31m", "\x9d0;c1\x9c", "\x1b[99999m", "\x1b%G", "\x1b%@", "\xff",
]


def fuzz_stream(seed: int, count: int, charset_switch: bool) -> bytes:
    rng = random.Random(seed)
    pieces = [p for p in _PIECES if charset_switch or p != "\x1b%@"]
    out = "".join(rng.choice(pieces) for _ in range(count))
    return out.encode("utf-8", "surrogateescape").replace(b"\xc3\xbf", b"\xff")


@pytest.mark.parametrize("seed", range(12))
def test_a_fuzzed_stream_renders_the_same(seed):
    data = fuzz_stream(seed, 3000, charset_switch=seed % 4 == 3)
    for cols, rows in ((40, 8), (200, 50)):
        for chunk in (None, 509, 13, 1):
            same_both_ways(data, cols, rows, chunk)
    same_both_ways(data, 40, 8, 97, resize_at=5)
