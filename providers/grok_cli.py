"""Grok Build CLI (`grok`, xAI), run inline with `--no-alt-screen`.

The composer box (`│ ❯ │`) stays on screen while a turn runs, so the busy
markers (`Esc:cancel` in the footer, `[stop]` on the spinner row) are tried
first. A turn ends with `Worked for 4.9s`; the answer sits between the
`◆ Thought for …` line (or, without one, the `❯ <task>` line) and that.

Flags: `--always-approve`, `--model`, `--rules TEXT` (extra instructions,
used for the system prompt). MCP servers are read from `$GROK_HOME/config.toml`
(default `~/.grok`), written when caod isolates the agent's HOME; the bridge
entry carries no `env` table (TOML cannot be built from caod's JSON values),
so it relies on grok passing its own environment on. Grok's start-up folder
trust dialog is left for a person: trusting runs repository-defined code.
Unsure, so left out: resuming a session, and tool allow-lists (grok has
`--deny TOOL`, a deny-list).
"""

from caod.status import Status
from providers.base import Answer, ConfigFile, Pattern, Provider

PROVIDER = Provider(
    name="grok_cli",
    description="Grok Build CLI (grok)",
    command=["grok", "--no-alt-screen"],
    patterns=[
        Pattern(Status.WAITING, r"\d+/\d+:select|Tab:next option", region=2),  # approval picker footer
        Pattern(Status.WAITING, r"Approve in your browser to finish signing in|^\s*Waiting for approval\.\.\.",
                region=10),
        Pattern(Status.WAITING, r"Do you trust the contents of this directory\?", region=12),
        Pattern(Status.ERROR, r"^error: ", region=4),  # argument errors; grok has exited or is about to
        Pattern(Status.PROCESSING, r"Esc:cancel|\[stop\]$", region=6),
        Pattern(Status.IDLE, r"│ ❯\s*│|Ctrl\+x:shortcuts", region=5),
    ],
    answer=Answer(start=r"^\s*(?:◆ Thought\b|❯ \S).*$", stop=r"^\s*Worked for \d", indent="     "),
    submit_delay_ms=400,
    exit_keys="/quit\r",
    config_files=[
        ConfigFile(
            path=".grok/config.toml",
            content="[mcp_servers.caod]\ncommand = ${bridge_command_json}\nargs = ${bridge_args_json}\n",
        ),
    ],
    model_args=["--model", "${model}"],
    system_prompt_args=["--rules", "${prompt}"],
    yolo_args=["--always-approve"],
    verified="corpus",
)
