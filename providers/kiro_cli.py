"""Kiro CLI (`kiro-cli chat`), the successor of Amazon Q Developer CLI.

Started with `--legacy-ui`: the classic line UI (`> ` before each answer,
a `[agent] N% λ >` prompt) is the one whose answer has a start marker; the
newer full-screen TUI is still recognised for status (its trust dialog,
`Kiro is working`, the `Ask a question or describe a task` placeholder).

The system prompt and MCP servers reach Kiro only through an agent file
(`~/.kiro/agents/<name>.json`), which caod writes when it isolates the
agent's HOME; without isolation `--agent caod` finds no such agent and Kiro
falls back to its default agent, with neither the prompt nor caod's bridge.
Unsure: `--trust-tools` (a Q CLI flag, not in kiro-cli 2.13's short
`chat --help`) and resuming by id (only `--resume`: the folder's last chat).
"""

from caod.status import Status
from providers.base import Answer, ConfigFile, Dialog, Pattern, Provider

# `[developer]>`, `[developer] >`, `[cao-x] 16% λ >`, `[dev] !>`, maybe typed text after it.
PROMPT = r"^\[[^\]\n]+\]\s*(?:\d+%\s*)?(?:λ\s*)?!?>"

PROVIDER = Provider(
    name="kiro_cli",
    description="Kiro CLI (kiro-cli chat, legacy line UI)",
    command=["kiro-cli", "chat", "--legacy-ui"],
    patterns=[
        # A permission question stays live until the prompt under it takes an answer.
        Pattern(Status.WAITING, r"Allow this action\?.*\[y/n/t\]:", region=3),
        Pattern(Status.WAITING, r"^\s*Yes\s+No\s+Always [Aa]llow", region=4),  # TUI permission row
        Pattern(Status.WAITING, r"esc to cancel · ↑↓ to navigate", region=1),  # TUI selection dialog
        Pattern(Status.ERROR, r"(?:Kiro|Amazon Q) is having trouble responding", region=3),
        Pattern(Status.PROCESSING, r"^[⠋⠙⠹⠸⠼⠴⠦⠧⠇⠏] ", region=1),  # legacy spinner
        Pattern(Status.PROCESSING, r"Kiro is working|Initializing\.\.\.|\d+ of \d+ mcp servers initialized", region=3),
        Pattern(Status.IDLE, PROMPT, region=1),
        Pattern(Status.IDLE, r"[Aa]sk a question,? or describe a task", region=1),  # TUI placeholder
    ],
    # The legacy UI starts an answer with `> `. The TUI marks the user's line only by its
    # colour; in text it is the line right under a rule (`────` then `  <task>`), and the
    # answer follows it up to `▸ Credits: … • Time: …`.
    answer=Answer(start=r"^> |^─{10,}\n  \S.*\n", stop=PROMPT + r"|^Allow this action\?|^▸ Credits:"),
    exit_keys="/quit\r",
    dialogs=[
        # The TUI asks once before trusting all tools (--trust-all-tools): pick "Yes, I accept".
        Dialog(regex=r"Kiro is running in trust all tools mode", keys="\x1b[B\r"),
    ],
    config_files=[
        ConfigFile(
            path=".kiro/agents/caod.json",
            content='{"name": "caod", "description": "Agent started by caod", "prompt": ${prompt_json},\n'
            ' "mcpServers": ${mcp_servers_json}, "tools": ["*"], "allowedTools": ["@caod"]}\n',
        ),
    ],
    model_args=["--model", "${model}"],
    mcp_args=["--agent", "caod"],  # the agent file carries the prompt and caod's MCP bridge
    yolo_args=["--trust-all-tools"],
    allowed_tools_args=["--trust-tools=${tools}"],
    verified="corpus",
)
