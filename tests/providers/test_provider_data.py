"""Provider data: every shipped provider is well-formed, and a user's TOML provider works end to end.

Also `caoctl provider list|classify` on data the tests write themselves.
"""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
import tomllib
from pathlib import Path

import msgspec
import pytest
import yaml
from click.testing import CliRunner

import providers
from caoctl.cli import cli
from caoctl.client import RpcFailure
from caoctl.commands.provider import classify, prepare_stream, screen_lines
from caod.protocol import ErrorCode
from caod.status import SCREEN_STATUSES, Status
from providers.base import SERVER_FIELDS, TEMPLATE_FIELDS, Provider, render

ROOT = Path(__file__).resolve().parents[2]
SHIPPED = providers.builtin_names()
VERIFIED = {"real", "corpus", "scripted", "none"}

# Values with quotes, backslashes, spaces and a newline, so a template that
# forgets `_json` inside a JSON/TOML/YAML file shows up as a parse error.
DUMMY = {field: f'dummy {field} "q" \\ x' for field in TEMPLATE_FIELDS}
DUMMY.update({"prompt": 'line one\nline "two" \\ three', "tools": "Bash,Edit", "tool": "Bash",
              "home": "/tmp/h o m e", "mcp_servers_json": json.dumps({"caod": {"command": "py"}}),
              "bridge_args_json": json.dumps(["-m", "caoctl", "mcp"]),
              "bridge_env_json": json.dumps({"CAO_AGENT_ID": "a1"}),
              "hook_argv_json": json.dumps(["py", "-m", "caoctl", "hook"])})


SERVERS = {"caod": ("py", ["-m", "caoctl", "mcp"], {"CAO_AGENT_ID": "a1"}),
           'we"ird \\ name': ("/opt/my tool", ["--flag", 'x"y'], {"K": 'v"\\'})}


def values_for(spec: Provider) -> dict[str, str]:
    """DUMMY, with ${mcp_entries} rendered from the provider's own `mcp_entry` for two servers."""
    entries = [render(spec.mcp_entry, {**DUMMY, "server_name": name, "server_command": cmd,
                                       "server_args_json": json.dumps(args),
                                       "server_argv_json": json.dumps([cmd, *args]),
                                       "server_env_json": json.dumps(env)})
               for name, (cmd, args, env) in SERVERS.items()] if spec.mcp_entry else []
    return {**DUMMY, "mcp_entries": ", ".join(entries)}


def templates(spec: Provider) -> list[str]:
    out = [*spec.env.values(), *spec.model_args, *spec.system_prompt_args, *spec.mcp_args, *spec.yolo_args,
           *spec.allowed_tools_args, *spec.allowed_tool_args, *spec.session_id_args, *spec.resume_args]
    for cf in spec.config_files:
        out += [cf.path, cf.content]
    return out


@pytest.mark.parametrize("name", SHIPPED)
def test_shipped_provider_loads_and_compiles(name):
    compiled = providers.get(name)
    spec = compiled.spec
    assert spec.name == name
    assert spec.description and spec.command and all(spec.command)
    assert spec.verified in VERIFIED
    assert spec.patterns, "a provider needs at least one pattern"
    for p in spec.patterns:
        re.compile(p.regex, re.M)
        assert p.status in SCREEN_STATUSES, f"{p.regex!r}: a screen shows starting/idle/busy/waiting/error, not {p.status}"
        assert p.region >= 1
    if spec.answer is not None:
        re.compile(spec.answer.start)
        re.compile(spec.answer.stop)
    for d in spec.dialogs:
        re.compile(d.regex, re.M)
        assert d.keys
    assert spec.submit and spec.exit_keys
    assert Status.IDLE in {p.status for p in spec.patterns}, "the agent could never become ready"


@pytest.mark.parametrize("name", SHIPPED)
def test_templates_use_known_fields(name):
    spec = providers.get(name).spec
    for template in templates(spec):
        for m in re.finditer(r"\$(?:\{(\w+)\}|(\w+))", template.replace("$$", "")):
            field = m.group(1) or m.group(2)
            base = re.sub(r"_json(?:str)?$", "", field) if field not in TEMPLATE_FIELDS else field
            assert base in TEMPLATE_FIELDS, f"{name}: unknown template field {field!r} in {template!r}"
        rendered = render(template, values_for(spec))
        assert "${" not in rendered
    for m in re.finditer(r"\$\{(\w+)\}", spec.mcp_entry):
        field = m.group(1)
        assert field in SERVER_FIELDS or re.sub(r"_json(?:str)?$", "", field) in (*SERVER_FIELDS, *TEMPLATE_FIELDS), \
            f"{name}: unknown field {field!r} in mcp_entry"
    # `allowed_tools_args` go in once with the whole list, `allowed_tool_args` once per tool.
    assert not any("${tool}" in a for a in spec.allowed_tools_args)
    if spec.allowed_tool_args:
        assert any("${tool}" in a for a in spec.allowed_tool_args)


