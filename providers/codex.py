"""Codex CLI (`codex`, @openai/codex; driven for real at 0.169.0, see .ci/install-clis).

- `--no-daemon`, or a background app-server outlives the TUI; the update check
  is off on the command line, so it holds for a person's own set-up too.
- Hooks first: `notify` runs `caoctl hook notify <JSON>`; its "type"
  `agent-turn-complete` is a finished turn. It lands ~0.2 s after the screen
  shows the turn over, so a task typed at once can be "completed" by the
  previous turn's notify (seen: 3 of 6 back-to-back turns). With OpenAI's
  own provider Codex also notifies when its side turn (the session title)
  ends, early in the real turn, while the screen shows work.
- MCP: `-c mcp_servers.caod.*` flags; the bridge's identity comes through
  `env_vars` (CAO_AGENT_ID, CAO_AGENT_TOKEN and CAOD_SOCKET are in the agent's
  environment). Servers a profile adds are not passed (no flag takes a list).
- The system prompt is `developer_instructions`. No allow-list flag, and no
  way to pin a fresh session id, so no resume (`codex resume <id>` needs the
  id Codex prints at exit).
- The isolated home gets ~/.codex/config.toml (this folder trusted, update check
  and analytics off). It is not signed in: use a model provider that needs no
  OpenAI sign-in (`-c model_provider=...`, as the e2e tests do) or sign in
  through `caoctl attach`. OPENAI_BASE_URL is not read by 0.169 (it is the
  `openai_base_url` setting, ignored in project config).
- Its select prompts ignore pasted digits: `1` pasted and Enter takes the
  preselected option (Yes); only a typed digit or letter picks another.
"""

from caod.status import Status
from providers.base import Answer, ConfigFile, Dialog, Pattern, Provider

CONFIG = """check_for_update_on_startup = false

[analytics]
enabled = false

[projects.${cwd_json}]
trust_level = "trusted"
"""

PROVIDER = Provider(
    name="codex",
    description="OpenAI Codex CLI (codex)",
    command=["codex", "--no-daemon", "-c", "check_for_update_on_startup=false"],
    patterns=[
        # Approvals end with this footer, however long the preview above them. The sign-in
        # screens of a first run (`Sign in with ChatGPT` ... `Press enter to continue`) end with
        # it too: a question caod cannot answer (see dialogs below), so the agent waits for one.
        Pattern(Status.WAITING, r"Press enter to confirm or esc to cancel|Press enter to continue$", region=4),
        Pattern(Status.WAITING, r"\[a\] Accept\s+\[d\] Decline", region=2),  # boxed approval
        Pattern(Status.WAITING, r"\[y/n\]\s*$", region=1),
        Pattern(Status.ERROR, r"^Error: ", region=2),
        # Its MCP servers start after the composer is drawn (`◦ Starting MCP servers (1/2): caod
        # (0s • esc to interrupt)`), and input typed meanwhile waits under `• Queued follow-up
        # inputs`: not ready yet, and queued input is taken, not worked on (real 0.169.0).
        Pattern(Status.STARTING, r"^[•◦] Starting MCP servers \(|^• Queued follow-up inputs", region=12),
        Pattern(Status.PROCESSING, r"esc to interrupt", region=8),
        # While the answer streams, 0.169 draws no spinner: `• PONG-4` and its indented lines
        # sit right above the composer (`› ...`) until the turn closes with `  Worked for 2s`.
        # So a `• ` cell that reaches the composer (the last `› ` line; earlier ones are the
        # person's messages) without that line is work (real 0.169.0). Not `• Queued follow-up
        # inputs`: input typed while MCP servers start waits there, and the screen then goes
        # back to a bare prompt before `Starting MCP servers` shows.
        Pattern(Status.PROCESSING, r"^• (?!Queued ).*\n(?:  (?!Worked for)[^\n]*\S[^\n]*\n|[ \t]*\n)*› (?![\s\S]*^› )",
                region=40),
        # While a turn runs, the window title carries a spinner (`⠙ <folder>`); it is the folder
        # alone at a prompt. A finished answer cell leaves the screen for a frame while Codex
        # moves it into the history above the composer (seen after a resize): the title still
        # says work (real 0.169.0).
        Pattern(Status.PROCESSING, r"^[⠋⠙⠹⠸⠼⠴⠦⠧⠇⠏] ", anchor="title"),
        # Ready only once the footer names the model (`fake-model default · /path`) or the
        # context left: keys typed at the earlier `› Ask Codex to do anything` are lost.
        Pattern(Status.IDLE, r"context left|Context \d+% left|^\s*\S+ (?:default|minimal|low|medium|high|xhigh) · ",
                region=3),
        Pattern(Status.IDLE, r"^❯(?: .*)?$|^›$", region=1),  # a bare prompt as the last line
    ],
    answer=Answer(start=r"^(?:• (?!(?:Ran|Running|Edited|Explored|Read|Called|Searched|Updated Plan|Working|"
                        r"Queued)\b)|assistant: )",
                  # `Worked for <1s` too; `  └ Tip: ...` may follow the answer (real 0.169)
                  stop=r"^[›❯](?: |$)|Worked for [<\d]|^■ |^  └ Tip", indent="  "),
    # Right after the input it can draw, for one quiet frame, a bare composer between its busy
    # cells (real 0.169.0 under load: `completed` 0.5 s into a turn, answer None). A turn that
    # looks done with no new answer drawn waits this long; the answer drawn, or its own
    # agent-turn-complete hook, ends the wait at once.
    answer_wait_ms=3000,
    choice_keys=True,  # its select prompt ignores a pasted digit; a typed one picks the option
    exit_keys="\x03\x03",  # one Ctrl-C at an empty prompt exits (it prints `codex resume <id>`)
    # Not the sign-in screens: answered under caod, the key arrives while Codex still waits for
    # replies to its terminal queries, is lost, and Codex exits with "timed out discarding
    # buffered terminal input" (real 0.169.0; in tmux, which answers the queries, `3`, `1`,
    # Enter sign in with OPENAI_API_KEY). The folder-trust dialog (a git repository not yet
    # trusted; seen in tmux, not under caod) takes Enter: `› 1. Trust and continue` is preselected.
    dialogs=[Dialog(r"Trust this folder\?", "\r")],
    config_files=[ConfigFile(".codex/config.toml", CONFIG)],
    model_args=["-m", "${model}"],
    system_prompt_args=["-c", "developer_instructions=${prompt_json}"],  # a JSON string is a TOML string
    mcp_args=[  # always added: the notify hook too
        "-c", "mcp_servers.caod.command=${bridge_command_json}",
        "-c", "mcp_servers.caod.args=${bridge_args_json}",
        "-c", 'mcp_servers.caod.env_vars=["CAO_AGENT_ID", "CAO_AGENT_TOKEN", "CAOD_SOCKET"]',
        "-c", "mcp_servers.caod.tool_timeout_sec=3600",  # a handoff waits for the worker
        "-c", 'notify=[${python_json}, "-P", "-m", "caoctl", "hook", "notify"]',
    ],
    yolo_args=["--dangerously-bypass-approvals-and-sandbox"],
    hook_events={"agent-turn-complete": Status.COMPLETED},
    verified="real",
)
