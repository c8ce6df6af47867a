"""One module per method namespace; each exports HANDLERS = {method: handler}."""

from caod.handlers import agent, daemon, events

HANDLERS = {**daemon.HANDLERS, **agent.HANDLERS, **events.HANDLERS}
