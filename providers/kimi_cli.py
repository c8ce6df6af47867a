"""Kimi Code CLI (`kimi`, MoonshotAI/kimi-cli).

Two layouts are recognised: the current TUI (a `── input ──` box over a
status bar ending in `context: N%`, a braille spinner such as
`⠧ Thinking... 2s · 114 tokens` while busy) and the older line UI (a `💫`
prompt). The answer is everything after the task line (`✨ <task>`, or
`💫 <task>`): the thinking shows as a `• ` bullet just like the reply (only
its grey italics set it apart), so it is part of the cut.

Flags (kimi-cli's own option list): `--yolo`, `--model`, `--agent-file`
(a YAML agent spec; its `system_prompt_path` points at caod's prompt file),
`--mcp-config-file` (the `{"mcpServers": ...}` file), `--session ID` (an
unknown id starts a new session under that id, a known one resumes it).
The agent spec is one of caod's config files, so the system prompt needs
an isolated HOME. Kimi 1.20+ runs one instance per working directory.
"""

from caod.status import Status
from providers.base import Answer, ConfigFile, Pattern, Provider

SPINNER = "⠋⠙⠹⠸⠼⠴⠦⠧⠇⠏"
STARTUP = "Loading |Preparing |Restoring |Starting |Connecting "

PROVIDER = Provider(
    name="kimi_cli",
    description="Kimi Code CLI (kimi)",
    command=["kimi"],
    patterns=[
        # Unsure: no approval screen was captured (agents run with --yolo); a choice list's hint is.
        Pattern(Status.WAITING, r"↑↓ navigate|↑/↓ to navigate", region=3),
        Pattern(Status.ERROR, r"^Error: ", region=1),
        # The spinner line sits over a fixed live area (thinking preview, input box, status bar).
        # Start-up spinners (`Loading agent...`, `Restoring conversation...`) are not a turn:
        # starting -> processing -> idle would read as a finished turn.
        Pattern(Status.PROCESSING, rf"^[{SPINNER}] (?!{STARTUP})\S", region=20),
        Pattern(Status.PROCESSING, r"^[🌑🌒🌓🌔🌕🌖🌗🌘]$", region=6),  # the line UI's thinking moon
        Pattern(Status.PROCESSING, r"^• ", region=1),  # the line UI streaming, no prompt under it
        Pattern(Status.IDLE, r"context: \d+(?:\.\d+)?%", region=1),  # the TUI status bar
        Pattern(Status.IDLE, r"💫$", region=6),  # the line UI's empty prompt
    ],
    # From the task line (`✨ <task>`, or `💫 <task>` in the line UI) to the input box or prompt.
    answer=Answer(start=r"^(?:✨|\S*💫) \S.*$", stop=r"^── input|^\S*💫$|^\d\d:\d\d  |^─{20,}$"),
    exit_keys="\x04",
    config_files=[
        ConfigFile(
            path=".kimi/caod-agent.yaml",
            content="version: 1\nagent:\n  extend: default\n  system_prompt_path: ${prompt_file_json}\n",
        ),
    ],
    model_args=["--model", "${model}"],
    system_prompt_args=["--agent-file", "${home}/.kimi/caod-agent.yaml"],
    mcp_args=["--mcp-config-file", "${mcp_config}"],
    yolo_args=["--yolo"],
    session_id_args=["--session", "${session_id}"],
    resume_args=["--session", "${session_id}"],
    verified="corpus",
)
