"""caoctl attach: your terminal, wired straight to an agent's PTY.

After one JSON-RPC reply the connection carries raw bytes both ways. Ctrl-]
detaches and leaves the agent running. The viewer runs on the alternate
screen, so detaching gives you your terminal back as it was.
"""

from __future__ import annotations

import os
import select
import signal
import termios
import tty

import click

from caoctl.client import Client
from caoctl.complete import agent_ids
from caoctl.common import CommandFailed, connect, settings
from caod.protocol import AgentRef, AttachParams, ResizeParams

DETACH = 0x1D  # Ctrl-]
ALT_SCREEN_ON = b"\x1b[?1049h"
ALT_SCREEN_OFF = b"\x1b[0m\x1b[?2004l\x1b[?25h\x1b[?1049l"


def _write_all(fd: int, data: bytes) -> None:
    view = memoryview(data)
    while view:
        view = view[os.write(fd, view):]


@click.command("attach")
@click.argument("agent", shell_complete=agent_ids)
@click.option("--no-resize", is_flag=True, help="Keep the agent's size instead of fitting it to this terminal.")
@click.option("--resize-on-change", is_flag=True,
              help="Keep the agent's size until this terminal's size changes, then fit it "
                   "(caoctl tmux's windows: an agent is fitted when someone looks at its window).")
@click.pass_context
def command(ctx, agent, no_resize, resize_on_change):
    """Watch AGENT live and type into it; Ctrl-] detaches (the agent keeps running)."""
    run_attach(ctx, agent, no_resize, resize_on_change)


def run_attach(ctx: click.Context, agent: str, no_resize: bool = False, resize_on_change: bool = False) -> None:
    if not os.isatty(0) or not os.isatty(1):
        raise CommandFailed("attach needs a terminal on stdin and stdout")
    cols, rows = os.get_terminal_size(1)
    c = connect(ctx)
    size = {} if no_resize or resize_on_change else {"rows": rows, "cols": cols}
    info = c.call("agent.attach", AttachParams(agent=agent, **size))
    reason = _pump(c, info.id, settings(ctx).socket, no_resize)
    c.close()
    if reason == "closed":
        with Client(settings(ctx).socket) as c2:
            final = c2.call("agent.get", AgentRef(agent=info.id))
        if final.exit_signal is not None:
            click.echo(f"[agent {info.id} exited: signal {final.exit_signal}]", err=True)
        elif final.exit_code is not None:
            click.echo(f"[agent {info.id} exited: exit code {final.exit_code}]", err=True)
        else:
            click.echo(f"[the daemon closed the connection; agent {info.id} is {final.status.value}]", err=True)
    else:
        click.echo(f"[detached from {info.id}; it keeps running]", err=True)


def _pump(c: Client, agent_id: str, sock_path, no_resize: bool) -> str:
    stdin, stdout, sock = 0, 1, c.sock.fileno()
    wake_r, wake_w = os.pipe()
    os.set_blocking(wake_w, False)
    saved = termios.tcgetattr(stdin)

    def on_winch(_sig, _frame):
        try:
            os.write(wake_w, b"w")
        except BlockingIOError:
            pass

    old_winch = signal.signal(signal.SIGWINCH, on_winch)
    tty.setraw(stdin)
    _write_all(stdout, ALT_SCREEN_ON + c.leftover())
    try:
        while True:
            try:
                ready, _, _ = select.select([stdin, sock, wake_r], [], [])
            except InterruptedError:
                continue
            if sock in ready:
                data = c.sock.recv(65536)
                if not data:
                    return "closed"
                _write_all(stdout, data)
            if stdin in ready:
                data = os.read(stdin, 4096)
                if not data:
                    return "detached"
                cut = data.find(DETACH)
                if cut >= 0:
                    if cut:
                        c.sock.sendall(data[:cut])
                    return "detached"
                c.sock.sendall(data)
            if wake_r in ready:
                os.read(wake_r, 64)
                if not no_resize:
                    cols, rows = os.get_terminal_size(stdout)
                    with Client(sock_path) as c2:
                        c2.call("agent.resize", ResizeParams(agent=agent_id, rows=rows, cols=cols))
    finally:
        termios.tcsetattr(stdin, termios.TCSADRAIN, saved)
        signal.signal(signal.SIGWINCH, old_winch)
        _write_all(stdout, ALT_SCREEN_OFF)
        os.close(wake_r)
        os.close(wake_w)
