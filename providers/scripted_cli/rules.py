"""Rule loading and validation for the scripted agent.

A rules document is JSON::

    {"rules": [{"match": "^ping$", "reply": "pong", "think": 0.2}, ...],
     "default": {"reply": "echo: {text}", "think": 0.05}}

(a bare JSON list of rules is accepted too).  Every key a rule may carry is
declared once in :data:`KEYS`.  A key is one of three kinds:

* ``meta``   -- shapes the turn itself (``match``, ``think``, ``sync``);
* ``param``  -- extra data read by an action (``reply_declined``);
* ``action`` -- a step of the turn, run in ascending ``order`` by the agent,
  which looks the step up by name in ``actions.HANDLERS``.

Templates (``reply``, ``approval``, ...) are ``str.format`` strings over the
turn's fields: ``{text}``, ``{turn}``, ``{name}``, ``{cols}``, ``{rows}``, the
rule's named groups, and the fields an action ``provides`` to the steps after
it.  ``mcp_call`` calls a tool of an MCP server from ``--mcp-config``::

    {"match": "^delegate (?P<task>.+)",
     "mcp_call": {"server": "caod", "tool": "handoff",
                  "args": {"agent_profile": "developer", "message": "{task}"},
                  "timeout": 600},
     "reply": "worker said: {result}",
     "reply_error": "could not delegate: {error}"}

String values in ``args`` (at any depth) are templates; other JSON values
pass through.  ``timeout`` (seconds, optional) bounds the call.  The call
provides ``{result}`` (the text content; a JSON object's ``output`` field
when it has one), ``{result_json}`` (the raw text) and ``{error}`` (why the
call failed, else empty).  When the call fails, ``reply_error`` (default
``tool error: {error}``) is the turn's reply and the rule's other steps are
skipped.

Adding an action (e.g. ``mcp_call``) means: one :func:`register_key` call here
with a validator, and one handler in ``actions.HANDLERS``.
"""

from __future__ import annotations

import json
import math
import re
import string

BASE_FIELDS = frozenset({"text", "turn", "cols", "rows", "name"})
DEFAULT_REPLY = "echo: {text}"
DEFAULT_THINK = 0.05
DEFAULT_DECLINED = "Declined."
DEFAULT_TOOL_ERROR = "tool error: {error}"
MCP_FIELDS = ("result", "result_json", "error")


class RulesError(ValueError):
    """A rules document that cannot be used; the message is one line."""


class Key:
    __slots__ = ("name", "validate", "kind", "order", "terminal", "template", "provides")

    def __init__(self, name, validate, kind, order=0, terminal=False, template=False, provides=()):
        self.name = name
        self.validate = validate      # (where, value) -> cleaned value, raises RulesError
        self.kind = kind              # "meta" | "param" | "action"
        self.order = order            # run order of actions within a turn
        self.terminal = terminal      # the action ends the turn on its own
        # True: the value is a str.format template; a callable: cleaned value ->
        # [(sub-path, template), ...] for values that hold templates inside.
        self.template = template
        self.provides = tuple(provides)   # template fields the action sets for later steps


KEYS: dict[str, Key] = {}


def register_key(name, validate, kind, order=0, terminal=False, template=False, provides=()):
    if kind not in ("meta", "param", "action"):
        raise ValueError(f"bad key kind {kind!r}")
    KEYS[name] = Key(name, validate, kind, order, terminal, template, provides)


# -- validators -------------------------------------------------------------

def v_str(where, value):
    if not isinstance(value, str):
        raise RulesError(f"{where}: expected a string, got {type(value).__name__}")
    return value


def v_bool(where, value):
    if not isinstance(value, bool):
        raise RulesError(f"{where}: expected true or false")
    return value


def v_seconds(where, value):
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        raise RulesError(f"{where}: expected a number of seconds")
    if not math.isfinite(value) or value < 0:
        raise RulesError(f"{where}: expected a finite number >= 0")
    return float(value)


def v_count(where, value):
    if isinstance(value, bool) or not isinstance(value, int) or value < 0:
        raise RulesError(f"{where}: expected an integer >= 0")
    return value


