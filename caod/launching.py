"""From provider data and a profile to a command line, an environment and files.

Everything a provider needs at launch goes through ${field} templates
(providers.base.TEMPLATE_FIELDS), so a new CLI is data, not daemon code.
"""

from __future__ import annotations

import json
import os
import sys
import uuid
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

from caod import paths
from caod.logs import log
from caod.protocol import ErrorCode
from caod.pyexec import module_args, module_argv
from caod.rpc import RpcError
from providers.base import Provider, render

if TYPE_CHECKING:
    from caod.profiles import Profile
    from caod.protocol import SpawnParams

BRIDGE_NAME = "caod"  # the MCP server name agents see (tools like caod.handoff)
# Folders no agent should be let loose in (exact), and trees it should never enter.
SYSTEM_DIRS = {"/", "/bin", "/boot", "/dev", "/etc", "/lib", "/lib32", "/lib64", "/proc", "/run", "/sbin",
               "/sys", "/usr", "/var", "/usr/bin", "/usr/lib", "/usr/sbin", "/usr/share"}
SYSTEM_TREES = ("/proc/", "/sys/", "/dev/", "/boot/", "/etc/")


@dataclass
class Launch:
    """Orchestration facts for an agent started from a profile."""

    session: str | None = None
    profile: "Profile | None" = None
    role: str | None = None
    parent: str | None = None
    model: str | None = None
    yolo: bool = False
    extra: dict[str, Any] = field(default_factory=dict)


@dataclass
class Prepared:
    args: list[str]
    env: dict[str, str]
    session_id: str | None


def working_directory(path: str | None, default: str | None = None) -> str:
    """The one rule for an agent's folder (agent.spawn, session.launch, workers): a resolved,
    existing, non-system folder, or a clear error."""
    raw = path or default
    if not raw:
        raise RpcError(ErrorCode.BAD_DIRECTORY, "no working directory given")
    resolved = os.path.realpath(os.path.expanduser(raw))
    if not os.path.isdir(resolved):
        raise RpcError(ErrorCode.BAD_DIRECTORY, f"working directory does not exist: {raw}")
    if resolved in SYSTEM_DIRS or resolved.startswith(SYSTEM_TREES):
        raise RpcError(ErrorCode.BAD_DIRECTORY, f"refusing a system folder as working directory: {resolved}")
    return resolved


def isolated(spawn: "SpawnParams") -> bool:
    return spawn.isolate_home or os.environ.get("CAOD_ISOLATE_HOME") == "1"


