"""One module per method namespace; each exports HANDLERS = {method: handler}."""

from caod.handlers import (
    agent, daemon, events, flow, inbox, memory, notify, orch, profile, provider, session, workflow, worktree,
)

HANDLERS = {
    **daemon.HANDLERS,
    **agent.HANDLERS,
    **events.HANDLERS,
    **profile.HANDLERS,
    **session.HANDLERS,
    **orch.HANDLERS,
    **inbox.HANDLERS,
    **provider.HANDLERS,
    **worktree.HANDLERS,
    **memory.HANDLERS,
    **notify.HANDLERS,
    **flow.HANDLERS,
    **workflow.HANDLERS,
}
