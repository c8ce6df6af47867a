"""Command line of the scripted agent, a fake TUI coding CLI driven by JSON
rules (see ``rules.py`` for the format).

    python -m providers.scripted_cli [--rules FILE] [--no-sync]
        [--start-delay SECONDS] [--trace FILE] [--name NAME]

Env: CAO_SCRIPTED_RULES (JSON text or @file; --rules wins),
CAO_SCRIPTED_NO_SYNC=1, CAO_SCRIPTED_TRACE=FILE, CAO_SCRIPTED_START_DELAY.
Exit codes: 0 (Ctrl-D / input closed), 2 (bad arguments or rules), 130
(Ctrl-C), 128+N (signal N), or the code of an ``exit`` rule.
"""

from __future__ import annotations

import argparse
import errno
import os
import signal
import sys

from providers.scripted_cli.agent import Agent, AgentExit
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
    return parser.parse_args(argv)


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
    delay = args.start_delay
    if delay is None:
        try:
            delay = float(env.get("CAO_SCRIPTED_START_DELAY") or 0)
        except ValueError:
            return _fail("bad CAO_SCRIPTED_START_DELAY: expected seconds")
    if delay < 0 or delay != delay:
        return _fail("start delay must be >= 0")
    try:
        trace = Trace(args.trace or env.get("CAO_SCRIPTED_TRACE") or None)
    except OSError as exc:
        return _fail(f"cannot open trace file: {exc}")
    sync = not (args.no_sync or _truthy(env.get("CAO_SCRIPTED_NO_SYNC")))

    term = Terminal()
    agent = Agent(term, rules, trace, name=args.name, sync=sync, start_delay=delay)
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
        trace.close()
        signal.set_wakeup_fd(old_wakeup)
        os.close(wake_r)
        os.close(wake_w)
    return code


def main(argv=None):
    sys.exit(run(argv))
