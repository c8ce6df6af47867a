"""GitHub Copilot CLI (`copilot`).

No captured screens exist for it here (verified="none"); the patterns follow
its known wording: a `❯` prompt with `Type @ to mention files`, `esc to
cancel` while busy, `● ` before each answer block, and the start-up folder
trust dialog (`Do you trust the files in this folder?`, option 1 preselected).

Flags: `--allow-all-tools`, `--model`, `--allow-tool TOOL` (once per tool),
`--agent NAME` (a custom agent file in `~/.copilot/agents/`, written when caod
isolates the agent's HOME; it carries the system prompt). Unsure:
`--additional-mcp-config` taking `@FILE` (it surely takes inline JSON, which
would put caod's token on the command line), the agent file's front matter,
resuming by id.
"""

from caod.status import Status
from providers.base import Answer, ConfigFile, Dialog, Pattern, Provider

AGENT_FILE = """---
name: caod
description: Agent started by caod
---
${prompt}
"""

PROVIDER = Provider(
    name="copilot_cli",
    description="GitHub Copilot CLI (copilot)",
    command=["copilot"],
    patterns=[
        Pattern(Status.WAITING, r"[Dd]o you trust (?:the files in this folder|the contents of this directory|"
                r"all the actions in this folder)|[Cc]onfirm folder trust", region=12),
        Pattern(Status.WAITING, r"^\s*❯ 1\. Yes\b|\[y/n\]\s*$", region=8),
        Pattern(Status.PROCESSING, r"esc to cancel", region=6),
        Pattern(Status.IDLE, r"Type @ to mention files|^\s*❯$", region=6),
    ],
    answer=Answer(start=r"^● ", stop=r"^\s*❯|^─{10,}", indent="  "),
    exit_keys="\x03\x03",
    dialogs=[Dialog(regex=r"[Dd]o you trust the files in this folder\?", keys="\r")],  # 1. Yes is preselected
    config_files=[ConfigFile(path=".copilot/agents/caod.agent.md", content=AGENT_FILE)],
    model_args=["--model", "${model}"],
    system_prompt_args=["--agent", "caod"],
    mcp_args=["--additional-mcp-config", "@${mcp_config}"],
    yolo_args=["--allow-all-tools"],
    allowed_tool_args=["--allow-tool", "${tool}"],
    verified="none",
)
