"""Oh My Pi (`omp`), the pi coding agent's fork.

Ready: the session box at the bottom (`╭── … ──╮` / `╰─ … ─╯`). Busy: a
spinner row ending in `⟨esc⟩` (`⠋ Working… ⟨esc⟩`, `Running … ⟨esc⟩`).
Approvals: `Allow tool: <name>` over `❯ Approve / Deny`. Only the start-up
runtime error (`Error: No model selected.`) is chrome; answers are indented
one column, so answer prose starting with "Error:" is not an error.

No text marks where an answer starts: OMP sets the user's turn apart only by
a background colour (truecolor, its theme's). caod's screen keeps each row's
look, so the answer is what follows the last row drawn on a background
(`after_style`), up to the next line at the margin.

Flags: `--model`, `--append-system-prompt FILE`. Unsure, so left out: MCP
servers (OMP takes them from an `--extension DIR` package, which caod cannot
lay out), the approval mode for yolo (`--approval-mode`, values unknown),
resuming.
"""

from caod.status import Status
from providers.base import Answer, Pattern, Provider

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
    # Answers are indented one column; a line at the margin (the session box `╭── … ──╮`,
    # an advisor's `Advisor 1 note`) is not part of one.
    answer=Answer(after_style=r"\bbg=(?!default\b)", stop=r"^\S|^\s*Allow tool: ", indent=" "),
    exit_keys="/exit\r",
    model_args=["--model", "${model}"],
    system_prompt_args=["--append-system-prompt", "${prompt_file}"],
    verified="corpus",
)
