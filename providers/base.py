"""What a provider is: data describing how to run a CLI and read its screen.

A provider module defines one `PROVIDER = Provider(...)`. The daemon never
special-cases a CLI; it only reads these fields.
"""

from __future__ import annotations

import re
from typing import Callable

import msgspec

from caod.status import Status


class Pattern(msgspec.Struct, frozen=True):
    """`regex` (multiline) searched in the last `region` non-blank screen lines."""

    status: Status
    regex: str
    region: int = 8


class Answer(msgspec.Struct, frozen=True):
    """How to cut the last answer out of the screen (plus its scrollback).

    The answer starts at the last line matching `start` (the match itself is
    removed from that line) and runs until a line matching `stop`; `indent` is
    removed from the front of the following lines.
    """

    start: str
    stop: str
    indent: str = ""


class Provider(msgspec.Struct, frozen=True, kw_only=True):
    name: str
    description: str
    command: list[str]
    env: dict[str, str] = {}
    patterns: list[Pattern]
    answer: Answer | None = None
    submit: str = "\r"  # key(s) written after the pasted text
    submit_delay_ms: int = 0  # pause between the paste and the submit key
    quiet_ms: int = 25  # quiescence window that ends a frame without sync output
    confirm_ms: int = 3000  # input not taken by then -> press submit once more
    exit_keys: str = "\x04"  # keys that ask the CLI to quit
    # Launching from a profile. Placeholders: {model}, {prompt} (the system
    # prompt text), {prompt_file}, {mcp_config} (a JSON file in the common
    # {"mcpServers": {...}} shape, with caod's bridge registered).
    model_args: list[str] = []
    system_prompt_args: list[str] = []
    mcp_args: list[str] = []
    yolo_args: list[str] = []
    # Code hooks, only where data cannot say it (None = the generic behaviour).
    classify_hook: Callable[[list[str]], Status | None] | None = None

    def compiled(self) -> "CompiledProvider":
        return CompiledProvider(self)


class CompiledProvider:
    """A provider with its regexes compiled once; shared by all its agents."""

    def __init__(self, spec: Provider):
        self.spec = spec
        self._patterns = [(p.status, re.compile(p.regex, re.M), p.region) for p in spec.patterns]
        a = spec.answer
        self._start = re.compile(a.start) if a else None
        self._stop = re.compile(a.stop) if a else None

    @property
    def name(self) -> str:
        return self.spec.name

    def classify(self, lines: list[str]) -> Status | None:
        """The status the screen shows, or None when no pattern matches."""
        if self.spec.classify_hook is not None:
            return self.spec.classify_hook(lines)
        content = _trim(lines)
        for status, regex, region in self._patterns:
            if regex.search("\n".join(content[-region:])):
                return status
        return None

    def extract_answer(
        self, lines: list[str], cols: int | None = None, continued: list[bool] | None = None
    ) -> tuple[int, str] | None:
        """(index of the answer's first line, answer text) or None.

        `lines` may include scrollback above the screen. Soft-wrapped rows are
        joined: `continued[i]` says row i continues row i-1 (the daemon's
        screen tracks real auto-wraps); without it, a row filled to the last
        of `cols` columns is taken as wrapped.
        """
        if self._start is None or self._stop is None:
            return None
        begin = None
        for i in range(len(lines) - 1, -1, -1):
            if self._start.search(lines[i]):
                begin = i
                break
        if begin is None:
            return None
        indent = self.spec.answer.indent  # type: ignore[union-attr]
        first = self._start.sub("", lines[begin], count=1)
        parts = [first]
        wrapped = cols is not None and len(lines[begin]) >= cols
        for i in range(begin + 1, len(lines)):
            line = lines[i]
            if continued is not None:
                wrapped = continued[i]
            if self._stop.search(line) and not wrapped:
                break
            text = line[len(indent) :] if indent and line.startswith(indent) else line
            if wrapped:
                parts[-1] += _pad(line, cols, lines[i - 1]) if continued is not None else line
            else:
                parts.append(text)
            wrapped = cols is not None and len(line) >= cols
        out = [p.rstrip() for p in parts]
        while out and not out[-1]:
            out.pop()
        return begin, "\n".join(out)


def _pad(line: str, cols: int | None, above: str) -> str:
    """Spaces the right-trim took off the end of the wrapped row `above`."""
    if cols is None or len(above) >= cols:
        return line
    return " " * (cols - len(above)) + line


def _trim(lines: list[str]) -> list[str]:
    """Drop trailing blank rows: inline TUIs rarely fill the whole screen."""
    end = len(lines)
    while end and not lines[end - 1].strip():
        end -= 1
    return lines[:end]
