"""Amazon Q Developer CLI (`q chat`), Kiro CLI's predecessor: the same line UI.

No captured screens exist for it here (verified="none"); its screen is the
one Kiro's `--legacy-ui` keeps: `> ` before each answer, a `[agent] >`
prompt, `Allow this action? ... [y/n/t]:` for permissions. The system prompt
and MCP servers reach it only through an agent file
(`~/.aws/amazonq/cli-agents/<name>.json`), written when caod isolates the
agent's HOME. Unsure: whether the agent-file location holds for every
release, and resuming by id (only `--resume`, the last chat in the folder).
"""

from caod.status import Status
from providers.base import Answer, ConfigFile, Pattern, Provider

PROMPT = r"^\[[^\]\n]+\]\s*(?:\d+%\s*)?(?:λ\s*)?!?>"

PROVIDER = Provider(
    name="q_cli",
    description="Amazon Q Developer CLI (q chat)",
    command=["q", "chat"],
    patterns=[
        Pattern(Status.WAITING, r"Allow this action\?.*\[y/n/t\]:", region=3),
        Pattern(Status.ERROR, r"Amazon Q is having trouble responding", region=3),
        Pattern(Status.PROCESSING, r"^[⠋⠙⠹⠸⠼⠴⠦⠧⠇⠏] ", region=1),
        Pattern(Status.IDLE, PROMPT, region=1),
    ],
    answer=Answer(start=r"^> ", stop=PROMPT + r"|^Allow this action\?"),
    exit_keys="/quit\r",
    config_files=[
        ConfigFile(
            path=".aws/amazonq/cli-agents/caod.json",
            content='{"name": "caod", "description": "Agent started by caod", "prompt": ${prompt_json},\n'
            ' "mcpServers": ${mcp_servers_json}, "tools": ["*"], "allowedTools": ["@caod"]}\n',
        ),
    ],
    model_args=["--model", "${model}"],
    mcp_args=["--agent", "caod"],
    yolo_args=["--trust-all-tools"],
    allowed_tools_args=["--trust-tools=${tools}"],
    verified="none",
)
