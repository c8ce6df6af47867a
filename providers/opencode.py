"""OpenCode (`opencode`). Minimal entry: launch flags, config files and hooks are being added."""

from caod.status import Status
from providers.base import Answer, Pattern, Provider

PROVIDER = Provider(
    name="opencode",
    description="OpenCode (opencode)",
    command=["opencode"],
    patterns=[
        Pattern(Status.WAITING, r"△ Permission required|Allow once\s+Allow always\s+Reject", region=12),
        Pattern(Status.PROCESSING, r"esc interrupt", region=3),
        Pattern(Status.IDLE, r"ctrl\+p commands|Ask anything", region=20),  # the splash footer sits mid-screen
    ],
    # The answer follows the task (`┃  <task>`) or its `┃  Thinking: …` line and ends at the
    # `▣  Build · <model> · 7.2s` line; the input box's own `┃` rows are not a start.
    answer=Answer(start=r"^\s*┃  (?!Build · |Ask anything)\S.*$", stop=r"^\s*▣  |^\s*┃", indent="     "),
    exit_keys="\x03",
    verified="real",
)
