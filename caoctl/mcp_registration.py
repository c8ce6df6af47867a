"""Registering caod's ops server in a CLI's own MCP configuration: where each CLI keeps
it and in which shape (facts of each CLI's documented config format), as a snippet to
print or an entry merged into the file (after a backup)."""

from __future__ import annotations

import json
import os
import re
import shutil
import time
from dataclasses import dataclass
from pathlib import Path

NAME = "caod-ops"


@dataclass(frozen=True)
class Target:
    cli: str
    file: str  # relative to the home folder
    kind: str  # json-mcpServers | json-opencode | toml-codex

    def path(self, home: Path) -> Path:
        return home / self.file


TARGETS = {
    "claude_code": Target("claude_code", ".claude.json", "json-mcpServers"),
    "codex": Target("codex", ".codex/config.toml", "toml-codex"),
    "gemini_cli": Target("gemini_cli", ".gemini/settings.json", "json-mcpServers"),
    "qwen_code": Target("qwen_code", ".qwen/settings.json", "json-mcpServers"),
    "opencode": Target("opencode", ".config/opencode/opencode.json", "json-opencode"),
}


class RegistrationError(Exception):
    """One line: the file and what is wrong with it."""


def entry(target: Target, argv: list[str], env: dict[str, str]) -> dict:
    if target.kind == "json-opencode":
        out: dict = {"type": "local", "command": argv, "enabled": True}
        if env:
            out["environment"] = env
        return out
    out = {"command": argv[0], "args": argv[1:]}
    if target.cli == "claude_code":
        out = {"type": "stdio", **out}
    if env:
        out["env"] = env
    return out


def snippet(target: Target, argv: list[str], env: dict[str, str]) -> str:
    """What to add to the CLI's file, as that file writes it."""
    if target.kind == "toml-codex":
        return _toml_section(argv, env)
    key = "mcp" if target.kind == "json-opencode" else "mcpServers"
    return json.dumps({key: {NAME: entry(target, argv, env)}}, indent=2)


def write(target: Target, home: Path, argv: list[str], env: dict[str, str]) -> tuple[Path, Path | None]:
    """Merge the entry into the CLI's file; (the file, its backup or None if it was new)."""
    path = target.path(home)
    old = path.read_text(encoding="utf-8") if path.exists() else None
    if target.kind == "toml-codex":
        new = _with_toml_section(old or "", argv, env)
    else:
        try:
            data = json.loads(old) if old and old.strip() else {}
        except ValueError as e:
            raise RegistrationError(f"{path} is not valid JSON ({e}); nothing was changed") from None
        if not isinstance(data, dict):
            raise RegistrationError(f"{path} does not hold a JSON object; nothing was changed")
        key = "mcp" if target.kind == "json-opencode" else "mcpServers"
        servers = data.setdefault(key, {})
        if not isinstance(servers, dict):
            raise RegistrationError(f"{path}: {key!r} is not an object; nothing was changed")
        servers[NAME] = entry(target, argv, env)
        new = json.dumps(data, indent=2) + "\n"
    backup = None
    if old is not None:
        backup = path.with_name(f"{path.name}.bak-{time.strftime('%Y%m%d-%H%M%S')}")
        shutil.copy2(path, backup)
    else:
        path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(path.name + ".caod-tmp")
    tmp.write_text(new, encoding="utf-8")
    if old is not None:
        os.chmod(tmp, path.stat().st_mode & 0o777)
    else:
        os.chmod(tmp, 0o600)
    os.replace(tmp, path)
    return path, backup


def _toml_string(text: str) -> str:
    return json.dumps(text)  # a JSON string is a valid TOML basic string


def _toml_section(argv: list[str], env: dict[str, str]) -> str:
    lines = [f"[mcp_servers.{NAME}]", f"command = {_toml_string(argv[0])}",
             f"args = [{', '.join(_toml_string(a) for a in argv[1:])}]"]
    if env:
        lines.append("env = { " + ", ".join(f"{k} = {_toml_string(v)}" for k, v in env.items()) + " }")
    return "\n".join(lines) + "\n"


_SECTION = re.compile(rf"^\[mcp_servers\.(?:{re.escape(NAME)}|\"{re.escape(NAME)}\")\]\s*$", re.M)


def _with_toml_section(text: str, argv: list[str], env: dict[str, str]) -> str:
    """The file with our section replaced (up to the next table header) or appended."""
    section = _toml_section(argv, env)
    m = _SECTION.search(text)
    if m is None:
        return text + ("" if not text or text.endswith("\n\n") else "\n" if text.endswith("\n") else "\n\n") + section
    rest = text[m.end():]
    nxt = re.search(r"^\[", rest, re.M)
    tail = rest[nxt.start():] if nxt else ""
    return text[:m.start()] + section + ("\n" + tail if tail else "")
