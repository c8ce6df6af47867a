"""What a provider is: data describing how to run a CLI and read its screen.

A provider module defines one `PROVIDER = Provider(...)`. The daemon never
special-cases a CLI; it only reads these fields.
"""

from __future__ import annotations

import re
from typing import Callable, Literal

import msgspec

from caod.status import HOOK_STATUSES, SCREEN_STATUSES, Status


class Pattern(msgspec.Struct, frozen=True):
    """`regex` (multiline) searched where `anchor` says.

    - "bottom": the last `region` non-blank screen lines, with the blank lines
      between them. Counting only drawn lines keeps a pattern independent of
      the screen's height: a TUI pads its layout with blank rows (Codex puts
      its composer at the bottom of a tall screen, the conversation at the top).
    - "screen": the whole screen (a layout that centres its input box).
    - "title": the window title the CLI sets (OSC 0/2), a semantic marker
      where a CLI offers one (Gemini CLI's `◇  Ready`); captures of rendered
      text carry no title, so such a pattern never matches them.
    """

    status: Status
    regex: str
    region: int = 8
    anchor: Literal["bottom", "screen", "title"] = "bottom"
    # An idle screen that itself says a turn has finished (Cursor's `→ Add a follow-up`
    # placeholder, drawn only after one): after input, it ends the turn even where no busy
    # frame or answer was seen, unless it was already drawn when the input went in.
    finished: bool = False


class Answer(msgspec.Struct, frozen=True):
    """How to cut the last answer out of the screen (plus its scrollback).

    The answer starts at the last line matching `start` (the match itself is
    removed from that line) and runs until a line matching `stop`; `indent` is
    removed from the front of the following lines. A `start` that spans lines
    (it has a `\\n`) is searched in the rows joined: the answer starts where
    its last match ends (Kiro's TUI: the rule, then the user's line). For CLIs
    that set the user's turn apart only by its look, `after_style` is a regex
    on each row's style (`fg=<colour> bg=<colour>`, ` bold`, ...; see
    AgentScreen.styles): the answer starts after the last row it matches (omp
    draws the user's turn on a background colour). With both, the later wins.
    """

    stop: str
    start: str = ""
    indent: str = ""
    skip: str | None = None  # lines inside the answer that are chrome, not text (left out)
    after_style: str | None = None


