"""The caoctl group loads a command's module only when the command runs.

`caoctl --help` lists every command from caoctl.cli.COMMANDS, the table checked
here against the commands themselves; `caoctl ls` against a real daemon imports
none of the heavy modules other commands need (read from `python -X importtime`).
"""

from __future__ import annotations

import importlib
import subprocess
import sys
from pathlib import Path

import click
import pytest

from caoctl.cli import COMMANDS, cli

COMMANDS_DIR = Path(__file__).resolve().parents[2] / "caoctl" / "commands"
# What `caoctl ls` has no use for: the screen, the daemon's logging, rich, the MCP SDK and its stack.
HEAVY = {"pyte", "structlog", "rich", "mcp", "mcp_types", "pydantic", "pydantic_core", "anyio", "asyncio",
         "aiosqlite", "yaml", "starlette", "uvicorn"}


def imported_modules(stderr: str) -> set[str]:
    """Module names from `python -X importtime` lines: `import time: self | cumulative | name`."""
    names = set()
    for line in stderr.splitlines():
        if line.startswith("import time:") and line.count("|") == 2:
            name = line.rsplit("|", 1)[1].strip()
            if name != "imported package":  # the header line
                names.add(name)
    return names


def run_caoctl(env: dict | None, *args: str) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-X", "importtime", "-m", "caoctl", *args], env=env,
                          capture_output=True, text=True, timeout=60)


def test_the_table_names_every_command_module_and_its_help():
    modules = {p.stem for p in COMMANDS_DIR.glob("*.py") if p.stem != "__init__"}
    assert {listed.module for listed in COMMANDS.values()} == {f"caoctl.commands.{m}" for m in modules}
    for name, listed in COMMANDS.items():
        command = importlib.import_module(listed.module).command
        assert command.name == name
        assert not command.hidden and not command.deprecated
        stand_in = click.Command(name, help=listed.help, short_help=listed.short_help)
        for limit in range(20, 200, 7):
            assert stand_in.get_short_help_str(limit) == command.get_short_help_str(limit), (name, limit)


@pytest.mark.parametrize("width", [40, 80, 132, 200])
def test_help_is_what_an_eager_group_prints(width):
    eager = click.Group("caoctl", commands={name: importlib.import_module(listed.module).command
                                            for name, listed in COMMANDS.items()})
    lazy_out, eager_out = click.HelpFormatter(width=width), click.HelpFormatter(width=width)
    with click.Context(cli, info_name="caoctl") as ctx:
        cli.format_commands(ctx, lazy_out)
        eager.format_commands(ctx, eager_out)
    assert lazy_out.getvalue() == eager_out.getvalue()
    assert all(f"  {name} " in lazy_out.getvalue() or f"  {name}\n" in lazy_out.getvalue() for name in COMMANDS)


def test_help_lists_every_command_and_imports_none():
    r = run_caoctl(None, "--help")
    assert r.returncode == 0, r.stderr
    listed = [line.split()[0] for line in r.stdout.split("Commands:\n", 1)[1].splitlines()
              if line.startswith("  ") and not line.startswith("   ")]
    assert listed == sorted(COMMANDS)
    assert "List agents." in r.stdout
    imported = imported_modules(r.stderr)
    assert not {m for m in imported if m.startswith("caoctl.commands.")}
    assert not {m.split(".")[0] for m in imported} & (HEAVY | {"msgspec"})


def test_an_unknown_command_is_one_line_with_a_suggestion(shared_daemon, caoctl, one_line_error):
    r = caoctl(shared_daemon, "lss")
    one_line_error(r, 2, "no such command 'lss'")
    assert "'ls'" in r.stderr.split("no such command 'lss'", 1)[1], r.stderr  # "did you mean 'ls'"
    assert r.stdout == ""


def test_ls_against_a_daemon_imports_only_what_it_needs(daemon, spawn_scripted):
    agent = spawn_scripted(daemon.client(), name="lister")
    r = run_caoctl(daemon.env, "ls")
    assert r.returncode == 0, r.stderr
    assert agent.id in r.stdout and "lister" in r.stdout
    imported = imported_modules(r.stderr)
    assert "caoctl.commands.ls" in imported and "msgspec" in imported  # the check reads real imports
    assert not {m.split(".")[0] for m in imported} & HEAVY, sorted(imported)
    assert {m for m in imported if m.startswith("caoctl.commands.")} == {"caoctl.commands.ls"}
    assert not {m for m in imported if m.startswith("caoctl.web")}  # the dashboard: only for `caoctl web`
