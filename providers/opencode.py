"""OpenCode (`opencode`, opencode-ai; driven for real at 1.18.33, see .ci/install-clis).

- Everything caod adds goes through OPENCODE_CONFIG_CONTENT (inline config,
  merged over the person's own, isolated or not): caod's MCP bridge and the
  profile's command servers under "mcp", the profile's prompt as an
  "instructions" file, the updater and sharing off.
- No hooks (only JavaScript plugins), no allow-list flag, and no way to pin a
  fresh session id (`-s` continues an existing `ses_...`), so no resume.
- Its permission box (`Allow once   Allow always   Reject`) has no numbers and
  ignores pasted text: `1` pasted and Enter takes the selected `Allow once`;
  arrows move the choice.
"""

from caod.status import Status
from providers.base import Answer, Pattern, Provider, Sidebar

# Inline config. An empty prompt_file gives `"instructions": [""]`, which 1.18.33 ignores.
CONFIG = (
    '{"autoupdate": false, "share": "disabled", "instructions": [${prompt_file_json}], '
    '"mcp": {${mcp_entries}}}'
)
MCP_ENTRY = ('${server_name_json}: {"type": "local", "command": ${server_argv_json}, '
             '"environment": ${server_env_json}, "enabled": true}')

PROVIDER = Provider(
    name="opencode",
    description="OpenCode (opencode)",
    command=["opencode"],
    patterns=[
        Pattern(Status.WAITING, r"△ Permission required|Allow once\s+Allow always\s+Reject", region=12),
        # The model's API cannot be reached (no network, no provider set up): `⬝■■■■■■⬝ Cannot
        # connect to API: Unable to connect. ... [retrying in 16s` in the footer (real 1.18.33).
        Pattern(Status.ERROR, r"Cannot connect to API:", region=3),
        # Busy: the progress bar (`■■⬝⬝⬝⬝⬝⬝`) with `esc interrupt` after it, or a notice in its place.
        Pattern(Status.PROCESSING, r"esc interrupt|^\s*[■⬝]{8} ", region=3),
        # Just after Enter the task's box (`┃  say pong` / `┃`) sits right above the empty input
        # box for ~0.2 s before the spinner: taken, not answered (real 1.18.33).
        Pattern(Status.PROCESSING, r"^\s*┃  \S.*\n\s*┃(?: {10,}.*)?\n(?:[ \t]*\n)*(?:\s*┃(?: {10,}.*)?\n){3}\s*┃  \S.* · .*\n"
                r"\s*╹▀", region=60),  # the task sits at the top, the input box at the bottom
        # An empty input box (its placeholder, or sidebar text far right) above `┃  Build · <model>`:
        # typed or pasted text (`┃  say pong`) is not a prompt yet, else that text reads as a new
        # answer and the turn "completes" before Enter (real 1.18.33). The splash box sits mid-screen.
        Pattern(Status.IDLE, r"^\s*┃(?: {10,}.*| {1,2}Ask anything.*)?\n\s*┃(?: {10,}.*)?\n\s*┃  \S.* · .*\n\s*╹▀",
                region=20),
    ],
    # The answer follows the task (`┃  <task>`) or its `┃  Thinking: …` line and ends at the
    # `▣  Build · <model> · 7.2s` footer; the input box's own `┃` rows are not a start. The
    # task's box (`┃` lines) and tool lines (`⚙ caod_list_agents`) are chrome: after a tool
    # step the prompt is back for a moment before the next step's text, the answer.
    # The input box's own agent line is `┃  Build · <model>`, `┃  Build auto · ` with --auto, or
    # `┃  Plan · ` (Tab switches agents): not a task.
    answer=Answer(start=r"^\s*┃  (?!\S+(?: auto)? · |Ask anything)\S.*$", stop=r"^\s*▣  ", indent="     ",
                  skip=r"^\s*(?:┃|⚙ )"),
    # Wider than 120 columns, a session shows a sidebar in the last 40 (`Context`, `10,057
    # tokens`, `MCP`, `LSP`, the folder): not part of the answer (real 1.18.33).
    sidebar=Sidebar(cols=40, above=120),
    # It draws the turn's `▣ Build · <model> · 3.4s` footer and the empty input box a few
    # frames before the answer's text (longer on a loaded machine; real 1.18.33).
    answer_wait_ms=3000,
    # Its home view opens the session seconds after Enter when the machine is busy (5.5 s seen
    # with eight agents starting at once); until then the screen shows no turn. Enter again on
    # its empty box does nothing, but giving up on the input would lose a turn it then runs.
    confirm_ms=6000,
    exit_keys="\x03",  # one Ctrl-C at an empty prompt exits (it prints `opencode -s <id>`)
    env={"OPENCODE_DISABLE_AUTOUPDATE": "true", "OPENCODE_CONFIG_CONTENT": CONFIG},
    mcp_entry=MCP_ENTRY,
    model_args=["-m", "${model}"],  # provider/model
    yolo_args=["--auto"],
    verified="real",
)
