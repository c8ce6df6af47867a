"""Turn actions of the scripted agent, looked up by rule key in HANDLERS.

A handler is ``handler(agent, rule, ctx, value)`` where ``value`` is the
rule's (validated) value for the key and ``ctx`` the template fields.  It may
be a plain function or a generator function; a generator yields wait commands
to the agent loop (``("think", seconds)`` -> resumed with None,
``("approval", prompt)`` -> resumed with True/False, ``("late", seconds)`` ->
the idle prompt drawn, resumed with None after that long, ``("mcp", (server,
tool, args, timeout))`` -> resumed with the fields result/result_json/error)
and ``yield from`` is used to run it.  Returning :data:`STOP` ends the turn (the handler must have
drawn the turn's final frame).  Steps run in the order given by
``rules.KEYS[name].order``.

To add an action (e.g. ``mcp_call``): ``rules.register_key("mcp_call",
validator, "action", order=...)`` and a handler in :data:`HANDLERS`.
"""

from __future__ import annotations

from providers.scripted_cli import render
from providers.scripted_cli.rules import DEFAULT_DECLINED, DEFAULT_TOOL_ERROR, KEYS

STOP = object()


def act_approval(agent, rule, ctx, template):
    if agent.yolo:                        # --yolo: approved without asking
        approved = True
        agent.add_static([render.YOLO_LINE])
    else:
        approved = yield ("approval", agent.fmt(template, ctx))
        agent.add_static([render.APPROVED_LINE if approved else render.DECLINED_LINE])
    yield ("think", rule.think)
    if not approved:
        agent.finish_reply(agent.fmt(rule.params.get("reply_declined", DEFAULT_DECLINED), ctx))
        return STOP
    return None


def fill(agent, value, ctx):
    """A JSON value with every string in it formatted as a template."""
    if isinstance(value, str):
        return agent.fmt(value, ctx)
    if isinstance(value, dict):
        return {k: fill(agent, v, ctx) for k, v in value.items()}
    if isinstance(value, list):
        return [fill(agent, v, ctx) for v in value]
    return value


def act_mcp_call(agent, rule, ctx, call):
    fields = yield ("mcp", (call.server, call.tool, fill(agent, call.args, ctx), call.timeout))
    ctx.update(fields)
    if fields["error"]:
        agent.finish_reply(agent.fmt(rule.params.get("reply_error", DEFAULT_TOOL_ERROR), ctx))
        return STOP
    return None


def act_burst(agent, rule, ctx, size):
    agent.mode = "burst"
    agent.redraw()                        # flush static lines, erase the spinner
    for chunk in render.burst_chunks(size):
        agent.term.write(chunk)            # raw, outside any sync frame
    return None


def act_error(agent, rule, ctx, template):
    message = agent.fmt(template, ctx)
    agent.add_static(render.error_lines(message))
    agent.error = message
    agent.mode = "idle"
    agent.redraw(final="error")
    return STOP


def act_reply(agent, rule, ctx, template):
    late = rule.params.get("late")
    if late:
        yield ("late", late)              # the idle prompt first, the reply after
    agent.finish_reply(agent.fmt(template, ctx))
    return None                           # an "exit" step may still follow


def act_exit(agent, rule, ctx, code):
    agent.quit(code, render.GOODBYE_LINE)


HANDLERS = {
    "approval": act_approval,
    "mcp_call": act_mcp_call,
    "burst": act_burst,
    "error": act_error,
    "reply": act_reply,
    "exit": act_exit,
}


def missing_handlers():
    """Action keys registered in rules.KEYS that have no handler here."""
    return [k for k, spec in KEYS.items() if spec.kind == "action" and k not in HANDLERS]
