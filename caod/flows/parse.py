"""A flow file, as CAO writes them: Markdown with YAML front matter; the body is the prompt.

    ---
    name: nightly-triage           # letters, digits, _ and - (at most 55: the session is cao-flow-NAME)
    schedule: "0 2 * * 1-5"        # 5-field cron, in the local time zone
    agent_profile: developer
    provider: claude_code          # optional: else the profile's, else kiro_cli (CAO's default)
    script: ./gate.sh              # optional, beside the flow file: prints {"execute": ..., "output": {...}}
    misfire: skip                  # optional: no catch-up run for slots missed while caod was down
    working_directory: ~/src/app   # optional (caod): where the agent works; default the file's folder
    script_timeout: 30             # optional (caod): seconds the script may take
    ---
    Triage the issues labelled [[label]].

Fields this module does not know (CAO's `engine`) are kept and otherwise ignored.
"""

from __future__ import annotations

import json
import math
import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from caod.profiles.parse import front_matter

FLOW_NAME = re.compile(r"[A-Za-z0-9_-]{1,55}")
SESSION_PREFIX = "cao-flow-"  # as CAO names a flow's session, so `shutdown --session cao-flow-X` carries over
MAX_FLOW_BYTES = 256 * 1024
DEFAULT_PROVIDER = "kiro_cli"  # what CAO runs a flow with that names no provider
SCRIPT_TIMEOUT_S = 30.0  # as CAO
MAX_SCRIPT_TIMEOUT_S = 3600.0
MISFIRE = ("run", "skip")
PLACEHOLDER = re.compile(r"\[\[\s*([A-Za-z0-9_.-]+)\s*\]\]")


class FlowError(ValueError):
    """A flow file that cannot be used; the message is one line."""


@dataclass
class FlowFile:
    name: str
    schedule: str
    agent_profile: str
    prompt: str
    path: str  # the file, absolute
    provider: str | None = None
    script: str | None = None  # absolute: resolved beside the file
    misfire: str = "run"
    cwd: str = ""
    script_timeout: float = SCRIPT_TIMEOUT_S
    extra: dict[str, Any] = field(default_factory=dict)

    @property
    def session(self) -> str:
        return SESSION_PREFIX + self.name

    def placeholders(self) -> list[str]:
        return list(dict.fromkeys(m.group(1) for m in PLACEHOLDER.finditer(self.prompt)))


_KNOWN = {"name", "schedule", "agent_profile", "provider", "script", "misfire", "working_directory",
          "script_timeout"}


def _text(data: dict, key: str, required: bool = False) -> str | None:
    value = data.get(key)
    if value is None or (isinstance(value, str) and not value.strip()):
        if required:
            raise FlowError(f"missing required field {key!r}")
        return None
    if isinstance(value, bool) or not isinstance(value, (str, int)):
        raise FlowError(f"field {key!r} must be a string (got {json.dumps(value, default=str)[:60]})")
    return str(value).strip()


def _beside(folder: Path, value: str) -> Path:
    path = Path(value).expanduser()
    return path if path.is_absolute() else folder / path


def parse_flow(text: str, path: str) -> FlowFile:
    """Parse and check one flow file's fields (not whether its profile or script exist)."""
    if len(text.encode("utf-8", "replace")) > MAX_FLOW_BYTES:
        raise FlowError(f"the file is larger than {MAX_FLOW_BYTES // 1024} KiB")
    try:
        data, body = front_matter(text)
    except ValueError as e:
        raise FlowError(str(e)) from None
    name = _text(data, "name", required=True)
    assert name is not None
    if not FLOW_NAME.fullmatch(name):
        raise FlowError(f"field 'name': {name!r} must be 1-55 letters, digits, '_' or '-'")
    schedule = _text(data, "schedule", required=True)
    profile = _text(data, "agent_profile", required=True)
    misfire = (_text(data, "misfire") or "run").lower()
    if misfire not in MISFIRE:
        raise FlowError(f"field 'misfire': {misfire!r} must be 'skip' (or 'run', the default)")
    timeout = data.get("script_timeout", SCRIPT_TIMEOUT_S)
    if (isinstance(timeout, bool) or not isinstance(timeout, (int, float)) or not math.isfinite(timeout)
            or not 0 < timeout <= MAX_SCRIPT_TIMEOUT_S):
        raise FlowError(f"field 'script_timeout' must be a number of seconds, 0 to {MAX_SCRIPT_TIMEOUT_S:g}")
    prompt = body.strip()
    if not prompt:
        raise FlowError("the body (the prompt) is empty")
    folder = Path(path).parent
    script = _text(data, "script")
    where = _text(data, "working_directory")
    flow = FlowFile(
        name=name, schedule=" ".join(str(schedule).split()), agent_profile=str(profile), prompt=prompt, path=path,
        provider=_text(data, "provider"), misfire=misfire, script_timeout=float(timeout),
        script=str(_beside(folder, script)) if script else None,
        cwd=str(_beside(folder, where)) if where else str(folder),
        extra={k: v for k, v in data.items() if k not in _KNOWN},
    )
    if flow.script is None and flow.placeholders():
        raise FlowError(f"the prompt has {', '.join(f'[[{p}]]' for p in flow.placeholders())} "
                        "but no script gives values for it")
    return flow


class MissingValue(LookupError):
    def __init__(self, names: list[str]):
        super().__init__(names)
        self.names = names


def render(prompt: str, values: dict[str, Any]) -> str:
    """The prompt with each [[name]] replaced by the script's value; MissingValue names those without one."""
    missing = [n for n in dict.fromkeys(m.group(1) for m in PLACEHOLDER.finditer(prompt)) if n not in values]
    if missing:
        raise MissingValue(missing)

    def value(match: re.Match) -> str:
        v = values[match.group(1)]
        return v if isinstance(v, str) else json.dumps(v)

    return PLACEHOLDER.sub(value, prompt)
