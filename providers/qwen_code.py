"""Qwen Code (`qwen`, @qwen-code/qwen-code; driven for real at 0.15.10, see .ci/install-clis).

- Flags carry MCP (`--mcp-config`, caod's file), the system prompt
  (`--append-system-prompt`) and the session id, isolated or not.
- The isolated home's ~/.qwen/settings.json turns the self-updater off (else it
  runs `npm install --global`), usage statistics, telemetry and managed memory
  too, and picks OpenAI-compatible auth (OPENAI_BASE_URL/OPENAI_API_KEY/OPENAI_MODEL).
  Without isolation the person's own settings decide.
- MCP tools are "deferred": named in the system prompt behind a `tool_search`
  tool, not declared with the other tools.
- A pasted digit answers its approval box at once (`1` allows once, `4` declines).
"""

from caod.status import Status
from providers.base import Answer, ConfigFile, Pattern, Provider

SETTINGS = """{
  "general": {"enableAutoUpdate": false},
  "privacy": {"usageStatisticsEnabled": false},
  "telemetry": {"enabled": false},
  "memory": {"enableManagedAutoMemory": false},
  "security": {"auth": {"selectedType": "openai"}}
}
"""

PROVIDER = Provider(
    name="qwen_code",
    description="Qwen Code (qwen)",
    command=["qwen"],
    patterns=[
        # `Allow execution of: 'touch'?` / `› 1. Yes, allow once` in a box, then
        # `⠏ Waiting for user confirmation...`; the input box is gone.
        Pattern(Status.WAITING, r"Allow execution of|Waiting for user confirmation|^\s*│ › 1\. Yes", region=8),
        # A first run with no usable key: `Select Authentication Method` over `Failed to login.
        # Message: Missing API key ...` in a tall box; caod cannot answer it (real 0.15.10).
        Pattern(Status.WAITING, r"Select Authentication Method|Failed to login\. ", region=40),
        # `⠋ Some phrase... (1s · esc to cancel)` above the input box, which stays drawn. The
        # phrase is picked at random and Ink wraps the line at any space on a narrow screen.
        Pattern(Status.PROCESSING, r"esc\s+to\s+cancel\)", region=8),
        # `✕ [API Error: Connection error. (cause: fetch failed)] (Press Ctrl+Y to retry)` right
        # above the input box.
        Pattern(Status.ERROR, r"^\s*✕ \[API Error.*\n(?:[ \t]*\n)*─{10,}\n>   ", region=8),
        # It draws its input box before it is ready: `⠋ Initializing...`, then `⠇ Connecting to
        # MCP servers... (0/1)` in place of the footer (seconds when many agents start at once).
        # Input typed around then waits (`Press ↑ to edit queued messages`) and runs later: still
        # starting, and the bare box it draws as it takes the input from the queue is no answer.
        Pattern(Status.STARTING, r"^  [⠋⠙⠹⠸⠼⠴⠦⠧⠇⠏] (?:Initializing\.\.\.|Connecting to MCP servers\.\.\.)",
                region=2),
        Pattern(Status.STARTING, r"^  Press ↑ to edit queued messages", region=8),
        # The input box's glyph is the approval mode: `>` by default, `*` with --yolo, `!` in
        # shell mode; the footer names the mode (`YOLO mode (shift + tab to cycle)`).
        Pattern(Status.IDLE, r"^[>*!]   Type your message or @path/to/file|^  \? for shortcuts|"
                r"^  (?:YOLO mode|auto-accept edits|plan mode) \(shift \+ tab to cycle\)", region=4),
    ],
    # `  ✦ PONG-42`, continued by indented lines, up to the input box's rule.
    answer=Answer(start=r"^  ✦ ", stop=r"^(?:─{10,}|  > |  ╭|>   )", indent="    "),
    exit_keys="\x04\x04",  # Ctrl-D twice; it prints `qwen --resume <id>`
    # Enter right after the paste is taken as part of it (real 0.15.10: the turn only started
    # when the confirm timer pressed Enter again, 3 s later).
    submit_delay_ms=150,
    config_files=[ConfigFile(".qwen/settings.json", SETTINGS)],
    model_args=["-m", "${model}"],
    system_prompt_args=["--append-system-prompt", "${prompt}"],
    mcp_args=["--mcp-config", "${mcp_config}"],
    yolo_args=["--yolo"],
    allowed_tool_args=["--allowed-tools", "${tool}"],  # run without asking (Qwen's own tool names)
    session_id_args=["--session-id", "${session_id}"],
    resume_args=["--resume", "${session_id}"],
    # Resumed, it draws its input box ~1.5 s before the old conversation, and drops text typed then.
    resume_wait_ms=10000,
    verified="real",
)