@pytest.mark.parametrize("name", SHIPPED)
def test_json_launch_arguments_parse_after_rendering(name):
    """An argument that is a JSON document (Claude Code's --settings with the hooks) stays
    valid whatever the paths hold."""
    for template in templates(providers.get(name).spec):
        if template.lstrip().startswith("{"):
            json.loads(render(template, values_for(providers.get(name).spec)))


def test_opencode_gets_every_mcp_server_in_its_own_shape():
    spec = providers.get("opencode").spec
    config = json.loads(render(spec.env["OPENCODE_CONFIG_CONTENT"], values_for(spec)))
    assert set(config["mcp"]) == set(SERVERS)
    for name, (cmd, args, env) in SERVERS.items():
        assert config["mcp"][name] == {"type": "local", "command": [cmd, *args], "environment": env,
                                       "enabled": True}


def test_claude_hooks_run_the_hook_command_exactly():
    spec = providers.get("claude_code").spec
    settings = json.loads(render(spec.mcp_args[spec.mcp_args.index("--settings") + 1], DUMMY))
    stop = settings["hooks"]["Stop"][0]["hooks"][0]["command"]
    assert stop == f"{DUMMY['hook_command']} Stop"


@pytest.mark.parametrize("name", SHIPPED)
def test_config_files_parse_after_rendering(name):
    for cf in providers.get(name).spec.config_files:
        path = render(cf.path, DUMMY)
        assert not os.path.isabs(path), "config files live inside the agent's home"
        text = render(cf.content, values_for(providers.get(name).spec))
        if path.endswith(".json"):
            json.loads(text)
        elif path.endswith(".toml"):
            tomllib.loads(text)
        elif path.endswith((".yaml", ".yml")):
            yaml.safe_load(text)


# ---------------------------------------------------------------- a user's provider file

SCRIPTED = providers.get("scripted").spec


def toml_string(value: str) -> str:
    return json.dumps(value, ensure_ascii=False)  # a JSON string is a TOML basic string


def user_toml(name: str = "my_cli", *extra: str) -> str:
    """The scripted agent described as a user would: a TOML data file (`extra`: top-level lines)."""
    lines = [
        f"name = {toml_string(name)}",
        *extra,
        'description = "the scripted agent, as a user provider file"',
        f"command = [{toml_string(sys.executable)}, \"-m\", \"providers.scripted_cli\"]",
        'verified = "scripted"',
        'exit_keys = "\\u0004"',
    ]
    for p in SCRIPTED.patterns:
        lines += ["", "[[patterns]]", f'status = "{p.status.value}"', f"regex = '{p.regex}'", f"region = {p.region}"]
    a = SCRIPTED.answer
    lines += ["", "[answer]", f"start = '{a.start}'", f"stop = '{a.stop}'", f"indent = {toml_string(a.indent)}"]
    return "\n".join(lines) + "\n"


@pytest.fixture
def user_dir(tmp_path, monkeypatch):
    folder = tmp_path / "providers"
    folder.mkdir()
    (folder / "my_cli.toml").write_text(user_toml())
    monkeypatch.setenv("CAOD_PROVIDERS_DIR", str(folder))
    return folder


def test_user_file_is_listed_and_loaded(user_dir):
    assert "my_cli" in providers.names()
    spec = providers.get("my_cli").spec
    assert spec.command[-1] == "providers.scripted_cli"
    assert [p.regex for p in spec.patterns] == [p.regex for p in SCRIPTED.patterns]
    assert spec.answer == SCRIPTED.answer

    result = CliRunner().invoke(cli, ["provider", "list", "--json"])
    assert result.exit_code == 0, result.output
    rows = {r["name"]: r for r in json.loads(result.output)}
    assert rows["my_cli"]["source"] == "user" and rows["my_cli"]["on_path"] is True
    assert rows["my_cli"]["verified"] == "scripted"
    assert set(SHIPPED) <= set(rows)
    assert all(rows[n]["source"] == "builtin" and rows[n]["error"] is None for n in SHIPPED)


def test_user_file_classifies_like_the_builtin(user_dir):
    screen = "\n".join(["● pong", "", "╭" + "─" * 20 + "╮", "│ >" + " " * 18 + "│", "╰" + "─" * 20 + "╯",
                        "  ready · ? for help"]).encode()
    for name in ("my_cli", "scripted"):
        assert classify(name, screen).status is Status.IDLE
        done = classify(name, screen, after_input=True)
        assert (done.status, done.answer) == (Status.COMPLETED, "pong")


