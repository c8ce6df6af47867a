"""caoctl provider list|classify: the CLIs caod knows, and what a screen means to one.

`list` asks the daemon, whose PATH is the one `spawn` uses (without a daemon it
checks the caller's PATH and says so). `classify` works without a daemon: it runs
a screen through the same code the daemon uses (`providers.get`,
`caod.screen.AgentScreen`, `caod.detector.Detector`), so a pattern can be
checked against a captured screen before it meets a live agent.
"""

from __future__ import annotations

import os
import re
from dataclasses import dataclass
from pathlib import Path

import click

from caoctl.client import Client, DaemonUnavailable, RpcFailure
from caoctl.common import CommandFailed, json_option, settings
from caoctl.complete import provider_names
from caoctl.output import emit_json, table
from caod.protocol import ProviderChecks, ProviderListParams
from caod.status import Status

DEFAULT_COLS, DEFAULT_ROWS = 220, 50

# What a rendered capture may still carry: SGR colours, OSC titles and
# hyperlinks, other CSI sequences, and two-byte escapes (charset selection).
_ESCAPES = re.compile(
    r"\x1b\][^\x07\x1b]*(?:\x07|\x1b\\)"  # OSC ... BEL / ST
    r"|\x1b\[[0-?]*[ -/]*[@-~]"  # CSI
    r"|\x1b[()][0-9A-Za-z]"  # charset designation
    r"|\x1b[@-Z\\-_=>]"  # any other two-byte escape
)
_CONTROLS = re.compile(r"[\x00-\x08\x0b-\x1f\x7f]")


@dataclass
class Classified:
    provider: str
    status: Status  # as the daemon would report it
    answer: str | None  # the extracted answer, when completed
    seen: Status | None  # what the provider's patterns alone say of the final screen


def screen_lines(text: str) -> list[str]:
    """A rendered capture as screen rows: escape codes and stray controls removed."""
    text = _ESCAPES.sub("", text.replace("\r\n", "\n"))
    text = _CONTROLS.sub("", text)
    return [line.expandtabs().rstrip() for line in text.split("\n")]


def rendered_styles(text: str, lines: list[str], cols: int | None) -> list[str]:
    """Each row's style in a capture that kept its SGR codes: the text drawn on a screen
    just big enough to hold it (for providers whose answer is marked by a colour)."""
    from caod.screen import AgentScreen
    from wcwidth import wcswidth

    width = max([cols or 0, *(max(wcswidth(line), len(line)) + 1 for line in lines)])
    screen = AgentScreen(width, len(lines) + 1)
    screen.feed(text.replace("\r\n", "\n").replace("\n", "\r\n").encode(), lambda: None)
    return screen.styles()


def prepare_stream(data: bytes, newline: str = "auto") -> bytes:
    """Bytes as a terminal would get them.

    A PTY turns the program's LF into CR LF (onlcr), so a stream captured
    below the terminal always carries CRs. A capture with no CR at all went
    through something that dropped them; its bare LFs are mapped to CR LF.
    `newline`: "auto" (that rule), "crlf" (always map bare LFs), "keep" (never).
    """
    if newline == "keep" or (newline == "auto" and b"\r" in data):
        return data
    return re.sub(rb"(?<!\r)\n", b"\r\n", data)


def classify(provider_name: str, data: bytes, *, raw: bool = False, after_input: bool = False,
             cols: int | None = None, rows: int | None = None, newline: str = "auto") -> Classified:
    """The status the daemon would report for this screen, and the answer when completed.

    The agent is either fresh (`after_input` False: spawned, still `starting`)
    or was just given a task and reacted (`after_input` True: `processing`,
    with no answer on screen before the task). The screen then goes through
    the daemon's Detector: an idle screen reads `idle` fresh, and `completed`
    after input when it shows an answer (or, in a raw stream, when a busy
    frame came first); a screen no pattern matches leaves the status as it was.

    A raw stream is read frame by frame like the daemon reads a PTY: at each
    synchronized-output end, at each point where a TUI ends a redraw by
    showing its cursor again (a capture has no timing, so that stands in for
    the pause the daemon's quiescence timer waits for), and after the last byte.
    """
    import providers
    from caod.detector import Detector
    from caod.screen import AgentScreen

    try:
        provider = providers.get(provider_name)
    except providers.UnknownProvider as e:
        raise CommandFailed(str(e).strip('"')) from None
    except providers.BadProvider as e:
        raise CommandFailed(str(e)) from None

    detector = Detector(provider)
    # A capture shows what the CLI drew, whoever set it working: a busy screen reads
    # `processing`, not start-up work the daemon would keep as `starting`.
    detector.typed = True
    status = Status.STARTING
    if after_input:
        detector.on_input(None, Status.IDLE)
        status = Status.PROCESSING  # the daemon's `output` signal: the CLI reacted

    styles: list[str] | None = None
    if raw:
        screen = AgentScreen(cols or DEFAULT_COLS, rows or DEFAULT_ROWS)

        def view() -> tuple[list[str], tuple[int, list[str], list[bool]], int]:
            return screen.logical_lines(), screen.history_and_lines(), screen.cols
    else:
        text = data.decode("utf-8", "replace")
        lines = screen_lines(text)
        if provider.reads_styles and "\x1b[" in text:
            styles = rendered_styles(text, lines, cols)

        def view() -> tuple[list[str], tuple[int, list[str], list[bool]], int]:
            # A capture has no scrollback split and no wrap marks: every row is
            # on screen, and a row filled to --size columns counts as wrapped.
            return lines, (0, lines, None), cols  # type: ignore[return-value]

    def current_answer() -> tuple[int, str] | None:
        _, (first, rows_, continued), width = view()
        return detector.answer(first, rows_, width, continued, screen.styles() if raw else styles)

    def frame() -> None:
        nonlocal status
        new = detector.on_frame(status, view()[0], current_answer, screen.title if raw else None, view()[2])
        if new is not None:
            status = new

    if raw:
        chunks = [c for c in re.split(rb"(?<=\x1b\[\?25h)", prepare_stream(data, newline)) if c]
        for i, chunk in enumerate(chunks):
            screen.feed(chunk, frame)
            if not screen.in_sync or i == len(chunks) - 1:  # inside a sync frame the daemon waits
                frame()
    else:
        frame()
    found = current_answer() if status is Status.COMPLETED else None
    return Classified(provider.name, status, found[1] if found else None,
                      provider.classify(view()[0], screen.title if raw else None, view()[2]))


