"""Agent profiles: the parser, its one-line errors, and the store (no daemon needed)."""

from __future__ import annotations

import os
import textwrap

import msgspec
import pytest

import providers
from caod.profiles import (
    NoSuchProfile,
    Profile,
    ProfileError,
    ProfileExists,
    ProfileStore,
    builtin_names,
    builtins,
    parse_profile,
)
from caod.protocol import ProfileInfo


def md(text: str) -> str:
    return textwrap.dedent(text).lstrip("\n")


MINIMAL = md("""
    ---
    name: tester
    description: Runs the tests
    ---
    You run tests.
""")


def problem(text: str, source: str = "./x.md") -> str:
    with pytest.raises(ProfileError) as info:
        parse_profile(text, source)
    message = str(info.value)
    assert "\n" not in message
    assert message.startswith(f"invalid profile {source}: ")
    return message


# ---------------------------------------------------------------- parser


def test_minimal_profile_gets_the_defaults():
    p = parse_profile(MINIMAL, "./x.md")
    assert isinstance(p, Profile)
    assert (p.name, p.description, p.system_prompt) == ("tester", "Runs the tests", "You run tests.")
    assert p.role == "developer"
    assert p.provider is None and p.model is None
    assert p.allowed_tools is None and p.mcp_servers == {} and p.tags == [] and p.extra == {}


def test_cao_style_profile_with_tools_and_mcp_servers():
    text = md("""
        ---
        name: data_analyst
        description: |
          Analyses CSV files
          and writes reports
        model: sonnet
        role: reviewer
        allowedTools:
          - fs_read
          - execute_bash
          - "@cao-mcp-server"
        mcpServers:
          cao-mcp-server:
            type: stdio
            command: uvx
            args:
              - "--from"
              - git+https://github.com/awslabs/cli-agent-orchestrator.git@main
              - cao-mcp-server
              - 3
            env:
              LOG_LEVEL: debug
              PORT: 8080
              VERBOSE: true
          search:
            type: http
            url: https://example.com/mcp
            headers: {Authorization: Bearer x}
        toolsSettings:
          execute_bash:
            allowedCommands: ["pytest"]
        tags: data, reports
        ---

        # DATA ANALYST

        You analyse data.

    """)
    p = parse_profile(text, "analyst.md")
    assert p.name == "data_analyst"
    assert p.description == "Analyses CSV files\nand writes reports"
    assert (p.model, p.role) == ("sonnet", "reviewer")
    assert p.allowed_tools == ["fs_read", "execute_bash", "@cao-mcp-server"]
    cao = p.mcp_servers["cao-mcp-server"]
    assert cao["command"] == "uvx" and cao["type"] == "stdio"
    assert cao["args"][-2:] == ["cao-mcp-server", "3"]  # args become strings too
    assert cao["env"] == {"LOG_LEVEL": "debug", "PORT": "8080", "VERBOSE": "true"}  # env values become strings
    assert p.mcp_servers["search"] == {"type": "http", "url": "https://example.com/mcp",
                                       "headers": {"Authorization": "Bearer x"}}
    assert p.extra == {"toolsSettings": {"execute_bash": {"allowedCommands": ["pytest"]}}}
    assert p.tags == ["data", "reports"]
    assert p.system_prompt == "# DATA ANALYST\n\nYou analyse data."
    # The wire shape: camelCase in the file, snake_case in ProfileInfo; no prompt unless asked.
    info = p.to_info(with_prompt=False)
    assert isinstance(info, ProfileInfo)
    assert info.system_prompt is None
    assert info.allowed_tools == p.allowed_tools and info.mcp_servers == p.mcp_servers
    assert p.to_info(with_prompt=True).system_prompt == p.system_prompt
    wire = msgspec.json.decode(msgspec.json.encode(p.to_info(True)))
    assert wire["mcp_servers"]["cao-mcp-server"]["env"]["PORT"] == "8080"
    assert "system_prompt" not in msgspec.json.decode(msgspec.json.encode(info))