def prepare_launch(spec: Provider, *, home: Path, socket: Path, agent_id: str, token: str, cwd: str,
                   spawn: "SpawnParams", launch: Launch, session_id: str | None) -> Prepared:
    """The provider's launch arguments and environment; writes the agent's files."""
    folder = home / "agents" / agent_id
    paths.make_private_dirs(folder)
    env = dict(os.environ)
    agent_home = str(folder / "home") if isolated(spawn) else env.get("HOME", str(Path.home()))
    python = sys.executable
    bridge_env = {"CAO_AGENT_ID": agent_id, "CAO_AGENT_TOKEN": token, "CAOD_SOCKET": str(socket)}
    profile = launch.profile
    servers: dict[str, Any] = dict(profile.mcp_servers) if profile else {}
    servers[BRIDGE_NAME] = {"command": python, "args": module_args("caoctl", "mcp"), "env": bridge_env}
    values = {
        "home": agent_home,
        "agent_dir": str(folder),
        "cwd": cwd,
        "agent_id": agent_id,
        "socket": str(socket),
        "python": python,
        "model": launch.model or (profile.model if profile else None) or "",
        "prompt": profile.system_prompt if profile else "",
        "prompt_file": "",
        "mcp_config": str(folder / "mcp.json"),
        "mcp_servers_json": json.dumps(servers),
        "bridge_command": python,
        "bridge_args_json": json.dumps(module_args("caoctl", "mcp")),
        "bridge_env_json": json.dumps(bridge_env),
        "hook_command": _shell_join(module_argv("caoctl", "hook")),
        "hook_argv_json": json.dumps(module_argv("caoctl", "hook")),
        "session_id": session_id or (str(uuid.uuid4()) if spec.session_id_args else ""),
        "tools": ",".join(profile.allowed_tools) if profile and profile.allowed_tools else "",
    }
    values["mcp_entries"] = ", ".join(_mcp_entries(spec, servers, values))
    if values["prompt"]:
        prompt_file = folder / "system_prompt.md"
        _write_private(prompt_file, values["prompt"])
        values["prompt_file"] = str(prompt_file)
    _write_private(folder / "mcp.json", json.dumps({"mcpServers": servers}, indent=2))  # holds the token
    if isolated(spawn):
        os.makedirs(agent_home, mode=0o700, exist_ok=True)
        env["HOME"] = agent_home
    for cf in spec.config_files:
        target = Path(render(cf.path, values))
        if not target.is_absolute():
            if not isolated(spawn):
                continue  # a person's own home: never touched
            target = Path(agent_home) / target
        elif not target.resolve().is_relative_to(folder.resolve()):
            raise ValueError(f"config file outside the agent's folders: {cf.path}")
        paths.make_private_dirs(target.parent)
        _write_private(target, render(cf.content, values))
    env.update({k: render(v, values) for k, v in spec.env.items()})
    if launch.yolo:
        env.update({k: render(v, values) for k, v in spec.yolo_env.items()})
    env.update(spawn.env)
    env.update({
        "TERM": env.get("CAOD_AGENT_TERM", "xterm-256color"),
        "CAO_AGENT_ID": agent_id,
        "CAO_AGENT_TOKEN": token,
        "CAOD_SOCKET": str(socket),
    })
    args: list[str] = []
    if values["model"]:
        args += [render(a, values) for a in spec.model_args]
    if values["prompt"]:
        args += [render(a, values) for a in spec.system_prompt_args]
    args += [render(a, values) for a in spec.mcp_args]
    if launch.yolo:
        args += [render(a, values) for a in spec.yolo_args]
    if profile is not None and profile.allowed_tools is not None:
        args += [render(a, values) for a in spec.allowed_tools_args]
        for tool in profile.allowed_tools:
            args += [render(a, {**values, "tool": tool}) for a in spec.allowed_tool_args]
    if session_id and spec.resume_args:
        args += [render(a, values) for a in spec.resume_args]
    elif values["session_id"]:
        args += [render(a, values) for a in spec.session_id_args]
    return Prepared(args, env, values["session_id"] or None)


def _mcp_entries(spec: Provider, servers: dict[str, Any], values: dict[str, str]) -> list[str]:
    """Each stdio server rendered through the provider's `mcp_entry` (servers given by URL
    have no common shape and are left to CLIs that read {"mcpServers": ...})."""
    if not spec.mcp_entry:
        return []
    entries = []
    for name, server in servers.items():
        command = server.get("command")
        if not isinstance(command, str) or not command:
            log.warning("MCP server left out: this CLI takes only command servers", server=name, provider=spec.name)
            continue
        args = [str(a) for a in server.get("args") or []]
        env = {str(k): str(v) for k, v in (server.get("env") or {}).items()}
        entries.append(render(spec.mcp_entry, {
            **values, "server_name": name, "server_command": command, "server_args_json": json.dumps(args),
            "server_argv_json": json.dumps([command, *args]), "server_env_json": json.dumps(env)}))
    return entries


def _write_private(path: Path, text: str) -> None:
    with os.fdopen(paths.open_private(path, os.O_WRONLY | os.O_TRUNC), "w") as fh:
        fh.write(text)


def _shell_join(argv: list[str]) -> str:
    import shlex

    return shlex.join(argv)
