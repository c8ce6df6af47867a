"""Antigravity CLI (`agy`, Google).

Full-screen TUI: an input box (`>` between `─` rules) over a footer that
reads `? for shortcuts` when ready and `esc to cancel` while busy (with a
braille spinner row such as `⣻  Generating...`). The answer follows the
task line (`> <task>`), or the last thought (`▸ Thought for …`) or tool
(`● Read(…)`) line after it, indented two columns, up to the input box.

Flags: `--dangerously-skip-permissions`, `--model "<name>"`,
`-i TEXT` (a first message, then interactive: the system prompt goes in
that way, so the agent answers it once before it is ready). MCP servers
are read only from `~/.gemini/config/mcp_config.json`, written when caod
isolates the agent's HOME. Unsure, so left out: resuming, tool lists.
"""

from caod.status import Status
from providers.base import Answer, ConfigFile, Pattern, Provider

PROVIDER = Provider(
    name="antigravity_cli",
    description="Antigravity CLI (agy)",
    command=["agy"],
    patterns=[
        Pattern(Status.WAITING, r"↑/↓\s*(?:to )?[Nn]avigate|Allow once|Do you want to (?:allow|run|proceed)",
                region=8),
        Pattern(Status.PROCESSING, r"esc to cancel", region=1),
        Pattern(Status.IDLE, r"^\? for shortcuts", region=1),
    ],
    # The answer follows the task (`> ...`), a tool line (`● Read(...)`), or a collapsed thought:
    # `▸ Thought for 2s, 608 tokens` and its one-line title (`  Prioritizing Tool Usage`).
    answer=Answer(start=r"^(?:> \S|● ).*\n|^▸ Thought\b.*\n  .*\n", stop=r"^─{20,}$", indent="  "),
    exit_keys="/quit\r",
    config_files=[
        ConfigFile(path=".gemini/config/mcp_config.json", content='{"mcpServers": ${mcp_servers_json}}\n'),
    ],
    model_args=["--model", "${model}"],
    system_prompt_args=["-i", "${prompt}\n\nKeep these instructions for the whole session. Reply only: ready."],
    yolo_args=["--dangerously-skip-permissions"],
    verified="corpus",
)