def test_tags_as_list_or_string():
    base = "---\nname: a\ndescription: d\ntags: {}\n---\nbody\n"
    assert parse_profile(base.format("[x, y]"), "s").tags == ["x", "y"]
    assert parse_profile(base.format("'x, y ,, z'"), "s").tags == ["x", "y", "z"]
    assert parse_profile(base.format("single"), "s").tags == ["single"]
    assert parse_profile(base.format("[]"), "s").tags == []
    assert "field 'tags': must be a list of strings or a comma-separated string" in problem(base.format("3"))
    assert "field 'tags': item 2" in problem(base.format("[a, 3]"))


def test_unknown_fields_are_kept_not_fatal():
    text = "---\nname: a\ndescription: d\ncolor: blue\nhooks: {stop: [x]}\nmodel: haiku\n---\nbody\n"
    p = parse_profile(text, "s")
    assert p.extra == {"color": "blue", "hooks": {"stop": ["x"]}}
    assert p.model == "haiku"


def test_snake_case_spellings_are_accepted_but_not_both():
    p = parse_profile("---\nname: a\ndescription: d\nallowed_tools: [' x ']\nmcp_servers: {}\n---\nb\n", "s")
    assert p.allowed_tools == ["x"] and p.mcp_servers == {}
    assert "'allowedTools' and 'allowed_tools' mean the same" in problem(
        "---\nname: a\ndescription: d\nallowedTools: [x]\nallowed_tools: [y]\n---\nb\n")


def test_required_fields():
    assert problem("---\ndescription: d\n---\nbody\n") == "invalid profile ./x.md: missing required field 'name'"
    assert problem("---\nname: a\n---\nbody\n") == "invalid profile ./x.md: missing required field 'description'"
    assert problem("---\nname: a\ndescription:\n---\nbody\n").endswith("missing required field 'description'")
    assert problem("---\nname: a\ndescription: '  '\n---\nbody\n").endswith("field 'description': must not be empty")
    assert problem("---\n---\nbody\n").endswith("missing required field 'name'")


def test_bad_values_name_the_field():
    def one(field_line: str) -> str:
        return problem(f"---\nname: a\ndescription: d\n{field_line}\n---\nbody\n")

    assert one("role: boss") == (
        "invalid profile ./x.md: field 'role': must be one of supervisor, developer, reviewer (got 'boss')")
    assert parse_profile("---\nname: a\ndescription: d\nrole: Supervisor\n---\nb\n", "s").role == "supervisor"
    assert "field 'provider': unknown provider 'nope' (known: " in one("provider: nope")
    assert "field 'model': must be a string" in one("model: [a]")
    assert "field 'allowedTools': must be a list of strings" in one("allowedTools: fs_read")
    assert "field 'mcpServers': must be a mapping" in one("mcpServers: [a]")
    assert "field 'mcpServers': server 'x' needs a 'command'" in one("mcpServers: {x: {args: [a]}}")
    assert "field 'mcpServers': server 'x': 'args' must be a list" in one("mcpServers: {x: {command: c, args: a}}")
    assert "field 'mcpServers': server 'x': 'env' must be a mapping" in one("mcpServers: {x: {command: c, env: [a]}}")
    for bad in ("name: 'has space'", "name: '../etc'", "name: 'dev.md'", "name: '..'", f"name: {'n' * 65}", "name: ''"):
        msg = problem(f"---\n{bad}\ndescription: d\n---\nbody\n")
        assert "field 'name'" in msg or "missing required field 'name'" in msg, msg
    assert "field 'name': must be a string (got a number 12)" in problem("---\nname: 12\ndescription: d\n---\nb\n")


def test_known_provider_is_accepted():
    name = providers.names()[0]
    assert parse_profile(f"---\nname: a\ndescription: d\nprovider: {name}\n---\nb\n", "s").provider == name


def test_no_front_matter():
    for text in ("just a prompt\n", "", "# title\n---\nname: a\n---\n", "--- name: a\n"):
        assert problem(text) == "invalid profile ./x.md: no YAML front matter (the file must start with ---)"
    assert "never closed" in problem("---\nname: a\ndescription: d\nbody\n")


