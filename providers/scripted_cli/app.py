"""Command line of the scripted agent, a fake TUI coding CLI driven by JSON
rules (see ``rules.py`` for the format).

    python -m providers.scripted_cli [--rules FILE] [--no-sync]
        [--start-delay SECONDS] [--trace FILE] [--name NAME]
        [--mcp-config FILE] [--system-prompt-file FILE] [--model NAME] [--yolo]

The last four are the flags caod passes when it launches an agent from a
profile: the MCP servers the ``mcp_call`` rules may call, the system prompt
(its first line is shown under the banner as ``  system: ...``), the model
(``  model: NAME``) and yolo mode (approval rules pass without a prompt).

Env: CAO_SCRIPTED_RULES (JSON text or @file; --rules wins),
CAO_SCRIPTED_NO_SYNC=1, CAO_SCRIPTED_TRACE=FILE, CAO_SCRIPTED_START_DELAY,
CAO_SCRIPTED_BOOT_SPINNER=SECONDS (a spinner right after the first prompt, as a CLI
whose MCP servers start after it drew its prompt),
CAO_SCRIPTED_MCP_LOG=FILE (the MCP servers' stderr and the SDK's logs).
Exit codes: 0 (Ctrl-D / input closed), 2 (bad arguments or rules), 130
(Ctrl-C), 128+N (signal N), or the code of an ``exit`` rule.
"""

from __future__ import annotations

import argparse
import errno
import os
import signal
import sys

from providers.scripted_cli import render
from providers.scripted_cli.agent import Agent, AgentExit
from providers.scripted_cli.mcp_client import McpConfigError, McpHub, load_config
from providers.scripted_cli.rules import RulesError, load_rules
from providers.scripted_cli.term import Terminal, Trace


def _truthy(value):
    return (value or "").strip().lower() in ("1", "true", "yes", "on")


def parse_args(argv):
    parser = argparse.ArgumentParser(
        prog="python -m providers.scripted_cli",
        description="A fake TUI coding CLI driven by JSON rules (for caod tests).")
    parser.add_argument("--rules", metavar="FILE", help="rules JSON file (else $CAO_SCRIPTED_RULES)")
    parser.add_argument("--no-sync", action="store_true", help="no synchronized-output frames")
    parser.add_argument("--start-delay", type=float, metavar="SECONDS", help="wait before the banner")
    parser.add_argument("--trace", metavar="FILE", help="append JSON-lines timing events to FILE")
    parser.add_argument("--name", default="scripted", help="value of {name} in templates")
    parser.add_argument("--mcp-config", metavar="FILE",
                        help='MCP servers for mcp_call rules: {"mcpServers": {name: {command, args, env}}}')
    parser.add_argument("--system-prompt-file", metavar="FILE", help="system prompt (first line shown)")
    parser.add_argument("--model", metavar="NAME", help="model name (shown under the banner)")
    parser.add_argument("--yolo", action="store_true", help="approve every approval rule without asking")
    return parser.parse_args(argv)


def _first_line(text):
    for line in text.splitlines():
        if line.strip():
            return line.strip()
    return ""


def _check_mcp_servers(rules, servers, path):
    """Every mcp_call names a server of the config (checked only when a config is given)."""
    for rule in [*rules.rules, rules.default]:
        call = rule.params.get("mcp_call")
        if call is not None and call.server not in servers:
            known = ", ".join(sorted(servers)) or "none"
            raise McpConfigError(f"{rule.where}.mcp_call: no MCP server {call.server!r} in {path} (known: {known})")


def _seconds(env, name):
    """Seconds from an environment variable (0 if unset), or the error message."""
    try:
        return float(env.get(name) or 0)
    except ValueError:
        return f"bad {name}: expected seconds"


def _fail(message):
    print("scripted_cli: " + " ".join(str(message).split()), file=sys.stderr)
    return 2


def run(argv=None):
    args = parse_args(argv)
    env = os.environ
    try:
        rules = load_rules(args.rules, env.get("CAO_SCRIPTED_RULES"))
    except RulesError as exc:
        return _fail(f"bad rules: {exc}")
    delay = args.start_delay if args.start_delay is not None else _seconds(env, "CAO_SCRIPTED_START_DELAY")
    boot = _seconds(env, "CAO_SCRIPTED_BOOT_SPINNER")
    for value, what in ((delay, "start delay"), (boot, "boot spinner")):
        if isinstance(value, str):
            return _fail(value)
        if value < 0 or value != value:
            return _fail(f"{what} must be >= 0 seconds")
    try:
        trace = Trace(args.trace or env.get("CAO_SCRIPTED_TRACE") or None)
    except OSError as exc:
        return _fail(f"cannot open trace file: {exc}")
    sync = not (args.no_sync or _truthy(env.get("CAO_SCRIPTED_NO_SYNC")))
    system = None
    if args.system_prompt_file is not None:
        try:
            with open(args.system_prompt_file, encoding="utf-8") as fh:
                system = _first_line(fh.read())
        except (OSError, UnicodeDecodeError) as exc:
            trace.close()
            return _fail(f"cannot read system prompt file: {exc}")
    servers = {}
    if args.mcp_config is not None:
        try:
            servers = load_config(args.mcp_config)
            _check_mcp_servers(rules, servers, args.mcp_config)
        except McpConfigError as exc:
            trace.close()
            return _fail(f"bad mcp config: {exc}")
    # No SDK import here: the hub imports it on the first mcp_call.
    hub = McpHub(servers)

    term = Terminal()
    agent = Agent(term, rules, trace, name=args.name, sync=sync, start_delay=delay, mcp=hub, yolo=args.yolo,
                  info=render.info_lines(system, args.model), boot=boot)
    wake_r, wake_w = os.pipe()
    os.set_blocking(wake_r, False)
    os.set_blocking(wake_w, False)

    def on_winch(_signum, _frame):
        agent.resized = True

    def on_term(signum, _frame):
        raise AgentExit(128 + signum)

    old_wakeup = signal.set_wakeup_fd(wake_w)
    signal.signal(signal.SIGWINCH, on_winch)
    signal.signal(signal.SIGTERM, on_term)
    signal.signal(signal.SIGHUP, on_term)
    code = 0
    try:
        term.enter()
        agent.run(wake_r)
    except AgentExit as exc:
        code = exc.code
    except KeyboardInterrupt:
        code = 130
    except OSError as exc:                        # the terminal went away
        if exc.errno not in (errno.EIO, errno.EPIPE, errno.EBADF):
            raise
        code = 1
    finally:
        signal.signal(signal.SIGTERM, signal.SIG_IGN)
        signal.signal(signal.SIGHUP, signal.SIG_IGN)
        term.leave()
        hub.close()
        trace.close()
        signal.set_wakeup_fd(old_wakeup)
        os.close(wake_r)
        os.close(wake_w)
    return code


def main(argv=None):
    sys.exit(run(argv))
