"""Agent profiles: Markdown files with YAML front matter, and where they live.

A profile names an agent's role and carries its system prompt:

    ---
    name: developer              # required: letters, digits, _ and -, 1-64 chars
    description: Writes code     # required
    provider: claude_code        # optional: one of providers.names()
    model: sonnet                # optional
    role: developer              # supervisor | developer | reviewer (default developer)
    allowedTools: [fs_read, execute_bash]
    mcpServers:
      notes: {command: notes-mcp, args: [--stdio], env: {LEVEL: debug}}
    tags: [python, tests]        # or "python, tests"
    ---
    The body is the system prompt.

The format is the one CLI Agent Orchestrator's users already write, so their
files install unchanged. Fields this module does not know are kept in
`Profile.extra` and otherwise ignored.

Built-in profiles ship in `builtin/`. User profiles live in
`<home>/profiles/<name>.md` and win over a built-in of the same name.
"""

from caod.profiles.parse import (
    BUILTIN,
    DEFAULT_ROLE,
    NAME_RE,
    ROLES,
    USER,
    NoSuchProfile,
    Profile,
    ProfileError,
    ProfileExists,
    parse_profile,
)
from caod.profiles.store import ProfileStore, builtin_names, builtins

__all__ = [
    "BUILTIN", "DEFAULT_ROLE", "NAME_RE", "ROLES", "USER", "NoSuchProfile", "Profile", "ProfileError",
    "ProfileExists", "ProfileStore", "builtin_names", "builtins", "parse_profile",
]