def test_invalid_yaml_reports_the_file_line():
    text = "---\nname: a\ndescription: d\nmcpServers:\n  x: {command: c\nbody: 1\n---\nprompt\n"
    msg = problem(text)
    assert "front matter is not valid YAML: " in msg
    assert "line " in msg
    bad = "---\nname: a\ndescription: d\nrole: [unclosed\n---\nprompt\n"
    assert "front matter is not valid YAML" in problem(bad)
    # The line number counts from the top of the file, --- included.
    msg = problem("---\nname: a\ndescription: d\nmodel: x: y\n---\nprompt\n")
    assert "mapping values are not allowed here (line 4, column 9)" in msg, msg
    assert "must be a YAML mapping" in problem("---\n- a\n- b\n---\nprompt\n")


def test_empty_body_is_an_error():
    assert problem("---\nname: a\ndescription: d\n---\n") == (
        "invalid profile ./x.md: the body (system prompt) is empty")
    assert problem("---\nname: a\ndescription: d\n---\n  \n\n\t\n").endswith("the body (system prompt) is empty")


def test_crlf_bom_and_leading_blank_lines():
    text = "\ufeff\r\n---\r\nname: a\r\ndescription: d\r\n---\r\nline one\r\nline two\r\n"
    p = parse_profile(text, "s")
    assert p.name == "a" and p.system_prompt.splitlines() == ["line one", "line two"]
    # A --- inside the body is just text.
    p = parse_profile("---\nname: a\ndescription: d\n---\nabove\n---\nbelow\n", "s")
    assert p.system_prompt == "above\n---\nbelow"


# ---------------------------------------------------------------- built-ins


def test_builtins_parse_and_fit_their_roles():
    found = builtins()
    assert builtin_names() == ["code_supervisor", "developer", "reviewer"]
    assert {n: p.role for n, p in found.items()} == {
        "code_supervisor": "supervisor", "developer": "developer", "reviewer": "reviewer"}
    for p in found.values():
        assert p.source == "builtin" and p.provider is None
        assert os.path.isfile(p.path)
        assert 15 <= len(p.system_prompt.splitlines()) <= 45, p.name
    sup = found["code_supervisor"].system_prompt
    for word in ("handoff", "assign", "send_message", "answer_user_prompt", "list_agents", "get_result", "end_worker",
                 "diff", "merge", "use_worktree", "[caod notice about worker", "developer", "reviewer"):
        assert word in sup, word
    assert "send_message" in found["developer"].system_prompt and "receiver_id" in found["developer"].system_prompt
    assert "severity" in found["reviewer"].system_prompt and "file:line" in found["reviewer"].system_prompt


# ---------------------------------------------------------------- store


@pytest.fixture
def store(tmp_path) -> ProfileStore:
    return ProfileStore(tmp_path / "home")


def test_store_lists_builtins_sorted(store):
    assert [p.name for p in store.list()] == ["code_supervisor", "developer", "reviewer"]
    assert store.get("developer").source == "builtin"
    assert not (store.home / "profiles").exists()  # reading never creates anything


def test_get_unknown_names_the_known_ones(store):
    with pytest.raises(NoSuchProfile) as info:
        store.get("nope")
    assert isinstance(info.value, LookupError)
    assert str(info.value) == "no such profile 'nope' (known: code_supervisor, developer, reviewer)"
    # a valid profile just outside the store must not be reachable by a path-like name
    (store.home / "profiles").mkdir(parents=True)
    (store.home / "outside.md").write_text(MINIMAL.replace("name: tester", "name: outside"))
    for bad in ("../developer", "", "developer.md", "../outside"):
        with pytest.raises(NoSuchProfile):
            store.get(bad)


def test_install_writes_atomically_into_the_user_store(store, monkeypatch):
    replaced = []
    real_replace = os.replace

    def spy(src, dst):
        replaced.append((str(src), str(dst)))
        return real_replace(src, dst)

    monkeypatch.setattr(os, "replace", spy)
    p = store.install(MINIMAL, "./tester.md")
    target = store.home / "profiles" / "tester.md"
    assert (p.source, p.path) == ("user", str(target))
    assert target.read_text() == MINIMAL
    [(src, dst)] = replaced
    assert dst == str(target)
    assert os.path.dirname(src) == str(target.parent) and os.path.basename(src).startswith(".tester.")
    assert sorted(os.listdir(target.parent)) == ["tester.md"]  # no temp file left
    assert os.stat(target.parent).st_mode & 0o777 == 0o700  # the user's own folder
    assert [x.name for x in store.list()] == ["code_supervisor", "developer", "reviewer", "tester"]
    got = store.get("tester")
    assert got.source == "user" and got.system_prompt == "You run tests."


