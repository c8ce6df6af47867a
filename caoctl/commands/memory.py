"""caoctl memory store|recall|list|show|forget|export|import: notes kept across sessions."""

from __future__ import annotations

import os
import sys
from pathlib import Path

import click

from caoctl.common import CommandFailed, EXIT_USAGE, connect, json_option
from caoctl.memory_files import BadMemoryFile, read_any, write_markdown
from caoctl.output import ago, emit_json, table, visible
from caod.protocol import (
    MemoryImportParams, MemoryInfo, MemoryKeyParams, MemoryListParams, MemoryRecallParams, MemoryStoreParams,
)

SCOPES = click.Choice(["agent", "session", "project", "global"])


def place_options(default_project: bool):
    """--project/--session/--profile: the place whose scopes a call uses."""
    def wrap(f):
        f = click.option("--profile", help="The profile whose `agent` scope to use.")(f)
        f = click.option("--session", help="The session whose `session` scope to use.")(f)
        help_text = ("The project: a folder, whose git repository's root is the project"
                     + (" (default: the current folder)." if default_project else " (default: every place)."))
        return click.option("--project", type=click.Path(file_okay=False), help=help_text)(f)
    return wrap


def _place(project, session, profile, default_project: bool) -> dict:
    if project is None and default_project:
        project = os.getcwd()
    return {"project": os.path.realpath(project) if project else None, "session": session, "profile": profile}


def _owner(m: MemoryInfo) -> str:
    return m.owner if m.scope != "project" else (Path(m.owner).name or m.owner)


def _lines(text: str) -> str:
    """Text to print as lines: each line made safe (caoctl.output.visible), the breaks kept."""
    return "\n".join(visible(line) for line in text.split("\n"))


def _first_line(text: str, width: int = 60) -> str:
    line = text.strip().split("\n", 1)[0]
    return visible(line if len(line) <= width else line[:width - 1] + "…")


def _table(memories: list[MemoryInfo]) -> str:
    return table(["KEY", "SCOPE", "OF", "UPDATED", "CONTENT"],
                 ([visible(m.key), m.scope, visible(_owner(m)) or "-", f"{ago(m.updated_at)} ago",
                   _first_line(m.content)] for m in memories))


def _show(memories: list[MemoryInfo], as_json: bool, none: str) -> None:
    if as_json:
        emit_json(memories)
    elif not memories:
        click.echo(none)
    else:
        click.echo(_table(memories))


@click.group("memory")
def command():
    """Notes agents and people keep across sessions (MCP: memory_store, memory_recall, memory_forget).

    Scopes, narrowest first: agent (a profile), session, project (a git
    repository, else a folder), global. An agent sees only its own four.
    """


@command.command("store")
@click.argument("content", required=False)
@click.option("--key", help="Its key (default: made from the content). The same key in the same scope is replaced.")
@click.option("--scope", type=SCOPES, default="project", show_default=True)
@click.option("--tag", "tags", multiple=True, help="A tag (repeat for more).")
@place_options(default_project=True)
@json_option
@click.pass_context
def store(ctx, content, key, scope, tags, project, session, profile, as_json):
    """Keep CONTENT (or standard input, with - or no argument)."""
    if content is None or content == "-":
        if content is None and sys.stdin.isatty():
            raise CommandFailed("give the note as an argument, or on standard input", EXIT_USAGE)
        content = sys.stdin.read()
    params = MemoryStoreParams(content=content, key=key, scope=scope, tags=list(tags),
                               **_place(project, session, profile, True))
    with connect(ctx) as c:
        m = c.call("memory.store", params)
    if as_json:
        emit_json(m)
    else:
        click.echo(f"stored {visible(m.key)} ({m.scope}{' ' + visible(_owner(m)) if m.owner else ''})")


