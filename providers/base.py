"""What a provider is: data describing how to run a CLI and read its screen.

A provider module defines one `PROVIDER = Provider(...)`. The daemon never
special-cases a CLI; it only reads these fields.
"""

from __future__ import annotations

import re
from typing import Callable

import msgspec

from caod.status import HOOK_STATUSES, Status


class Pattern(msgspec.Struct, frozen=True):
    """`regex` (multiline) searched in the last `region` screen lines, counted up
    from the last non-blank line (blank lines above it count)."""

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
    skip: str | None = None  # lines inside the answer that are chrome, not text (left out)


class ConfigFile(msgspec.Struct, frozen=True):
    """A file written into the agent's private home before it starts (a
    ${placeholder} template; see TEMPLATE_FIELDS). Only when caod isolates
    the agent's HOME: a person's own CLI set-up is never touched."""

    path: str  # relative to the agent's home; or under ${agent_dir}, caod's own folder, always written
    content: str


class Dialog(msgspec.Struct, frozen=True):
    """A first-run dialog answered while the agent starts: `regex` on the screen -> `keys`."""

    regex: str
    keys: str


class Provider(msgspec.Struct, frozen=True, kw_only=True, forbid_unknown_fields=True):
    """Everything caod knows about one CLI. Templates use ${field} (TEMPLATE_FIELDS)."""

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
    # A CLI that draws its idle prompt (or the turn's footer) before the answer
    # text: an idle screen with no new answer yet waits up to this long for it.
    answer_wait_ms: int = 0
    # A CLI that draws its prompt before a resumed conversation: after a resume
    # (with turns to show), `starting` lasts until an answer is drawn, up to this long.
    resume_wait_ms: int = 0
    exit_keys: str = "\x04"  # keys that ask the CLI to quit
    # Answers to a choice prompt (waiting_user_answer) typed as keys with no submit
    # key: some select widgets ignore a paste, and the Enter would pick the default.
    choice_keys: bool = False
    dialogs: list[Dialog] = []
    config_files: list[ConfigFile] = []
    # Launch flags, each added when its value is known.
    model_args: list[str] = []  # ${model}
    system_prompt_args: list[str] = []  # ${prompt} or ${prompt_file}
    mcp_args: list[str] = []  # ${mcp_config}: {"mcpServers": {...}} with caod's bridge
    # One stdio MCP server in the CLI's own shape, for CLIs that do not read {"mcpServers": ...}:
    # rendered per server over SERVER_FIELDS, joined with ", " into ${mcp_entries}.
    mcp_entry: str = ""
    yolo_args: list[str] = []
    allowed_tools_args: list[str] = []  # once, with ${tools} (comma-separated)
    allowed_tool_args: list[str] = []  # once per tool, with ${tool}
    session_id_args: list[str] = []  # pin a fresh conversation id: ${session_id}
    resume_args: list[str] = []  # relaunch into that conversation: ${session_id}
    # CLI-native turn signals: the hook event name `caoctl hook` reports -> status.
    hook_events: dict[str, Status] = {}
    verified: str = "corpus"  # "real" (driven for real in CI), "corpus" (captured screens), "scripted"

    def compiled(self, classify_hook: Callable[[list[str]], Status | None] | None = None) -> "CompiledProvider":
        return CompiledProvider(self, classify_hook)


# Every ${field} a provider template may use. Each also exists as ${field_json}:
# the value as a JSON string literal, for use inside JSON config files.
TEMPLATE_FIELDS = (
    "home",  # the agent's HOME (its private one when isolated)
    "agent_dir",  # caod's folder for this agent: files here are written whether or not HOME is isolated
    "cwd",
    "agent_id",
    "socket",
    "python",  # the interpreter caod runs on
    "model",
    "prompt",
    "prompt_file",
    "mcp_config",  # path of the MCP config file
    "mcp_servers_json",  # the servers mapping itself, as JSON
    "bridge_command",  # caod's MCP bridge: command, args (JSON list), env (JSON object)
    "bridge_args_json",
    "bridge_env_json",
    "hook_command",  # a shell command line: `caoctl hook` (append the event name)
    "hook_argv_json",  # the same as a JSON list
    "session_id",
    "tools",
    "tool",
    "mcp_entries",  # every MCP server (caod's bridge and the profile's) through `mcp_entry`
)
# The fields of `mcp_entry`, per server (plus their _json forms).
SERVER_FIELDS = (
    "server_name",
    "server_command",
    "server_args_json",  # a JSON list
    "server_argv_json",  # command and args as one JSON list
    "server_env_json",  # a JSON object
)


def render(template: str, values: dict[str, str]) -> str:
    """Fill ${field} placeholders; an unknown field is an error in the provider."""
    import json
    import string

    full = dict(values)
    for key, value in values.items():
        if not key.endswith("_json"):
            literal = json.dumps(value)
            full[f"{key}_json"] = literal  # a JSON string literal
            full[f"{key}_jsonstr"] = literal[1:-1]  # escaped for inside one
    try:
        return string.Template(template).substitute(full)
    except KeyError as e:
        raise ValueError(f"template field {e} has no value here: {template!r}") from None


class CompiledProvider:
    """A provider with its regexes compiled once; shared by all its agents."""

    def __init__(self, spec: Provider, classify_hook: Callable[[list[str]], Status | None] | None = None):
        self.spec = spec
        self._classify_hook = classify_hook
        for event, status in spec.hook_events.items():
            if status not in HOOK_STATUSES:
                allowed = ", ".join(sorted(s.value for s in HOOK_STATUSES))
                raise ValueError(f"hook_events: {event!r} maps to {status.value!r} (allowed: {allowed})")
        self.dialogs = [(re.compile(d.regex, re.M), d.keys) for d in spec.dialogs]
        self._patterns = [(p.status, re.compile(p.regex, re.M), p.region) for p in spec.patterns]
        a = spec.answer
        self._start = re.compile(a.start) if a else None
        self._stop = re.compile(a.stop) if a else None
        self._skip = re.compile(a.skip) if a and a.skip else None

    @property
    def name(self) -> str:
        return self.spec.name

    def classify(self, lines: list[str]) -> Status | None:
        """The status the screen shows, or None when no pattern matches."""
        if self._classify_hook is not None:
            return self._classify_hook(lines)
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
            if self._skip is not None and not wrapped and self._skip.search(line):
                wrapped = False
                continue
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
        while out and not out[0]:
            out.pop(0)
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
