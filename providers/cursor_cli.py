"""Cursor CLI (`cursor-agent`, also installed as `agent`).

Two layouts are recognised: the 2026 Ink TUI (an input row `→ Plan, search,
build anything` or `→ Add a follow-up` over a status bar; `ctrl+c to stop`
on that row while busy) and the older text UI (`❯` prompt between `─`
rules, `esc to interrupt` while busy). Only the older UI marks where an
answer starts (the `❯ <task>` line above it); in the 2026 TUI the task is
not left on screen, so a turn there completes on the busy screen seen
before it rather than on a new answer.

Flags: `--force` approves every tool call, `--model`, `--approve-mcps`.
MCP servers come from `~/.cursor/mcp.json` (written when caod isolates the
agent's HOME). Unsure, so left out: a system prompt (2026.06.15 rejects
`--system-prompt`), resuming (`--resume [chatId]`), tool allow-lists.
"""

from caod.status import Status
from providers.base import Answer, ConfigFile, Pattern, Provider

SPINNER = "⠋⠙⠹⠸⠼⠴⠦⠧⠇⠏"

PROVIDER = Provider(
    name="cursor_cli",
    description="Cursor CLI (cursor-agent)",
    command=["cursor-agent"],
    patterns=[
        Pattern(Status.WAITING, r"[Dd]o you trust the files in this folder|[Cc]onfirm folder trust|\[y/n\]:?\s*$",
                region=6),
        Pattern(Status.WAITING, r"[Dd]o you want to (?:allow|run)|↑/↓ to navigate", region=6),
        Pattern(Status.PROCESSING, r"ctrl\+c to stop|esc to interrupt", region=6),
        Pattern(Status.PROCESSING, rf"^\s*[{SPINNER}]+ \S.*(?:…|tokens)", region=6),
        # The 2026 TUI's placeholder is `→ Plan, search, build anything` until a turn has run,
        # then `→ Add a follow-up`: a finished turn, whether or not caod saw it work.
        Pattern(Status.IDLE, r"^\s*→ Add a follow-up", region=6, finished=True),
        Pattern(Status.IDLE, r"^\s*→ Plan, search, build anything", region=6),
        Pattern(Status.IDLE, r"^❯$", region=1),
    ],
    # The text UI rules the answer off above and below (`─`); they stay in the cut.
    answer=Answer(start=r"^❯ \S.*$", stop=r"^❯$|^\s*→ (?:Plan, search|Add a follow-up)"),
    exit_keys="\x04\x04",  # Ctrl-D twice (or `/exit`)
    config_files=[ConfigFile(path=".cursor/mcp.json", content='{"mcpServers": ${mcp_servers_json}}\n')],
    model_args=["--model", "${model}"],
    mcp_args=["--approve-mcps"],
    yolo_args=["--force"],
    verified="corpus",
)
