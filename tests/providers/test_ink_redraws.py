"""Busy lines that Ink wraps: Gemini CLI and Qwen Code draw `<spinner> <random phrase>
(esc to cancel, 3s)`, and on a narrow screen Ink breaks that line at whichever space the
phrase's length puts at the edge. Every such break must still read as busy, or a turn
ends early (a resize mid-turn to 80 columns did it, one phrase in a few).

Each real capture of a turn in progress is rewrapped at every space of its busy line,
the tail indented as Ink indents it, the screen's top row dropped to keep its height.
"""

from __future__ import annotations

from pathlib import Path

import pytest

import providers
from caod.detector import Detector
from caod.status import Status

CAPTURES = Path(__file__).resolve().parent / "captures"
BUSY_LINE = {"gemini_cli": "esc to", "qwen_code": "esc to"}


def unwrapped(lines: list[str], row: int) -> tuple[list[str], int]:
    """The screen with the busy line at `row` whole again (the capture may have it wrapped),
    and that line's row."""
    if "cancel" in lines[row]:
        return lines, row
    whole = lines[row].rstrip() + " " + lines[row + 1].strip()
    return [""] + lines[:row] + [whole] + lines[row + 2:], row + 1


def rewrapped(lines: list[str], row: int) -> list[list[str]]:
    """The screen with line `row` broken at each of its inner spaces."""
    line = lines[row]
    start = len(line) - len(line.lstrip())
    indent = " " * (start + 2)
    out = []
    for at in range(start + 2, len(line.rstrip())):
        if line[at] == " " and line[at - 1] != " ":
            head, tail = line[:at].rstrip(), indent + line[at + 1:].strip()
            out.append(lines[1:row] + [head, tail] + lines[row + 1:])
    return out


def cases() -> list:
    return [pytest.param(provider, marker, path, id=f"{provider}-{path.stem}")
            for provider, marker in BUSY_LINE.items()
            for path in sorted((CAPTURES / provider).glob("processing-*.txt"))]


@pytest.mark.parametrize("provider, marker, path", cases())
def test_a_busy_line_broken_at_any_space_reads_busy(provider, marker, path):
    compiled = providers.get(provider)
    lines = path.read_text().split("\n")
    rows = [i for i, line in enumerate(lines) if marker in line]
    assert rows, f"{path.name} has no busy line with {marker!r}"
    lines, row = unwrapped(lines, rows[-1])
    screens = rewrapped(lines, row)
    assert len(screens) >= 5, f"{path.name}: too few break points"
    cols = max(len(line) for line in lines)
    wrong = []
    for screen in screens:
        found = compiled.match(screen, None, cols)
        if found is None or found[0] is not Status.PROCESSING:
            wrong.append("\n".join(screen[-12:]))
    assert not wrong, f"{len(wrong)} of {len(screens)} breaks misread, first:\n{wrong[0]}"


@pytest.mark.parametrize("provider", sorted(BUSY_LINE) + ["codex"])
@pytest.mark.parametrize("size", ["24x80", "60x250"])
def test_an_idle_box_with_no_answer_yet_does_not_end_the_turn(provider, size):
    """Mid-turn, a resize's redraw can show the bare input box for a moment: the turn stays
    open until its answer is drawn (or the detector's resize hold runs out)."""
    compiled = providers.get(provider)
    cols = int(size.split("x")[1])

    def frame(state: str) -> list[str]:
        return (CAPTURES / provider / f"{state}-default-{size}.txt").read_text().split("\n")

    def answer(lines: list[str]):
        return lambda: compiled.extract_answer(lines, cols)

    d = Detector(compiled)
    idle = frame("idle")
    assert d.on_frame(Status.STARTING, idle, answer(idle), None, cols) is Status.IDLE
    d.on_input(None, Status.IDLE)
    busy = frame("processing")
    assert d.on_frame(Status.IDLE, busy, answer(busy), None, cols) is Status.PROCESSING
    d.on_resize()  # a viewer attached: the CLI redraws
    assert d.on_frame(Status.PROCESSING, idle, answer(idle), None, cols) is None
    assert d.holding and d.awaiting_turn
    done = frame("completed")
    assert d.on_frame(Status.PROCESSING, done, answer(done), None, cols) is Status.COMPLETED
    assert compiled.extract_answer(done, cols)[1] == f"DONE-{provider}-default-{size}"