def _parse_size(_ctx, _param, value: str | None) -> tuple[int, int] | None:
    if value is None:
        return None
    m = re.fullmatch(r"\s*(\d+)\s*[xX]\s*(\d+)\s*", value)
    if not m or int(m.group(1)) < 2 or int(m.group(2)) < 2:
        raise click.BadParameter(f"expected COLSxROWS such as 220x50, got {value!r}")
    return int(m.group(1)), int(m.group(2))


@click.group("provider")
def command():
    """The CLIs caod can run, and how a screen of one reads."""


@dataclass
class ProviderView:
    """The providers and their commands as the daemon sees them (its PATH), else as we do."""

    checks: ProviderChecks
    on_daemon: bool
    why_local: str = ""  # when not on_daemon: why the daemon was not asked

    @property
    def whose_path(self) -> str:
        return "the daemon's PATH" if self.on_daemon else "your PATH"


def provider_view(sock: Path) -> ProviderView:
    """Ask the daemon (provider.list); with none running, check this process's PATH, labelled so."""
    from caod.provider_checks import check_providers

    try:
        with Client(sock, connect_timeout=2) as c:
            return ProviderView(c.call("provider.list", ProviderListParams(), timeout=10), True)
    except DaemonUnavailable:
        why = f"no daemon answers on {sock}"
    except RpcFailure as e:  # a daemon older than provider.list
        why = f"the daemon on {sock} cannot say ({e.message})"
    except OSError as e:
        why = f"the daemon on {sock} did not answer ({e})"
    import providers

    path = os.environ.get("PATH", os.defpath)
    return ProviderView(ProviderChecks(path=path, providers_dir=str(providers.user_dir()),
                                       providers=check_providers(path)), False, why)


@command.command("list")
@json_option
@click.pass_context
def list_cmd(ctx, as_json):
    """List providers and whether the daemon finds each CLI on its PATH (spawn uses that PATH).

    With no daemon running, your PATH is checked instead, and the output says so.
    """
    view = provider_view(settings(ctx).socket)
    rows = [{"name": p.name, "source": p.source, "verified": p.verified, "description": p.description,
             "binary": p.binary, "on_path": p.found is not None, "found": p.found, "error": p.error,
             "checked_on": "daemon" if view.on_daemon else "local"} for p in view.checks.providers]
    if as_json:
        emit_json(rows)
        return
    click.echo(table(
        ["NAME", "VERIFIED", "SOURCE", "ON DAEMON PATH" if view.on_daemon else "ON YOUR PATH", "DESCRIPTION"],
        ([r["name"], r["verified"] or "-", r["source"],
          "-" if r["error"] else ("yes" if r["on_path"] else f"no ({Path(r['binary']).name})"),
          r["error"] or r["description"]] for r in rows),
    ))
    if not view.on_daemon:
        click.echo(f"({view.why_local}: checked your PATH; a daemon starts agents with the PATH it was started with)")


@command.command("classify")
@click.option("--provider", "-p", "provider_name", required=True, shell_complete=provider_names,
              help="Provider name.")
@click.argument("file", type=click.Path(dir_okay=False, allow_dash=True))
@click.option("--raw", is_flag=True,
              help="FILE is a raw byte stream (cursor moves, CR redraws): render it with the daemon's screen.")
@click.option("--after-input", is_flag=True,
              help="A task was sent before this screen: an idle screen with an answer is `completed`.")
@click.option("--size", callback=_parse_size, metavar="COLSxROWS",
              help=f"Screen size for --raw (default {DEFAULT_COLS}x{DEFAULT_ROWS}); for text, the width rows wrap at.")
@click.option("--lf", "newline", flag_value="crlf",
              help="--raw: map every bare LF to CR LF (default: only when the stream has no CR at all).")
@click.option("--keep-lf", "newline", flag_value="keep", help="--raw: never map bare LFs.")
@json_option
def classify_cmd(provider_name, file, raw, after_input, size, newline, as_json):
    """Print the status PROVIDER reports for the screen in FILE (`-`: stdin).

    FILE is rendered screen text (SGR/OSC codes are stripped), or with --raw
    the bytes a terminal received, read frame by frame through the daemon's
    own screen. For `completed`, the extracted answer follows. A screen no
    pattern matches reads `starting` fresh and `processing` after input: the
    daemon keeps the status it had.
    """
    try:
        data = click.get_binary_stream("stdin").read() if file == "-" else Path(file).read_bytes()
    except OSError as e:
        raise CommandFailed(f"cannot read {file}: {e.strerror or e}") from None
    cols, rows = size if size else (None, None)
    result = classify(provider_name, data, raw=raw, after_input=after_input, cols=cols, rows=rows,
                      newline=newline or "auto")
    if as_json:
        emit_json({"provider": result.provider, "status": result.status.value, "answer": result.answer})
        return
    click.echo(result.status.value)
    if result.answer is not None:
        click.echo(result.answer)