def v_exit_code(where, value):
    if isinstance(value, bool) or not isinstance(value, int) or not 0 <= value <= 255:
        raise RulesError(f"{where}: expected an exit code 0..255")
    return value


class McpCall:
    """A validated ``mcp_call`` value."""

    __slots__ = ("server", "tool", "args", "timeout")

    def __init__(self, server, tool, args, timeout):
        self.server = server
        self.tool = tool
        self.args = args
        self.timeout = timeout

    def __repr__(self):
        return f"McpCall({self.server}.{self.tool})"


MCP_CALL_KEYS = ("server", "tool", "args", "timeout")


def v_mcp_call(where, value):
    if not isinstance(value, dict):
        raise RulesError(f"{where}: expected an object with \"server\", \"tool\" and \"args\"")
    for key in value:
        if key not in MCP_CALL_KEYS:
            raise RulesError(f"{where}: unknown key {key!r} (known: {', '.join(MCP_CALL_KEYS)})")
    for key in ("server", "tool"):
        if key not in value:
            raise RulesError(f"{where}: missing \"{key}\"")
        if not isinstance(value[key], str) or not value[key].strip():
            raise RulesError(f"{where}.{key}: expected a non-empty string")
    args = value.get("args", {})
    if not isinstance(args, dict):
        raise RulesError(f"{where}.args: expected an object")
    timeout = None
    if value.get("timeout") is not None:
        timeout = v_seconds(f"{where}.timeout", value["timeout"])
        if timeout <= 0:
            raise RulesError(f"{where}.timeout: expected a number of seconds > 0")
    return McpCall(value["server"], value["tool"], args, timeout)


def _templates_in(path, value):
    if isinstance(value, str):
        yield path, value
    elif isinstance(value, dict):
        for key, item in value.items():
            yield from _templates_in(f"{path}.{key}", item)
    elif isinstance(value, list):
        for i, item in enumerate(value):
            yield from _templates_in(f"{path}[{i}]", item)


def mcp_call_templates(call):
    return list(_templates_in(".args", call.args))


register_key("match", v_str, "meta")
register_key("think", v_seconds, "meta")
register_key("sync", v_bool, "meta")
register_key("reply_declined", v_str, "param", template=True)
# The reply is drawn this many seconds after the idle prompt (like OpenCode, which
# draws its prompt a few frames before the answer's text).
register_key("late", v_seconds, "param")
register_key("reply_error", v_str, "param", template=True)
register_key("approval", v_str, "action", order=10, template=True)
register_key("mcp_call", v_mcp_call, "action", order=15, template=mcp_call_templates, provides=MCP_FIELDS)
register_key("burst", v_count, "action", order=20)
register_key("error", v_str, "action", order=30, terminal=True, template=True)
register_key("reply", v_str, "action", order=40, terminal=True, template=True)
register_key("exit", v_exit_code, "action", order=50, terminal=True)


# -- templates ----------------------------------------------------------------

_FORMATTER = string.Formatter()
_FIELD_BASE = re.compile(r"[^.\[]*")


def check_template(where, template, allowed):
    """Reject templates that could not be formatted with the turn's fields."""
    try:
        parts = list(_FORMATTER.parse(template))
    except ValueError as exc:
        raise RulesError(f"{where}: bad template {template!r}: {exc}") from None
    for _literal, field, spec, _conv in parts:
        if field is None:
            continue
        base = _FIELD_BASE.match(field).group()
        if base not in allowed:
            known = ", ".join(sorted(allowed))
            raise RulesError(f"{where}: unknown field {{{base}}} in template (known: {known})")
        if spec:
            check_template(where, spec, allowed)


# -- rules --------------------------------------------------------------------

class Rule:
    """One validated rule: ``params`` maps every key given to its cleaned
    value; ``steps`` lists the action names in run order."""

    __slots__ = ("where", "pattern", "think", "sync", "params", "steps")

    def __init__(self, where, pattern, think, sync, params, steps):
        self.where = where
        self.pattern = pattern
        self.think = think
        self.sync = sync
        self.params = params
        self.steps = steps

    def __repr__(self):
        return f"Rule({self.where}, steps={self.steps})"


