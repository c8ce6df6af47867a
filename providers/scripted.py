"""The scripted agent that ships with caod: a fake TUI coding CLI driven by rules.

Used by the tests, the demo and the benchmarks, so nobody needs an account.
"""

from caod.pyexec import module_argv
from caod.status import Status
from providers.base import Answer, Pattern, Provider

PROVIDER = Provider(
    name="scripted",
    description="caod's built-in scripted agent (no model, no account)",
    command=module_argv("providers.scripted_cli"),  # never from the agent's folder
    patterns=[
        Pattern(Status.WAITING, r"^\? Do you want to proceed\?", region=6),
        Pattern(Status.PROCESSING, r"esc to interrupt", region=3),
        Pattern(Status.ERROR, r"^  ✗ error · ", region=2),
        Pattern(Status.IDLE, r"^  ready · \? for help", region=2),
    ],
    answer=Answer(start=r"^● ", stop=r"^(╭|> |✗ Error: |Goodbye\.$|\^C$)", indent="  "),
    exit_keys="\x04",
    model_args=["--model", "${model}"],
    system_prompt_args=["--system-prompt-file", "${prompt_file}"],
    mcp_args=["--mcp-config", "${mcp_config}"],
    yolo_args=["--yolo"],
    verified="scripted",
)
