"""Parsing and validating one profile (Markdown with YAML front matter)."""


from __future__ import annotations

import re
from dataclasses import dataclass, field
from typing import Any

import yaml

from caod.profiles import bounded_yaml
from caod.protocol import ProfileInfo

ROLES = ("supervisor", "developer", "reviewer")
DEFAULT_ROLE = "developer"
NAME_RE = re.compile(r"[A-Za-z0-9_-]{1,64}")
MAX_PROFILE_BYTES = 256 * 1024  # a long system prompt is tens of KiB; checked before anything is parsed
BUILTIN = "builtin"
USER = "user"

# Field names as written in the file -> Profile attribute. The snake_case
# spellings are accepted too, for people who guess them.
_ALIASES = {
    "allowedTools": "allowed_tools",
    "allowed_tools": "allowed_tools",
    "mcpServers": "mcp_servers",
    "mcp_servers": "mcp_servers",
}
_KNOWN = {"name", "description", "provider", "model", "role", "tags", "worktree", "memory", *_ALIASES}
_DELIMITER = re.compile(r"[ \t]*---[ \t]*")


class ProfileError(ValueError):
    """A profile that cannot be used; `str(e)` is one line naming the file and the problem."""

    def __init__(self, message: str, source: str | None = None, problem: str | None = None):
        super().__init__(message)
        self.message = message
        self.source = source
        self.problem = problem


class NoSuchProfile(LookupError):
    def __init__(self, message: str, name: str):
        super().__init__(message)
        self.message = message
        self.name = name

    def __str__(self) -> str:  # LookupError would quote the message like a key
        return self.message


class ProfileExists(ProfileError):
    """install() would replace a different user profile of the same name."""


@dataclass
class Profile:
    name: str
    description: str
    system_prompt: str
    provider: str | None = None
    model: str | None = None
    role: str = DEFAULT_ROLE
    allowed_tools: list[str] | None = None  # None: the provider's default set
    mcp_servers: dict[str, dict[str, Any]] = field(default_factory=dict)
    tags: list[str] = field(default_factory=list)
    worktree: bool = False  # its workers run in their own git worktree (as handoff/assign's use_worktree)
    memory: bool = True  # its agents get the memories relevant to their first task (caod.memory)
    extra: dict[str, Any] = field(default_factory=dict)  # unknown front-matter fields, kept as read
    source: str = USER  # "builtin" or "user"
    path: str = ""
    text: str = field(default="", repr=False)  # the file as read, byte for byte (as str)

    def to_info(self, with_prompt: bool = False) -> ProfileInfo:
        return ProfileInfo(
            name=self.name,
            description=self.description,
            source=self.source,
            path=self.path,
            provider=self.provider,
            model=self.model,
            role=self.role,
            allowed_tools=list(self.allowed_tools) if self.allowed_tools is not None else None,
            mcp_servers=self.mcp_servers,
            tags=list(self.tags),
            worktree=self.worktree,
            memory=self.memory,
            system_prompt=self.system_prompt if with_prompt else None,
        )


# ---------------------------------------------------------------- parsing


def _show(value: Any) -> str:
    """A short, one-line rendering of a bad value for an error message."""
    text = repr(value)
    text = " ".join(text.split())
    return text if len(text) <= 60 else text[:57] + "..."


def _kind(value: Any) -> str:
    return {dict: "a mapping", list: "a list", bool: "a boolean", int: "a number", float: "a number",
            type(None): "null"}.get(type(value), type(value).__name__)


class _Invalid(Exception):
    """One problem; parse_profile adds the 'invalid profile SOURCE:' prefix."""


def _bad(name: str, problem: str) -> _Invalid:
    return _Invalid(f"field {name!r}: {problem}")


def _split(text: str) -> tuple[str, str, int]:
    """(front matter, body, line number of the front matter's first line)."""
    if text.startswith("\ufeff"):
        text = text[1:]
    lines = text.splitlines(keepends=True)
    i = 0
    while i < len(lines) and not lines[i].strip():
        i += 1
    if i == len(lines) or not _DELIMITER.fullmatch(lines[i].rstrip("\r\n")):
        raise _Invalid("no YAML front matter (the file must start with ---)")
    start = i + 1
    for j in range(start, len(lines)):
        if _DELIMITER.fullmatch(lines[j].rstrip("\r\n")):
            return "".join(lines[start:j]), "".join(lines[j + 1:]), start + 1
    raise _Invalid(f"the front matter opened on line {i + 1} is never closed (no second --- line)")


