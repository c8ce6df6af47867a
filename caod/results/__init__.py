"""Workers' results: stored when a worker's turn ends, read or waited for later.

The face: `Results` (daemon.results) records every worker's turn, event-driven;
`tools` holds the agent-facing calls (orch.get_result, orch.end_worker, the
team list of orch.list_agents); `options_of` reads a drawn prompt's choices.
"""

from caod.results.keeper import Results, late_text
from caod.results.options import options_of

__all__ = ["Results", "late_text", "options_of"]