def test_install_identical_again_is_fine_different_needs_force(store):
    store.install(MINIMAL, "a.md")
    mtime = (store.home / "profiles" / "tester.md").stat().st_mtime_ns
    assert store.install(MINIMAL, "a.md").name == "tester"
    assert (store.home / "profiles" / "tester.md").stat().st_mtime_ns == mtime  # not rewritten
    changed = MINIMAL.replace("You run tests.", "You run all the tests.")
    with pytest.raises(ProfileExists) as info:
        store.install(changed, "b.md")
    assert str(info.value) == "profile 'tester' is already installed (use --force to replace it)"
    assert store.get("tester").system_prompt == "You run tests."
    assert store.install(changed, "b.md", force=True).system_prompt == "You run all the tests."
    assert store.get("tester").system_prompt == "You run all the tests."


def test_install_invalid_writes_nothing(store):
    with pytest.raises(ProfileError, match="missing required field 'description'"):
        store.install("---\nname: a\n---\nbody\n", "./a.md")
    assert not (store.home / "profiles").exists()


def test_user_profile_overrides_builtin(store):
    mine = "---\nname: developer\ndescription: My developer\nrole: developer\nmodel: opus\n---\nMy way.\n"
    p = store.install(mine, "dev.md")
    assert p.source == "user"
    listed = {x.name: x for x in store.list()}
    assert listed["developer"].source == "user" and listed["developer"].description == "My developer"
    assert [x.name for x in store.list()] == ["code_supervisor", "developer", "reviewer"]
    assert store.get("developer").model == "opus"
    os.unlink(p.path)
    assert store.get("developer").source == "builtin"


def test_install_builtin_copies_for_editing(store):
    p = store.install_builtin("reviewer")
    path = store.home / "profiles" / "reviewer.md"
    assert (p.source, p.path, p.role) == ("user", str(path), "reviewer")
    assert path.read_text() == builtins()["reviewer"].text
    assert store.install_builtin("reviewer").name == "reviewer"  # identical again: fine
    path.write_text(path.read_text().replace("You are a code reviewer", "You are a strict code reviewer"))
    assert "strict" in store.get("reviewer").system_prompt
    with pytest.raises(ProfileExists):
        store.install_builtin("reviewer")  # would lose the user's edits
    store.install_builtin("reviewer", force=True)
    assert "strict" not in store.get("reviewer").system_prompt
    with pytest.raises(NoSuchProfile, match="no such built-in profile 'nope'"):
        store.install_builtin("nope")


def test_broken_user_files_are_reported_not_fatal(store):
    store.install(MINIMAL, "t.md")
    d = store.home / "profiles"
    (d / "broken.md").write_text("no front matter\n")
    (d / "renamed.md").write_text(MINIMAL)  # declares name 'tester'
    (d / ".tester.abc.tmp").write_text("half written")
    (d / "._tester.md").write_text("\x00 editor or OS litter")  # hidden: never read
    (d / "notes.txt").write_text("ignored")
    profiles, problems = store.scan()
    assert [p.name for p in profiles] == ["code_supervisor", "developer", "reviewer", "tester"]
    messages = sorted(e.message for e in problems)
    assert len(messages) == 2, messages
    assert messages[0].endswith("broken.md: no YAML front matter (the file must start with ---)")
    assert messages[1].endswith("renamed.md: field 'name': 'tester' does not match the file name renamed.md")
    with pytest.raises(ProfileError, match="no YAML front matter"):
        store.get("broken")  # a broken user file is an error, not a silent fallback


def test_worktree_is_a_boolean_field():
    text = "---\nname: a\ndescription: d\n{}---\nbody\n"
    assert parse_profile(text.format(""), "s").worktree is False
    profile = parse_profile(text.format("worktree: true\n"), "s")
    assert profile.worktree is True and "worktree" not in profile.extra and profile.to_info().worktree is True
    assert problem(text.format("worktree: yes please\n")) == (
        "invalid profile ./x.md: field 'worktree': must be true or false (got str 'yes please')")
