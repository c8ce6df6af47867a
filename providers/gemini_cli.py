"""Gemini CLI (`gemini`, @google/gemini-cli; driven for real at 0.61.0, see .ci/install-clis).

- MCP, the system prompt and onboarding come from files in the isolated home
  only: ~/.gemini/settings.json (mcpServers, caod's tools allowed without a
  confirmation via `tools.allowed: ["mcp_caod_*"]`, API-key auth, updater
  and usage statistics off) and ~/.gemini/GEMINI.md (the profile's prompt,
  as global context). Gemini CLI has no flag for either. Without isolation a person's
  own settings are used, and caod's bridge is not registered (the only way
  that touches no file, GEMINI_CLI_SYSTEM_SETTINGS_PATH, would displace an
  administrator's system settings, and Gemini refuses that file under a
  world-writable folder such as /tmp).
- No hooks: Gemini runs hooks with a sanitized environment, so `caoctl hook`
  would not have the agent's token.
- A pasted digit answers its approval box at once (`1` allows once, `3` declines).
"""

from caod.status import Status
from providers.base import Answer, ConfigFile, Pattern, Provider

SETTINGS = """{
  "security": {"auth": {"selectedType": "gemini-api-key"}},
  "general": {"enableAutoUpdate": false, "enableAutoUpdateNotification": false},
  "privacy": {"usageStatisticsEnabled": false},
  "telemetry": {"enabled": false},
  "tools": {"allowed": ["mcp_caod_*"]},
  "mcpServers": ${mcp_servers_json}
}
"""

PROVIDER = Provider(
    name="gemini_cli",
    description="Gemini CLI (gemini)",
    command=["gemini"],
    env={
        "GEMINI_CLI_TRUST_WORKSPACE": "true",  # the folder caod was asked to work in
        "COLORTERM": "truecolor",  # else a warning line about colours at every start
        # With CI set (as on a CI machine) it skips its interactive UI and exits at once;
        # in caod's PTY it is interactive by definition. "false" turns its CI check off.
        "CI": "false",
    },
    patterns=[
        # `Allow execution of [Shell]?` with `● 1. Allow once` in a box; the input box is gone.
        Pattern(Status.WAITING, r"Allow execution of|Apply this change\?|Do you want to proceed\?|"
                r"^│ ● 1\. ", region=12),
        # First runs caod cannot answer: the auth choice, or the API-key box (`Paste your API key
        # here`) drawn under the idle input box when no key is set (real 0.61.0).
        Pattern(Status.WAITING, r"How would you like to authenticate|Enter Gemini API Key|"
                r"Paste your API key here", region=30),
        # `⠙ Thinking... (esc to cancel, 0s)` above the input box, which stays drawn.
        Pattern(Status.PROCESSING, r"\(esc\s+to\s+cancel,\s+\d", region=10),  # Ink wraps it at any space
        # A prompt sent before its MCP servers are up waits under `Queued (press ↑ to edit):`
        # below `ℹ Waiting for MCP servers to initialize...` (or `ℹ Initializing... Prompts will
        # be queued.`) and runs once they are: still starting, the prompt taken. The bare input
        # box it draws as it takes the prompt from the queue is no answer: while nothing is drawn
        # between that notice and the footer, the turn has not shown yet (real 0.61.0).
        Pattern(Status.STARTING, r"^\s*Queued \(press ↑ to edit\):|"
                r"^ℹ (?:Waiting for MCP servers to initialize|Initializing\.\.\.)[^\n]*(?:\n  \S[^\n]*)?"
                r"\n(?:[ \t]*\n)*[ \t]+\? for shortcuts", region=30),
        # A resumed session loads with `⠋ Resuming session...` before its input box: not ready.
        Pattern(Status.STARTING, r"^[⠋⠙⠹⠸⠼⠴⠦⠧⠇⠏] Resuming session\.\.\.", region=8),
        # The input box's glyph is the approval mode: `>` by default, `*` with --yolo
        # (`YOLO Ctrl+Y` in the footer), `!` in shell mode.
        Pattern(Status.IDLE, r"^ ?[>*!]   Type your message or @path/to/file", region=6),
        # The window title says `✦  Working… (dir)` while a turn runs: work even when the screen
        # is between frames. Not its `◇  Ready` title: that is set while a resumed session is
        # still loading (`⠋ Resuming session...`) and while a dialog is up (real 0.61.0).
        Pattern(Status.PROCESSING, r"^✦ ", anchor="title"),
    ],
    # `✦ PONG-42`, continued by indented lines; then the right-aligned `? for shortcuts` and a rule.
    # Input typed while it still starts (MCP servers) waits under `Queued (press ↑ to edit):`.
    # `ℹ Waiting for MCP servers to initialize...` and other notices are not the answer.
    answer=Answer(start=r"^✦ ", stop=r"^(?:─{10,}| ?> |╭|ℹ |\s+\? for shortcuts\s*$|\s*Queued \(press)",
                  indent="  "),
    exit_keys="\x03\x03",  # Ctrl-C twice; it prints `gemini --resume <id>`
    # Enter right after the paste is taken as part of it (real 0.61.0: the turn only started
    # when the confirm timer pressed Enter again, 3 s later).
    submit_delay_ms=150,
    config_files=[
        ConfigFile(".gemini/settings.json", SETTINGS),
        ConfigFile(".gemini/GEMINI.md", "${prompt}\n"),
    ],
    model_args=["-m", "${model}"],  # a fixed model also skips the router request
    yolo_args=["--yolo"],
    session_id_args=["--session-id", "${session_id}"],
    resume_args=["--resume", "${session_id}"],
    # Resumed, it draws its input box ~0.5 s before clearing the screen for the old conversation.
    resume_wait_ms=10000,
    verified="real",
)
