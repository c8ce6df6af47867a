"""Claude Code (`claude`, @anthropic-ai/claude-code; driven for real at 2.1.197, see .ci/install-clis).

- Hooks first: `--settings` (a JSON string; it adds to, never replaces, the
  person's own settings) allows caod's MCP tools without asking and runs
  `caoctl hook` on UserPromptSubmit (processing),
  PermissionRequest (waiting; fires as the approval box opens, where the
  Notification hook's `permission_prompt` comes ~6 s later and may arrive
  after the answer) and Stop (completed). SessionEnd is not reported: the
  process exit already is.
- The isolated home gets ~/.claude.json (onboarding done, the folder trusted)
  and ~/.claude/settings.json (no bypass-mode warning). The API key's approval
  cannot be written there (it records the key's last 20 characters), so the
  "Do you want to use this API key?" dialog is answered, like the folder-trust
  and bypass-mode dialogs of a person's own set-up.
- Its select prompts ignore pasted digits: `1` pasted and Enter takes the
  preselected option (Yes); only a typed digit picks another.
- As root, `--dangerously-skip-permissions` (yolo) also needs IS_SANDBOX=1 in the environment.
"""

from caod.status import Status
from providers.base import Answer, ConfigFile, Dialog, Pattern, Provider

# Claude's status glyphs: the spinner cycles through these while busy, and
# `✻ <Verb>ed for 3s` marks a finished turn.
GLYPHS = "·✢✳✶✻✽*"

# Settings passed with --settings: caod's own MCP tools need no approval (a supervisor that
# stops at every handoff would stall its team), and the hooks (the shell command, escaped
# for inside a JSON string).
SETTINGS = (
    '{"permissions": {"allow": ["mcp__caod"]}, "hooks": {'
    '"UserPromptSubmit": [{"hooks": [{"type": "command", "command": "${hook_command_jsonstr} UserPromptSubmit"}]}], '
    '"PermissionRequest": [{"hooks": [{"type": "command", "command": "${hook_command_jsonstr} PermissionRequest"}]}], '
    '"Stop": [{"hooks": [{"type": "command", "command": "${hook_command_jsonstr} Stop"}]}]'
    '}}'
)

# Isolated home: onboarding done and this folder trusted (the key is approved by a dialog).
CLAUDE_JSON = """{
  "hasCompletedOnboarding": true,
  "autoUpdates": false,
  "projects": {${cwd_json}: {"hasTrustDialogAccepted": true, "hasCompletedProjectOnboarding": true}}
}
"""

PROVIDER = Provider(
    name="claude_code",
    description="Claude Code (claude)",
    command=["claude"],
    patterns=[
        # Not the start-up dialogs (API key, folder trust): caod answers those only while the
        # agent is still `starting`, so they must not read as a question (real 2.1.197).
        Pattern(Status.WAITING, r"Do you want to (?:proceed|make this edit|create|allow)\b|"
                r"^\s*❯ 1\. Yes\b(?!, I trust)", region=14),
        # A turn the API refused (`⎿  Not logged in · Please run /login`, `⎿  API Error: 401 ...`; a
        # no-break space after the `⎿`)
        # right above the finished turn's `✻ Baked for 0s` and the prompt (real 2.1.197).
        Pattern(Status.ERROR, r"^  ⎿\s+(?:Not logged in · Please run /login|API Error\b|Invalid API key\b)", region=7),
        # A finished turn's `✻ Crunched for 3s` with no spinner row (`…`) after it: the turn is
        # over even if an earlier frame's `esc to interrupt` is still drawn in the footer.
        Pattern(Status.IDLE, r"^✻ \S+ for \d[^\n]*(?:\n[^…\n]*)*\Z", region=10),
        Pattern(Status.PROCESSING, r"esc to interrupt", region=4),
        Pattern(Status.PROCESSING, rf"^[{GLYPHS}] \S+…", region=8),
        # (After the busy patterns: the footer stays while a turn runs.) A first run with no key and no login: the prompt is up, but every turn fails; the
        # footer says `Not logged in · Run /login`. Not a question (its prompt takes text, not a
        # choice): an error until a person logs in through `caoctl attach`.
        Pattern(Status.ERROR, r"Not logged in · Run /login", region=3),
        Pattern(Status.IDLE, r"\? for shortcuts|⏵⏵ |⏸ plan mode|^❯\s", region=4),
    ],
    answer=Answer(start=r"^● ", stop=rf"^(?:[{GLYPHS}] \S|─{{10,}}|❯)", indent="  "),
    exit_keys="\x04\x04",  # "Press Ctrl-D again to exit", then `claude --resume <id>`
    # Enter right after the paste is taken as part of it (real 2.1.197: the turn only
    # started when the confirm timer pressed Enter again, 3 s later).
    submit_delay_ms=150,
    choice_keys=True,  # its select prompt ignores a pasted "3"; a typed 3 picks "No"
    env={
        "DISABLE_AUTOUPDATER": "1",
        "DISABLE_TELEMETRY": "1",
        "CLAUDE_CODE_DISABLE_NONESSENTIAL_TRAFFIC": "1",
        "CLAUDE_CODE_DISABLE_OFFICIAL_MARKETPLACE_AUTOINSTALL": "1",
    },
    dialogs=[
        Dialog(r"Yes, I trust this folder", "1"),
        Dialog(r"Do you want to use this API key\?", "1"),  # `❯ 2. No (recommended)` is preselected
        Dialog(r"running in Bypass Permissions mode", "2"),  # `2. Yes, I accept`: yolo was asked for
    ],
    config_files=[
        ConfigFile(".claude.json", CLAUDE_JSON),
        ConfigFile(".claude/settings.json", '{"skipDangerousModePermissionPrompt": true}\n'),
    ],
    model_args=["--model", "${model}"],
    system_prompt_args=["--append-system-prompt", "${prompt}"],
    mcp_args=["--mcp-config", "${mcp_config}", "--settings", SETTINGS],  # always added: the hooks too
    yolo_args=["--dangerously-skip-permissions"],
    # As root it refuses --dangerously-skip-permissions ("cannot be used with root/sudo
    # privileges") unless told it runs in a sandbox; yolo was asked for (real 2.1.197).
    yolo_env={"IS_SANDBOX": "1"},
    allowed_tools_args=["--allowedTools", "${tools}"],
    session_id_args=["--session-id", "${session_id}"],
    resume_args=["--resume", "${session_id}"],
    hook_events={
        "UserPromptSubmit": Status.PROCESSING,
        "PermissionRequest": Status.WAITING,
        "Stop": Status.COMPLETED,
    },
    verified="real",
)
