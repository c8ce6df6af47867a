"""caoctl completion: the shell script that completes caoctl's commands and agent ids."""

from __future__ import annotations

import click
from click.shell_completion import get_completion_class

PROG = "caoctl"
COMPLETE_VAR = "_CAOCTL_COMPLETE"
SHELLS = ("bash", "zsh", "fish")
HOW = {
    "bash": 'eval "$(caoctl completion bash)"          # in ~/.bashrc',
    "zsh": 'eval "$(caoctl completion zsh)"           # in ~/.zshrc',
    "fish": "caoctl completion fish > ~/.config/fish/completions/caoctl.fish",
}


@click.command("completion")
@click.argument("shell", type=click.Choice(SHELLS))
@click.pass_context
def command(ctx, shell):
    """Print the completion script for SHELL (bash, zsh or fish).

    \b
    bash:  eval "$(caoctl completion bash)"    (add it to ~/.bashrc)
    zsh:   eval "$(caoctl completion zsh)"     (add it to ~/.zshrc)
    fish:  caoctl completion fish > ~/.config/fish/completions/caoctl.fish

    Commands and options complete, and so do the ids and names of live agents
    (asked from the daemon, when one runs).
    """
    cls = get_completion_class(shell)
    assert cls is not None  # click.Choice only lets known shells through
    root = ctx.find_root().command
    click.echo(cls(root, {}, PROG, COMPLETE_VAR).source())
