"""MiniMax Code (`mcode`).

Ready: the composer box over `Message · Enter send · Shift+Enter newline`.
Busy: a spinner row such as `⠹ Loading 35s · Enter queue · … · Esc stop`.
Approvals: `Approval needed` / `Run this command?` with numbered choices.
An answer is the last `● ` block, ended by `└ Completed in 4s`.

mcode takes no system-prompt flag; the prompt goes in as the first message
(a positional argument), so the agent answers it once before it is ready.
Unsure, so left out: a model flag (mcode reads `defaultModel` from its
config.yaml), MCP servers (a plugin folder in its data directory), a yolo
switch, resuming.
"""

from caod.status import Status
from providers.base import Answer, Pattern, Provider

PROVIDER = Provider(
    name="minimax_code",
    description="MiniMax Code (mcode)",
    command=["mcode"],
    patterns=[
        Pattern(Status.WAITING, r"^Approval needed$|Allow for this conversation|User prompt request", region=8),
        Pattern(Status.ERROR, r"Sign in required|Authentication failed|Not authenticated", region=6),
        Pattern(Status.PROCESSING, r"Enter queue|Esc stop$", region=3),
        Pattern(Status.IDLE, r"^Message · Enter send", region=2),
    ],
    answer=Answer(start=r"^● (?!Ready\b)", stop=r"^└ Completed in|^╭", indent="  "),
    exit_keys="\x03\x03",  # unsure: Ctrl-C twice, as most Ink TUIs
    system_prompt_args=["${prompt}\n\nKeep these instructions for the whole session. Reply only: ready."],
    verified="corpus",
)
