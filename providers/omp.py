"""Oh My Pi (`omp`), the pi coding agent's fork.

Ready: the session box at the bottom (`╭── … ──╮` / `╰─ … ─╯`). Busy: a
spinner row ending in `⟨esc⟩` (`⠋ Working… ⟨esc⟩`, `Running … ⟨esc⟩`).
Approvals: `Allow tool: <name>` over `❯ Approve / Deny`. Only the start-up
runtime error (`Error: No model selected.`) is chrome; answers are indented
one column, so answer prose starting with "Error:" is not an error.

No answer marker: OMP sets the user's turn apart from the answer only by a
background colour, which the rendered text does not keep. So a turn
completes on the busy screen caod saw before the ready box, and there is no
extracted answer.

Flags: `--model`, `--append-system-prompt FILE`. Unsure, so left out: MCP
servers (OMP takes them from an `--extension DIR` package, which caod cannot
lay out), the approval mode for yolo (`--approval-mode`, values unknown),
resuming.
"""

from caod.status import Status
from providers.base import Pattern, Provider

PROVIDER = Provider(
    name="omp",
    description="Oh My Pi (omp)",
    command=["omp"],
    patterns=[
        Pattern(Status.WAITING, r"^\s*Allow tool: \S+|^up/down navigate\s+enter select", region=10),
        Pattern(Status.ERROR, r"^Error: No model selected\.", region=8),
        Pattern(Status.PROCESSING, r"⟨esc⟩$", region=6),
        Pattern(Status.IDLE, r"^╰─.*─╯$", region=1),
    ],
    exit_keys="/exit\r",
    model_args=["--model", "${model}"],
    system_prompt_args=["--append-system-prompt", "${prompt_file}"],
    verified="corpus",
)