@command.command("recall")
@click.argument("query")
@click.option("--scope", type=SCOPES, help="Only this scope.")
@click.option("-n", "--limit", type=click.IntRange(1, 100), default=5, show_default=True)
@click.option("--all", "everything", is_flag=True, help="Search every memory, of every place.")
@place_options(default_project=True)
@json_option
@click.pass_context
def recall(ctx, query, scope, limit, everything, project, session, profile, as_json):
    """Memories matching QUERY: global, the current project's, and the session's or
    profile's if named; narrowest scope first, then by relevance (BM25)."""
    params = MemoryRecallParams(query=query, scope=scope, limit=limit, all=everything,
                                **_place(project, session, profile, True))
    with connect(ctx) as c:
        found = c.call("memory.recall", params).memories
    if as_json or not found:
        _show(found, as_json, "no memory matches")
        return
    for m in found:
        click.echo(f"{visible(m.key)}  ({m.scope}{' ' + visible(_owner(m)) if m.owner else ''})")
        click.echo("  " + _lines(m.content.strip()).replace("\n", "\n  "))


@command.command("list")
@click.option("--scope", type=SCOPES, help="Only this scope.")
@place_options(default_project=False)
@json_option
@click.pass_context
def list_memories(ctx, scope, project, session, profile, as_json):
    """Memories, newest first: every one, or those a place sees."""
    with connect(ctx) as c:
        found = c.call("memory.list", MemoryListParams(scope=scope, **_place(project, session, profile, False))).memories
    _show(found, as_json, "no memories")


@command.command("show")
@click.argument("key")
@click.option("--scope", type=SCOPES)
@place_options(default_project=False)
@json_option
@click.pass_context
def show(ctx, key, scope, project, session, profile, as_json):
    """One memory, whole."""
    with connect(ctx) as c:
        m = c.call("memory.show", MemoryKeyParams(key=key, scope=scope, **_place(project, session, profile, False)))
    if as_json:
        emit_json(m)
        return
    tags = f"  tags: {' '.join(m.tags)}" if m.tags else ""
    click.echo(f"{visible(m.key)}  ({m.scope}{' ' + visible(m.owner) if m.owner else ''}){tags}")
    click.echo(f"stored by {m.source or '-'}, {ago(m.updated_at)} ago")
    click.echo("")
    click.echo(_lines(m.content))


@command.command("forget")
@click.argument("key")
@click.option("--scope", type=SCOPES)
@place_options(default_project=False)
@json_option
@click.pass_context
def forget(ctx, key, scope, project, session, profile, as_json):
    """Remove the memory with KEY (with several places holding it: name one)."""
    with connect(ctx) as c:
        gone = c.call("memory.forget", MemoryKeyParams(key=key, scope=scope,
                                                       **_place(project, session, profile, False))).memories
    if as_json:
        emit_json(gone)
    else:
        for m in gone:
            click.echo(f"forgot {visible(m.key)} ({m.scope}{' ' + visible(_owner(m)) if m.owner else ''})")


@command.command("export")
@click.option("--markdown", "folder", type=click.Path(file_okay=False, path_type=Path),
              help="Write one readable Markdown file per scope into this folder.")
@click.option("--scope", type=SCOPES, help="Only this scope.")
@click.pass_context
def export(ctx, folder, scope):
    """Every memory: as JSON on standard output, or as Markdown files (--markdown DIR)."""
    with connect(ctx) as c:
        found = c.call("memory.list", MemoryListParams(scope=scope, limit=100_000)).memories
    if folder is None:
        emit_json(found)
        return
    try:
        written = write_markdown(folder, found)
    except OSError as e:
        raise CommandFailed(f"cannot write {folder}: {e.strerror or e}") from None
    click.echo(f"wrote {len(found)} memories in {len(written)} file{'s' if len(written) != 1 else ''} to {folder}",
               err=True)
    for path in written:
        click.echo(str(path))


@command.command("import")
@click.argument("source", type=click.Path(exists=True, path_type=Path))
@json_option
@click.pass_context
def import_memories(ctx, source, as_json):
    """Store the memories of an export: a JSON file, a Markdown file, or a folder of them."""
    try:
        found = read_any(source)
    except (BadMemoryFile, OSError, UnicodeDecodeError) as e:
        raise CommandFailed(str(e)) from None
    with connect(ctx) as c:
        result = c.call("memory.import", MemoryImportParams(memories=found), timeout=300)
    if as_json:
        emit_json(result)
    else:
        click.echo(f"stored {result.stored} memories from {source}")
