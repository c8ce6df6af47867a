"""caoctl tmux: every live agent in its own tmux window.

Each window runs `caoctl attach --resize-on-change AGENT`, so it shows the
agent's screen and passes keys straight through. A window is made at its
agent's size, and the agent keeps that size until someone looks at the
window (tmux then fits the window to their terminal, which resizes the
agent): making windows nobody watches resizes nothing. Closing a window (or Ctrl-] in it) only ends
that viewer; the agent keeps running in caod. Run the command again to add
windows for agents started since: windows are matched to agents by a tmux
window option (@caod_agent), so none is duplicated.
"""

from __future__ import annotations

import os
import re
import shlex
import shutil
import subprocess
import sys

import click

from caoctl.common import CommandFailed, connect, json_option, settings
from caoctl.complete import session_names
from caoctl.output import counted, emit_json
from caod.protocol import AgentInfo, ListParams, SessionRef
from caod.pyexec import module_argv

AGENT_OPTION = "@caod_agent"
INSTALL_HINT = ("tmux is not installed; install it with `apt install tmux` (Debian/Ubuntu) "
                "or `brew install tmux` (macOS)")
TMUX_TIMEOUT = 15.0


class Tmux:
    """tmux commands on one server (the default one, or `-L NAME`)."""

    def __init__(self, socket_name: str | None):
        binary = shutil.which("tmux")
        if binary is None:
            raise CommandFailed(INSTALL_HINT)
        self.binary = binary
        self.socket_name = socket_name

    def argv(self, *args: str) -> list[str]:
        server = ["-L", self.socket_name] if self.socket_name else []
        return [self.binary, *server, *args]

    def run(self, *args: str, check: bool = True) -> subprocess.CompletedProcess:
        try:
            r = subprocess.run(self.argv(*args), capture_output=True, text=True, timeout=TMUX_TIMEOUT,
                               stdin=subprocess.DEVNULL)
        except subprocess.TimeoutExpired:
            raise CommandFailed(f"tmux {args[0]} did not answer within {TMUX_TIMEOUT:g}s") from None
        if check and r.returncode != 0:
            why = (r.stderr or r.stdout).strip().splitlines()
            raise CommandFailed(f"tmux {args[0]} failed: {why[-1] if why else f'exit {r.returncode}'}")
        return r

    def has_session(self, name: str) -> bool:
        return self.run("has-session", "-t", f"={name}", check=False).returncode == 0

    def windows(self, session: str) -> dict[str, str]:
        """agent id -> tmux window id, for the windows this command made."""
        out = self.run("list-windows", "-t", f"={session}", "-F", f"#{{window_id}}\t#{{{AGENT_OPTION}}}").stdout
        found = {}
        for line in out.splitlines():
            window, _, agent = line.partition("\t")
            if agent:
                found.setdefault(agent, window)
        return found


def tmux_session_name(session: str | None) -> str:
    # tmux does not allow '.' or ':' in session names (they separate targets)
    return "caod" if session is None else "caod-" + re.sub(r"[.:]", "_", session)


def window_name(agent: AgentInfo) -> str:
    """`supervisor-1a2b3c4d` for a team member; the name (else the id) for a bare agent."""
    if agent.role:
        return f"{agent.role}-{agent.id}"
    return agent.name or agent.id


def viewer_command(socket: str, agent_id: str) -> str:
    """The shell command a window runs: this Python's caoctl, on this daemon's socket."""
    return shlex.join(module_argv("caoctl", "--socket", socket, "attach", "--resize-on-change", agent_id))


@click.command("tmux")
@click.argument("session", required=False, shell_complete=session_names)
@click.option("--all", "all_agents", is_flag=True, help="Every live agent, whatever its session (the default).")
@click.option("--socket-name", "-L", metavar="NAME", help="Use a private tmux server (tmux -L NAME).")
@json_option
@click.pass_context
def command(ctx, session, all_agents, socket_name, as_json):
    """Open SESSION's live agents in a tmux session `caod-SESSION`, one window each.

    Without SESSION (or with --all) the tmux session is `caod`, with every live
    agent. Re-running adds windows for new agents and keeps the others.
    Closing a window never stops its agent.
    """
    if session and all_agents:
        raise CommandFailed("give a SESSION or --all, not both")
    tmux = Tmux(socket_name)
    sock = str(settings(ctx).socket)
    with connect(ctx) as c:
        if session:
            agents = c.call("session.get", SessionRef(session=session)).agents
        else:
            agents = c.call("agent.list", ListParams(live_only=True)).agents
    agents = [a for a in agents if a.status.live]
    name = tmux_session_name(session)
    exists = tmux.has_session(name)
    if not agents and not exists:
        raise CommandFailed(f"no live agents{f' in session {session}' if session else ''} to show")

    have = tmux.windows(name) if exists else {}
    rows = []
    for agent in agents:
        new = agent.id not in have
        if new:
            cmd = viewer_command(sock, agent.id)
            size = ("-x", str(agent.cols), "-y", str(agent.rows))
            if not exists:
                out = tmux.run("new-session", "-d", "-s", name, *size, "-n", window_name(agent),
                               "-P", "-F", "#{window_id}", cmd)
                exists = True
                have[agent.id] = out.stdout.strip()
            else:
                out = tmux.run("new-window", "-d", "-t", f"={name}:", "-n", window_name(agent),
                               "-P", "-F", "#{window_id}", cmd)
                have[agent.id] = out.stdout.strip()
                # the agent's size, then back to following whoever looks (resize-window made it manual)
                tmux.run("resize-window", "-t", have[agent.id], *size)
                tmux.run("set-option", "-w", "-u", "-t", have[agent.id], "window-size")
            tmux.run("set-option", "-w", "-t", have[agent.id], AGENT_OPTION, agent.id)
            tmux.run("set-option", "-w", "-t", have[agent.id], "automatic-rename", "off")
        rows.append({"agent": agent.id, "window": have[agent.id], "name": window_name(agent), "new": new})

    attach_argv = tmux.argv("attach", "-t", f"={name}")
    attach_line = shlex.join(["tmux", *attach_argv[1:]])
    if as_json:
        emit_json({"tmux_session": name, "socket_name": socket_name, "windows": rows, "attach": attach_line})
        return
    added = sum(r["new"] for r in rows)
    if not (os.isatty(0) and os.isatty(1)):
        click.echo(f"tmux session {name}: {counted(len(rows), 'agent window')} ({added} new)")
        for r in rows:
            click.echo(f"  {r['name']}")
        click.echo(f"attach with: {attach_line}")
        return
    if os.environ.get("TMUX"):
        if socket_name is None:  # already inside tmux on this server: just switch over
            if tmux.run("switch-client", "-t", f"={name}", check=False).returncode == 0:
                return
            click.echo(f"tmux session {name} is ready; switch to it with: tmux switch-client -t ={name}")
            return
        click.echo(f"tmux session {name} is ready on tmux server {socket_name!r}; "
                   f"you are inside another tmux, so attach from a plain terminal with: {attach_line}")
        return
    sys.stdout.flush()
    os.execv(tmux.binary, attach_argv)