def test_malformed_user_file_is_named(user_dir):
    (user_dir / "broken.toml").write_text('name = "broken"\ndescription = "no command, no patterns"\n')
    (user_dir / "badregex.toml").write_text(
        'name = "badregex"\ndescription = "x"\ncommand = ["true"]\n'
        '[[patterns]]\nstatus = "idle"\nregex = "("\n')
    (user_dir / "other.toml").write_text(user_toml("not_other"))
    (user_dir / "badhook.toml").write_text(
        'name = "badhook"\ndescription = "x"\ncommand = ["true"]\n'
        '[[patterns]]\nstatus = "idle"\nregex = "> "\n[hook_events]\nSessionEnd = "exited"\n')
    for name in ("broken", "badregex", "other", "badhook"):
        with pytest.raises(providers.BadProvider) as e:
            providers.get(name)
        assert str(user_dir / f"{name}.toml") in str(e.value)
    assert "'SessionEnd' maps to 'exited'" in str(e.value)  # a hook cannot report an exit
    rows = {r["name"]: r for r in json.loads(CliRunner().invoke(cli, ["provider", "list", "--json"]).output)}
    assert str(user_dir / "broken.toml") in rows["broken"]["error"]
    assert rows["my_cli"]["error"] is None


def test_user_provider_through_a_real_daemon(daemon_factory, tmp_path):
    folder = tmp_path / "providers"
    folder.mkdir()
    (folder / "my_cli.toml").write_text(user_toml())
    (folder / "broken.toml").write_text("name = [not toml\n")
    d = daemon_factory.new(start=False)
    d.env["CAOD_PROVIDERS_DIR"] = str(folder)
    d.start()
    c = d.client()
    rules = json.dumps({"default": {"reply": "pong from {text}", "think": 0.1}})
    info = c.call("agent.spawn", {"provider": "my_cli", "cwd": str(ROOT), "env": {"CAO_SCRIPTED_RULES": rules}},
                  timeout=30)
    assert info.provider == "my_cli"
    c.call("agent.wait", {"agent": info.id, "statuses": ["idle"], "timeout": 20}, timeout=30)
    done = c.call("agent.send", {"agent": info.id, "text": "ping", "wait": True, "timeout": 20}, timeout=30)
    assert done.ended is Status.COMPLETED
    assert done.answer == "pong from ping"

    with pytest.raises(RpcFailure) as e:
        c.call("agent.spawn", {"provider": "broken", "cwd": str(ROOT)}, timeout=30)
    assert e.value.code == ErrorCode.NO_SUCH_PROVIDER
    assert str(folder / "broken.toml") in e.value.message
    with pytest.raises(RpcFailure) as e:
        c.call("agent.spawn", {"provider": "nobody", "cwd": str(ROOT)}, timeout=30)
    assert e.value.code == ErrorCode.NO_SUCH_PROVIDER and "nobody" in e.value.message


def test_answer_wait_holds_completed_until_the_answer_is_drawn(daemon_factory, tmp_path):
    """A CLI that draws its idle prompt before the answer (the scripted agent's `late`
    replies): with answer_wait_ms the turn completes when the answer is on screen; without,
    it would complete with the previous answer; a wait that runs out completes anyway."""
    folder = tmp_path / "providers"
    folder.mkdir()
    (folder / "late_cli.toml").write_text(user_toml("late_cli", "answer_wait_ms = 2500"))
    (folder / "short_wait.toml").write_text(user_toml("short_wait", "answer_wait_ms = 300"))
    (folder / "no_wait.toml").write_text(user_toml("no_wait"))
    d = daemon_factory.new(start=False)
    d.env["CAOD_PROVIDERS_DIR"] = str(folder)
    d.start()
    c = d.client()
    rules = json.dumps({"default": {"reply": "late {text}", "think": 0.1, "late": 0.8}})

    def turns(provider: str, texts=("one", "two")) -> tuple[list[str | None], list[dict]]:
        """The answers of these turns and the details of their `completed` events."""
        info = c.call("agent.spawn", {"provider": provider, "cwd": str(ROOT), "env": {"CAO_SCRIPTED_RULES": rules}},
                      timeout=30)
        c.call("agent.wait", {"agent": info.id, "statuses": ["idle"], "timeout": 20}, timeout=30)
        answers = []
        for text in texts:
            done = c.call("agent.send", {"agent": info.id, "text": text, "wait": True, "timeout": 20}, timeout=30)
            assert done.ended is Status.COMPLETED
            answers.append(done.answer)
        events = c.call("events.list", {"agent": info.id, "limit": 100}).events
        return answers, [e.detail for e in events if e.new is Status.COMPLETED]

    answers, details = turns("late_cli")
    assert answers == ["late one", "late two"]
    assert all(d["frame"] != "answer_wait" and d["answer_wait_ms"] >= 200 for d in details), details
    # without the wait the prompt is read first: no answer, then the previous turn's
    assert turns("no_wait")[0] == [None, "late one"]
    # a wait that runs out completes with what the screen shows then
    answers, details = turns("short_wait", ["one"])
    assert answers == [None]
    assert details[0]["frame"] == "answer_wait" and details[0]["answer_wait_ms"] >= 250, details


