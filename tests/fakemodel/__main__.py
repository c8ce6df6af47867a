"""Run the fake model server on its own, to try a real agent CLI offline.

    python -m tests.fakemodel [--port N] [--script FILE] [--cli PROVIDER]...

(from the repository's root). It serves on 127.0.0.1 and prints, for each
CLI (or those named by --cli), the variables to export, the arguments and the
files it needs (fakemodel.clis, the table the real-CLI tests use), both for
running the CLI by hand and under caod; then it logs each request it answers
to stderr until Ctrl-C.

Without --script every prompt is answered "fake model: you said: <prompt>".
A script is JSON: a list of answers taken in order by the CLI's main
requests, or an object {"script": [...], "rules": [...]}. An answer is
{"reply": TEXT}, {"tool": NAME, "args": {...}} (or {"tool_like": FRAGMENT,
...} for a tool whose exact name differs per CLI, like MCP tools), or
{"fail": STATUS, "message": TEXT}; each may have "delay" (seconds). A rule
is an answer with "match": REGEX: it answers every prompt that matches, and
its reply text may name the match's groups ({0} the whole match, {1}, {name}).
"""

from __future__ import annotations

import argparse
import json
import re
import shlex
import signal
import sys
import threading
from typing import Any

from .clis import SETUPS, CliSetup
from .server import Fail, FakeModel, Reply, Request, ToolCall


class ScriptError(ValueError):
    pass


def answer(spec: Any) -> Reply | ToolCall | Fail:
    """One answer of a script file."""
    if not isinstance(spec, dict):
        raise ScriptError(f"an answer must be an object, not {spec!r}")
    delay = float(spec.get("delay", 0.0))
    if "reply" in spec:
        return Reply(str(spec["reply"]), delay=delay)
    if "tool" in spec:
        return ToolCall(str(spec["tool"]), spec.get("args", {}), delay=delay, text=spec.get("text"))
    if "tool_like" in spec:
        return ToolCall.named_like(str(spec["tool_like"]), spec.get("args", {}), delay=delay, text=spec.get("text"))
    if "fail" in spec:
        return Fail(int(spec["fail"]), str(spec.get("message", "scripted failure")), delay=delay)
    raise ScriptError(f"an answer needs reply, tool, tool_like or fail: {spec!r}")


def _with_groups(item: Reply | ToolCall | Fail):
    """A rule's answer; a reply's text filled in from the match."""
    if not isinstance(item, Reply):
        return item

    def fill(m: re.Match[str]) -> Reply:
        try:
            return Reply(item.text.format(m[0], *m.groups(), **m.groupdict()), delay=item.delay)
        except (IndexError, KeyError, ValueError):
            return item
    return fill


def load_script(fm: FakeModel, text: str) -> None:
    """Script `fm` from a script file's JSON text."""
    try:
        data = json.loads(text)
    except ValueError as e:
        raise ScriptError(f"not JSON: {e}") from None
    if isinstance(data, list):
        data = {"script": data}
    if not isinstance(data, dict) or set(data) - {"script", "rules"}:
        raise ScriptError('a script is a list of answers or {"script": [...], "rules": [...]}')
    for rule in data.get("rules", []):
        if not isinstance(rule, dict) or not isinstance(rule.get("match"), str):
            raise ScriptError(f"a rule needs a \"match\" regex: {rule!r}")
        try:
            fm.rule(rule["match"], _with_groups(answer({k: v for k, v in rule.items() if k != "match"})))
        except re.error as e:
            raise ScriptError(f"bad regex {rule['match']!r}: {e}") from None
    fm.script(*(answer(item) for item in data.get("script", [])))


def setup_text(setup: CliSetup, url: str) -> str:
    """How to point one CLI at the fake model: by hand, and under caod."""
    env = setup.env(url)
    args = setup.args(url)
    lines = [f"# {setup.title} (caod provider {setup.provider})"]
    lines += [f"# {note}" for note in setup.notes]
    for name, text in setup.files(url).items():
        lines.append(f"# in the folder it works in, {name}:")
        lines.append(f"cat > {name} <<'EOF'\n{text.rstrip()}\nEOF")
    lines += [f"export {k}={shlex.quote(v)}" for k, v in env.items()]
    lines.append(shlex.join([setup.binary, *args]))
    caod = ["caoctl", "spawn", "-p", setup.provider, "--isolate-home"]
    for k, v in env.items():
        caod += ["-e", f"{k}={v}"]
    for arg in args:
        caod.append(f"--arg={arg}")  # one word, even when ARG starts with a dash
    lines.append("# or under caod (a private HOME with the CLI's config, onboarding done):")
    lines.append(shlex.join(caod))
    return "\n".join(lines)


def _log(req: Request) -> None:
    what = type(req.reply).__name__ if req.reply is not None else "side"
    print(f"{req.method} {req.path} {req.api} {req.kind} -> {what}", file=sys.stderr, flush=True)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m tests.fakemodel", description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--port", type=int, default=0, help="port to listen on (default: a free one)")
    parser.add_argument("--script", metavar="FILE", help="JSON answers (see above); default: echo each prompt")
    parser.add_argument("--cli", action="append", choices=sorted(SETUPS), metavar="PROVIDER",
                        help=f"print only this CLI's setup (repeatable; one of {', '.join(SETUPS)})")
    parser.add_argument("--quiet", action="store_true", help="do not log requests to stderr")
    opts = parser.parse_args(argv)
    if not 0 <= opts.port <= 65535:
        parser.error("--port must be within 0..65535")
    script = None
    if opts.script:
        try:
            with open(opts.script, encoding="utf-8") as fh:
                script = fh.read()
        except OSError as e:
            parser.error(f"cannot read {opts.script}: {e.strerror or e}")
    try:
        fm = FakeModel(port=opts.port, on_request=None if opts.quiet else _log)
    except OSError as e:
        print(f"fakemodel: cannot listen on 127.0.0.1:{opts.port}: {e.strerror or e}", file=sys.stderr)
        return 1
    try:
        if script is None:
            fm.rule(r"(?s)\S.*", lambda m: Reply(f"fake model: you said: {m[0].strip()}"))
        else:
            load_script(fm, script)
    except ScriptError as e:
        fm.stop()
        print(f"fakemodel: {opts.script}: {e}", file=sys.stderr)
        return 1
    print(f"# fake model: {fm.url}")
    for provider in opts.cli or SETUPS:
        print()
        print(setup_text(SETUPS[provider], fm.url))
    sys.stdout.flush()
    print(f"serving on {fm.url}; Ctrl-C stops", file=sys.stderr, flush=True)
    stop = threading.Event()
    for sig in (signal.SIGINT, signal.SIGTERM):
        signal.signal(sig, lambda *_: stop.set())
    stop.wait()
    fm.stop()
    return 0


if __name__ == "__main__":
    sys.exit(main())