def build_rule(where, obj, *, is_default, fallback_reply=DEFAULT_REPLY):
    if not isinstance(obj, dict):
        raise RulesError(f"{where}: expected an object, got {type(obj).__name__}")
    params = {}
    for key, value in obj.items():
        spec = KEYS.get(key)
        if spec is None or (is_default and key == "match"):
            known = ", ".join(sorted(k for k in KEYS if not (is_default and k == "match")))
            raise RulesError(f"{where}: unknown key {key!r} (known: {known})")
        params[key] = spec.validate(f"{where}.{key}", value)
    pattern = None
    if not is_default:
        if "match" not in params:
            raise RulesError(f"{where}: missing \"match\"")
        try:
            pattern = re.compile(params["match"], re.S)
        except re.error as exc:
            raise RulesError(f"{where}: bad regex {params['match']!r}: {exc}") from None
    if not any(KEYS[k].kind == "action" and KEYS[k].terminal for k in params):
        params["reply"] = fallback_reply
    base = BASE_FIELDS | set(pattern.groupindex if pattern is not None else ())
    provided = {field for k in params for field in KEYS[k].provides}
    for key, value in params.items():
        spec = KEYS[key]
        allowed = base if spec.provides else base | provided    # an action cannot use its own fields
        if spec.template is True:
            check_template(f"{where}.{key}", value, allowed)
        elif callable(spec.template):
            for sub, template in spec.template(value):
                check_template(f"{where}.{key}{sub}", template, allowed)
    steps = sorted((k for k in params if KEYS[k].kind == "action"), key=lambda k: KEYS[k].order)
    return Rule(where, pattern, params.get("think", DEFAULT_THINK), params.get("sync"), params, steps)


class RuleSet:
    __slots__ = ("rules", "default")

    def __init__(self, rules, default):
        self.rules = rules
        self.default = default

    def match(self, text):
        """First matching rule and its named groups (None -> "")."""
        for rule in self.rules:
            m = rule.pattern.search(text)
            if m is not None:
                return rule, {k: ("" if v is None else v) for k, v in m.groupdict().items()}
        return self.default, {}


def parse_rules(source):
    """Build a RuleSet from JSON text (None or blank -> only the default)."""
    if source is None or not source.strip():
        doc = {}
    else:
        try:
            doc = json.loads(source)
        except ValueError as exc:
            raise RulesError(f"invalid JSON: {exc}") from None
    if isinstance(doc, list):
        doc = {"rules": doc}
    if not isinstance(doc, dict):
        raise RulesError("expected a JSON object with \"rules\" and \"default\"")
    for key in doc:
        if key not in ("rules", "default"):
            raise RulesError(f"unknown top-level key {key!r} (known: default, rules)")
    raw_rules = doc.get("rules", [])
    if not isinstance(raw_rules, list):
        raise RulesError("\"rules\" must be a list")
    default = build_rule("default", doc.get("default", {}), is_default=True)
    fallback = default.params.get("reply", DEFAULT_REPLY)
    rules = [build_rule(f"rules[{i}]", obj, is_default=False, fallback_reply=fallback)
             for i, obj in enumerate(raw_rules)]
    return RuleSet(rules, default)


def read_source(rules_file, env_value):
    """The rules text: ``--rules FILE`` wins over ``CAO_SCRIPTED_RULES``
    (JSON text, or ``@/path/to/file.json``)."""
    path = rules_file
    if path is None:
        if not env_value or not env_value.strip():
            return None
        if not env_value.lstrip().startswith("@"):
            return env_value
        path = env_value.lstrip()[1:]
    try:
        with open(path, encoding="utf-8") as fh:
            return fh.read()
    except (OSError, UnicodeDecodeError) as exc:
        raise RulesError(f"cannot read rules file {path!r}: {exc}") from None


def load_rules(rules_file=None, env_value=None):
    return parse_rules(read_source(rules_file, env_value))