# ---------------------------------------------------------------- caoctl provider classify


def caoctl(*args: str, input: bytes | None = None) -> subprocess.CompletedProcess:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("CAOD_", "CAO_"))}
    return subprocess.run([sys.executable, "-m", "caoctl", *args], env=env, cwd=str(ROOT), input=input,
                          capture_output=True, timeout=60)


SCRIPTED_IDLE = "\n".join(["● done", "  second line", "", "╭──────╮", "│ >    │", "╰──────╯",
                           "  ready · ? for help"])


def test_classify_text_json_and_after_input(tmp_path):
    f = tmp_path / "screen.txt"
    f.write_text("\x1b[1m" + SCRIPTED_IDLE.replace("ready", "\x1b[32mready\x1b[0m") + "\x1b]0;title\x07\n")
    r = caoctl("provider", "classify", "--provider", "scripted", str(f), "--json")
    assert r.returncode == 0, r.stderr
    assert json.loads(r.stdout) == {"provider": "scripted", "status": "idle", "answer": None}
    r = caoctl("provider", "classify", "-p", "scripted", str(f), "--after-input")
    assert r.returncode == 0 and r.stdout.decode() == "completed\ndone\nsecond line\n"
    r = caoctl("provider", "classify", "-p", "scripted", "-", "--json", input=b"  working \xc2\xb7 esc to interrupt\n")
    assert json.loads(r.stdout)["status"] == "processing"


def test_classify_raw_renders_the_stream(tmp_path):
    # A busy frame, then a redraw over it (cursor home + erase): only the final screen counts.
    busy = (b"\x1b[?2026h\x1b[H\x1b[2J\xe2\xa0\x8b Thinking\xe2\x80\xa6\r\n"
            b"  working \xc2\xb7 esc to interrupt\x1b[?2026l")
    done = (b"\x1b[?2026h\x1b[H\x1b[2J\xe2\x97\x8f pong\r\n\r\n\xe2\x95\xad\xe2\x94\x80\xe2\x95\xae\r\n"
            b"  ready \xc2\xb7 ? for help\x1b[?2026l")
    f = tmp_path / "raw.bin"
    f.write_bytes(busy + done)
    r = caoctl("provider", "classify", "-p", "scripted", "--raw", str(f), "--after-input", "--json")
    assert json.loads(r.stdout) == {"provider": "scripted", "status": "completed", "answer": "pong"}
    f.write_bytes(busy)
    r = caoctl("provider", "classify", "-p", "scripted", "--raw", str(f), "--size", "80x24")
    assert r.stdout.decode().strip() == "processing"
    # The screen the CR redraw leaves: "ready" overwritten by a spinner on the same row.
    assert classify("scripted", b"  ready \xc2\xb7 ? for help\r  working \xc2\xb7 esc to interrupt",
                    raw=True).status is Status.PROCESSING


def test_newline_handling():
    assert prepare_stream(b"a\nb\n") == b"a\r\nb\r\n"  # no CR anywhere: LF-only capture
    assert prepare_stream(b"a\r\nb\nc") == b"a\r\nb\nc"  # a PTY capture keeps its bare LFs
    assert prepare_stream(b"a\r\nb\nc", "crlf") == b"a\r\nb\r\nc"
    assert prepare_stream(b"a\nb", "keep") == b"a\nb"
    assert screen_lines("x\x1b[31my\x1b[0m \r\nz\tw\x1b]8;;http://e\x1b\\link\x1b]8;;\x1b\\") == ["xy", "z       wlink"]


def test_classify_errors_are_one_line(tmp_path):
    f = tmp_path / "s.txt"
    f.write_text("hello")
    for args, needle in [
        (["-p", "nobody", str(f)], "unknown provider 'nobody'"),
        (["-p", "scripted", str(tmp_path / "missing.txt")], "cannot read"),
        (["-p", "scripted", str(f), "--raw", "--size", "banana"], "COLSxROWS"),
    ]:
        r = caoctl("provider", "classify", *args)
        assert r.returncode != 0
        err = r.stderr.decode().strip().splitlines()
        assert "Traceback" not in r.stderr.decode()
        assert any(needle in line for line in err), r.stderr
        if needle != "COLSxROWS":  # click's usage errors print a usage block too
            assert len(err) == 1 and err[0].startswith("caoctl: "), r.stderr


def test_provider_list_text():
    r = caoctl("provider", "list")
    assert r.returncode == 0
    out = r.stdout.decode()
    for name in SHIPPED:
        assert re.search(rf"^{name}\s", out, re.M), out
    assert msgspec.json.decode(caoctl("provider", "list", "--json").stdout)
