"""caoctl skill print NAME: the skill documents shipped with caod, for agents to read."""

from __future__ import annotations

from importlib import resources

import click

from caoctl.common import CommandFailed

SKILLS = ("ops",)


@click.group("skill")
def command():
    """Skill documents for agents (how to use caod's tools well)."""


@command.command("print")
@click.argument("name", type=click.Choice(SKILLS))
def print_skill(name):
    """Print the skill NAME (ops: driving caod teams from your own agent)."""
    try:
        click.echo(resources.files("caoctl").joinpath(f"skills/{name}.md").read_text(encoding="utf-8"), nl=False)
    except OSError as e:
        raise CommandFailed(f"the {name} skill is missing from this install: {e}") from None