def _load_yaml(front: str, first_line: int) -> dict[str, Any]:
    try:
        data = bounded_yaml.load(front)
    except bounded_yaml.TooBig as e:
        mark = e.mark
        where = f" (line {first_line + mark.line}, column {mark.column + 1})" if mark is not None else ""
        raise _Invalid(f"{e.problem}{where}") from None
    except yaml.YAMLError as e:
        problem = getattr(e, "problem", None) or getattr(e, "context", None) or str(e)
        mark = getattr(e, "problem_mark", None) or getattr(e, "context_mark", None)
        where = f" (line {first_line + mark.line}, column {mark.column + 1})" if mark is not None else ""
        raise _Invalid(f"front matter is not valid YAML: {' '.join(str(problem).split())}{where}") from None
    if data is None:
        return {}
    if not isinstance(data, dict):
        raise _Invalid(f"the front matter must be a YAML mapping of fields, not {_kind(data)}")
    for key in data:
        if not isinstance(key, str):
            raise _Invalid(f"field names must be strings (got {_show(key)})")
    return data


def _string(data: dict, key: str, required: bool = False) -> str | None:
    value = data.get(key)
    if value is None:
        if required:
            raise _Invalid(f"missing required field {key!r}")
        return None
    if not isinstance(value, str):
        raise _bad(key, f"must be a string (got {_kind(value)} {_show(value)})")
    value = value.strip()
    if not value:
        if required:
            raise _bad(key, "must not be empty")
        return None
    return value


def _string_list(key: str, value: Any, allow_csv: bool = False) -> list[str]:
    if isinstance(value, str) and allow_csv:
        return [part.strip() for part in value.split(",") if part.strip()]
    if not isinstance(value, list):
        want = "a list of strings or a comma-separated string" if allow_csv else "a list of strings"
        raise _bad(key, f"must be {want} (got {_kind(value)} {_show(value)})")
    out = []
    for i, item in enumerate(value):
        if not isinstance(item, str) or not item.strip():
            raise _bad(key, f"item {i + 1} must be a non-empty string (got {_show(item)})")
        out.append(item.strip())
    return out


def _scalar_text(value: Any) -> str | None:
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, (str, int, float)):
        return str(value)
    return None


def _mcp_servers(key: str, value: Any) -> dict[str, dict[str, Any]]:
    """name -> {command, args, env, ...} (stdio) or {url, ...} (http). Other keys are kept."""
    if not isinstance(value, dict):
        raise _bad(key, f"must be a mapping of server name to settings (got {_kind(value)} {_show(value)})")
    servers: dict[str, dict[str, Any]] = {}
    for name, spec in value.items():
        if not isinstance(name, str) or not name.strip():
            raise _bad(key, f"server names must be non-empty strings (got {_show(name)})")
        where = f"server {name!r}"
        if not isinstance(spec, dict):
            raise _bad(key, f"{where} must be a mapping with a command or a url (got {_kind(spec)} {_show(spec)})")
        spec = {str(k): v for k, v in spec.items()}
        command, url = spec.get("command"), spec.get("url")
        if command is None and url is None:
            raise _bad(key, f"{where} needs a 'command' (or a 'url')")
        for what, text in (("command", command), ("url", url)):
            if text is not None and (not isinstance(text, str) or not text.strip()):
                raise _bad(key, f"{where}: {what!r} must be a non-empty string (got {_show(text)})")
        if "args" in spec and spec["args"] is not None:
            args = spec["args"]
            if not isinstance(args, list):
                raise _bad(key, f"{where}: 'args' must be a list (got {_kind(args)} {_show(args)})")
            converted = [_scalar_text(a) for a in args]
            if any(a is None for a in converted):
                raise _bad(key, f"{where}: 'args' must hold strings (got {_show(args)})")
            spec["args"] = converted
        if "env" in spec and spec["env"] is not None:
            env = spec["env"]
            if not isinstance(env, dict):
                raise _bad(key, f"{where}: 'env' must be a mapping (got {_kind(env)} {_show(env)})")
            out_env = {}
            for k, v in env.items():
                text = _scalar_text(v)
                if not isinstance(k, str) or text is None:
                    raise _bad(key, f"{where}: 'env' must map names to strings (got {_show(k)}: {_show(v)})")
                out_env[k] = text
            spec["env"] = out_env
        servers[name] = spec
    return servers