class Sidebar(msgspec.Struct, frozen=True):
    """A column of chrome at the right edge (OpenCode's session sidebar): the last `cols`
    columns of screens wider than `above` columns. It is cut off every row before the
    patterns and the answer read it, so its text never joins an answer's lines."""

    cols: int
    above: int = 0


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
    sidebar: Sidebar | None = None
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
    # A CLI that has shown no prompt, question or error by then is `error` ("did not
    # become ready"), never `starting` forever; its screen stays for `caoctl output`.
    start_timeout_ms: int = 60000
    # Busy (`processing`) with no output at all for this long: the agent is `stalled` (an event,
    # and a notice to its parent). None: caod's default (caod --stall-after, 3 minutes).
    stall_ms: int | None = None
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
    yolo_env: dict[str, str] = {}  # environment the yolo flags need (added with them)
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
        for p in spec.patterns:
            if p.status not in SCREEN_STATUSES:
                allowed = ", ".join(sorted(s.value for s in SCREEN_STATUSES))
                raise ValueError(f"patterns: {p.regex!r} reports {p.status.value!r} (allowed: {allowed})")
            if p.finished and p.status is not Status.IDLE:
                raise ValueError(f"patterns: {p.regex!r} is `finished` but reports {p.status.value!r} (only idle)")
            if p.region < 1:
                raise ValueError(f"patterns: {p.regex!r} has region {p.region} (at least 1 line)")
        self.dialogs = [(re.compile(d.regex, re.M), d.keys) for d in spec.dialogs]
        self._patterns = [(p.status, re.compile(p.regex, re.M), p.region, p.anchor) for p in spec.patterns]
        self.finishing = frozenset(i for i, p in enumerate(spec.patterns) if p.finished)
        a = spec.answer
        if a is not None and not (a.start or a.after_style):
            raise ValueError("answer: give `start`, `after_style` or both")
        self._start = re.compile(a.start, re.M) if a and a.start else None
        self._start_spans = bool(a and ("\\n" in a.start or "\n" in a.start))
        self._stop = re.compile(a.stop) if a else None
        self._skip = re.compile(a.skip) if a and a.skip else None
        self._after_style = re.compile(a.after_style) if a and a.after_style else None

    @property
    def name(self) -> str:
        return self.spec.name

    @property
    def reads_styles(self) -> bool:
        """Its answer's start is marked by the rows' look (Answer.after_style)."""
        return self._after_style is not None

    def main_area(self, lines: list[str], cols: int | None) -> list[str]:
        """The rows without the provider's sidebar (when the screen is wide enough to show one)."""
        side = self.spec.sidebar
        if side is None or cols is None or cols <= side.above:
            return lines
        cut = cols - side.cols
        return [line[:cut].rstrip() if len(line) > cut else line for line in lines]

    def classify(self, lines: list[str], title: str | None = None, cols: int | None = None) -> Status | None:
        """The status the screen (and its window title, if known) shows, or None when no pattern matches.
        `cols` is the screen's width (for a sidebar; see Provider.sidebar)."""
        found = self.match(lines, title, cols)
        return found[0] if found else None

    def match(self, lines: list[str], title: str | None = None, cols: int | None = None) -> tuple[Status, int] | None:
        """(status, index of the pattern that said so), or None when no pattern matches."""
        lines = self.main_area(lines, cols)
        if self._classify_hook is not None:
            status = self._classify_hook(lines)
            return (status, -1) if status is not None else None
        drawn = [i for i, line in enumerate(lines) if line.strip()]
        texts: dict[int, str] = {}  # region text by its first line, built once per classify
        for index, (status, regex, region, anchor) in enumerate(self._patterns):
            if anchor == "title":
                if title and regex.search(title):
                    return status, index
                continue
            if not drawn:
                continue
            first = 0 if anchor == "screen" or region >= len(drawn) else drawn[-region]
            text = texts.get(first)
            if text is None:
                text = texts[first] = "\n".join(lines[first : drawn[-1] + 1])
            if regex.search(text):
                return status, index
        return None

    def shown(self, status: Status, lines: list[str], title: str | None = None, cols: int | None = None) -> str | None:
        """The text behind `status` as drawn (a question and its options, an error), for people
        and supervisors: from the first pattern of that status that matches, the lines from its
        match (or the last dozen drawn lines, when the match is a footer) down to the bottom,
        frame borders taken off. None when no such pattern matches."""
        lines = self.main_area(lines, cols)
        drawn = [i for i, line in enumerate(lines) if line.strip()]
        if not drawn:
            return None
        context = drawn[-12] if len(drawn) >= 12 else drawn[0]
        for pattern_status, regex, region, anchor in self._patterns:
            if pattern_status is not status:
                continue
            if anchor == "title":
                if title and regex.search(title):
                    return _unboxed(lines[context:])
                continue
            first = 0 if anchor == "screen" or region >= len(drawn) else drawn[-region]
            text = "\n".join(lines[first : drawn[-1] + 1])
            m = regex.search(text)
            if m:
                at = first + text.count("\n", 0, m.start())
                return _unboxed(lines[min(at, context) : drawn[-1] + 1])
        return None

    def extract_answer(
        self, lines: list[str], cols: int | None = None, continued: list[bool] | None = None,
        styles: list[str] | None = None,
    ) -> tuple[int, str] | None:
        """(index of the answer's first line, answer text) or None.

        `lines` may include scrollback above the screen. Soft-wrapped rows are
        joined: `continued[i]` says row i continues row i-1 (the daemon's
        screen tracks real auto-wraps); without it, a row filled to the last
        of `cols` columns is taken as wrapped. `styles` are the rows' styles,
        for an answer whose start is marked only by them (Answer.after_style).
        """
        if self._stop is None:
            return None
        side = self.spec.sidebar
        if side is not None and cols is not None and cols > side.above:
            lines, cols = self.main_area(lines, cols), cols - side.cols
        found = self._answer_start(lines, styles)
        if found is None:
            return None
        begin, first = found
        indent = self.spec.answer.indent  # type: ignore[union-attr]
        parts = [first]
        wrapped = cols is not None and len(lines[begin]) >= cols
        for i in range(begin + 1, len(lines)):
            line = lines[i]
            if continued is not None:
                # A row wrapped off a blank one continues nothing: a CLI that drew a line of
                # spaces wider than the screen (its frame for the old width, just after a
                # viewer narrowed it) leaves the next row marked, footer and all.
                wrapped = continued[i] and bool(lines[i - 1].strip())
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


    def _answer_start(self, lines: list[str], styles: list[str] | None) -> tuple[int, str] | None:
        """(the answer's first row, its text on that row): the later of the start marks."""
        marks: list[tuple[int, str]] = []
        indent = self.spec.answer.indent  # type: ignore[union-attr]
        unindent = lambda line: line[len(indent):] if indent and line.startswith(indent) else line  # noqa: E731
        if self._start is not None and self._start_spans:
            text = "\n".join(lines)
            last = None
            for last in self._start.finditer(text):
                pass
            if last is not None:
                row = text.count("\n", 0, last.end())
                line_start = text.rfind("\n", 0, last.end()) + 1
                if row < len(lines):
                    rest = lines[row][last.end() - line_start:]
                    marks.append((row, unindent(rest) if last.end() == line_start else rest))
        elif self._start is not None:
            for i in range(len(lines) - 1, -1, -1):
                if self._start.search(lines[i]):
                    marks.append((i, self._start.sub("", lines[i], count=1)))
                    break
        if self._after_style is not None and styles is not None:
            for i in range(min(len(lines), len(styles)) - 1, -1, -1):
                if lines[i].strip() and self._after_style.search(styles[i]):
                    if i + 1 < len(lines):
                        marks.append((i + 1, unindent(lines[i + 1])))
                    break
        return max(marks, key=lambda mark: mark[0]) if marks else None


def _pad(line: str, cols: int | None, above: str) -> str:
    """Spaces the right-trim took off the end of the wrapped row `above`."""
    if cols is None or len(above) >= cols:
        return line
    return " " * (cols - len(above)) + line


_BORDER = "│┃║▌▐|"


def _unboxed(lines: list[str]) -> str:
    """Screen rows as plain text: frame borders and rule lines dropped, blank runs folded."""
    out: list[str] = []
    for line in lines:
        text = line.strip().strip(_BORDER).strip()
        if not text or set(text) <= set("─━═╭╮╰╯┌┐└┘╔╗╚╝▀▄▁▔-_ "):
            if out and out[-1]:
                out.append("")
            continue
        out.append(text)
    while out and not out[-1]:
        out.pop()
    return "\n".join(out)
