"""caoctl web: the dashboard in a browser, served by this process on 127.0.0.1."""

from __future__ import annotations

import click

from caoctl.common import CommandFailed, settings


@click.command("web")
@click.option("--port", type=click.IntRange(0, 65535), default=8765, show_default=True,
              help="TCP port on the host (0: any free one).")
@click.option("--host", default="127.0.0.1", show_default=True, help="Address to listen on.")
@click.option("--i-know-this-is-not-loopback", "not_loopback_ok", is_flag=True,
              help="Allow a --host other than loopback (anyone who can reach it and has the URL can drive agents).")
@click.option("--open", "open_browser", is_flag=True, help="Open the URL in the default browser.")
@click.option("--no-token", is_flag=True,
              help="Serve without the token cookie (any local program and user can then use it).")
@click.pass_context
def command(ctx, port, host, not_loopback_ok, open_browser, no_token):
    """Serve the dashboard (sessions, agents, their live screens) in the browser; Ctrl-C stops it.

    It prints one URL with a random token: opening it sets a cookie for this
    browser and every request needs it. The daemon keeps no TCP port: this
    process talks to it over its Unix socket like any caoctl command.
    """
    from caoctl.web.serve import bind, is_loopback, run  # the server stack: only for this command

    if not is_loopback(host):
        if not not_loopback_ok:
            raise CommandFailed(f"--host {host} is not a loopback address; add --i-know-this-is-not-loopback "
                                "to serve it there anyway")
        click.echo(f"caoctl: warning: serving on {host}, reachable from other machines; the traffic is not "
                   "encrypted", err=True)

    def announce(url: str) -> None:
        click.echo(url)
        click.echo("(Ctrl-C stops it)", err=True)
        if open_browser:
            import webbrowser

            webbrowser.open(url)

    try:
        sock = bind(host, port)
    except OSError as e:
        raise CommandFailed(f"cannot listen on {host}:{port}: {e.strerror or e}") from None
    try:
        run(settings(ctx).socket, sock, host, not no_token, announce)
    except KeyboardInterrupt:
        return