def _provider(data: dict) -> str | None:
    value = _string(data, "provider")
    if value is None:
        return None
    import providers  # the registry; imported late so parsing alone stays light

    known = providers.names()
    if value not in known:
        raise _bad("provider", f"unknown provider {value!r} (known: {', '.join(known)})")
    return value


def _build(data: dict[str, Any], body: str) -> Profile:
    name = _string(data, "name", required=True)
    assert name is not None
    if not NAME_RE.fullmatch(name):
        raise _bad("name", f"must be 1-64 letters, digits, '_' or '-' (got {_show(name)})")
    description = _string(data, "description", required=True)
    assert description is not None
    role_value = data.get("role")
    if role_value is None:
        role = DEFAULT_ROLE
    elif isinstance(role_value, str) and role_value.strip().lower() in ROLES:
        role = role_value.strip().lower()
    else:
        raise _bad("role", f"must be one of {', '.join(ROLES)} (got {_show(role_value)})")

    fields: dict[str, tuple[str, Any]] = {}  # attribute -> (spelling used, value)
    for spelling, attr in _ALIASES.items():
        if spelling in data:
            if attr in fields:
                raise _Invalid(f"fields {fields[attr][0]!r} and {spelling!r} mean the same; keep one")
            fields[attr] = (spelling, data[spelling])
    allowed_tools = None
    if "allowed_tools" in fields and fields["allowed_tools"][1] is not None:
        allowed_tools = _string_list(*fields["allowed_tools"])
    mcp_servers = {}
    if "mcp_servers" in fields and fields["mcp_servers"][1] is not None:
        mcp_servers = _mcp_servers(*fields["mcp_servers"])
    tags = [] if data.get("tags") is None else _string_list("tags", data["tags"], allow_csv=True)
    worktree = data.get("worktree")
    if worktree is not None and not isinstance(worktree, bool):
        raise _bad("worktree", f"must be true or false (got {_kind(worktree)} {_show(worktree)})")
    memory = data.get("memory", True)
    if not isinstance(memory, bool):
        raise _bad("memory", f"must be true or false (got {_kind(memory)} {_show(memory)})")

    prompt = body.strip()
    if not prompt:
        raise _Invalid("the body (system prompt) is empty")
    return Profile(
        name=name,
        description=description,
        system_prompt=prompt,
        provider=_provider(data),
        model=_string(data, "model"),
        role=role,
        allowed_tools=allowed_tools,
        mcp_servers=mcp_servers,
        tags=tags,
        worktree=bool(worktree),
        memory=memory,
        extra={k: v for k, v in data.items() if k not in _KNOWN},
    )


def check_size(size: int, source: str) -> None:
    """Refuse a profile of `size` bytes over MAX_PROFILE_BYTES, before it is read or parsed."""
    if size > MAX_PROFILE_BYTES:
        problem = f"it is {size} bytes; a profile may be at most {MAX_PROFILE_BYTES // 1024} KiB"
        raise ProfileError(f"invalid profile {source}: {problem}", source, problem)


def parse_profile(text: str, source: str, *, origin: str = USER, path: str = "") -> Profile:
    """Parse and validate one profile; raise ProfileError with a one-line message.

    `source` names the text in messages (a path, or "<stdin>"); `origin` and
    `path` are recorded on the Profile.
    """
    check_size(len(text.encode("utf-8", "replace")), source)
    try:
        front, body, first_line = _split(text)
        profile = _build(_load_yaml(front, first_line), body)
    except _Invalid as e:
        problem = " ".join(str(e).split())
        raise ProfileError(f"invalid profile {source}: {problem}", source, problem) from None
    profile.source = origin
    profile.path = path
    profile.text = text
    return profile
