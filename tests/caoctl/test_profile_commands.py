"""caoctl install / profile list / profile show, run as a user runs them, against a real daemon."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

from caod.protocol import ErrorCode

BUILTINS = ["code_supervisor", "developer", "reviewer"]

ANALYST = """---
name: analyst
description: Reads data and writes short reports
role: reviewer
model: sonnet
allowedTools: [fs_read, "@cao-mcp-server"]
mcpServers:
  cao-mcp-server:
    type: stdio
    command: cao-mcp-server
    args: [--verbose]
    env: {LEVEL: 2}
tags: data, reports
toolsSettings: {fs_read: {paths: [data]}}
---
# Analyst

You read the data folder and write short reports.
"""


def write(tmp_path: Path, name: str, text: str) -> Path:
    path = tmp_path / name
    path.write_text(text)
    return path


def test_profile_list_shows_the_builtins(daemon, caoctl, caoctl_json):
    r = caoctl(daemon, "profile", "list")
    assert r.returncode == 0, r.stderr
    lines = r.stdout.splitlines()
    assert lines[0].split() == ["NAME", "ROLE", "PROVIDER", "SOURCE", "DESCRIPTION"]
    assert [line.split()[:4] for line in lines[1:]] == [
        ["code_supervisor", "supervisor", "-", "builtin"],
        ["developer", "developer", "-", "builtin"],
        ["reviewer", "reviewer", "-", "builtin"],
    ]
    listed = caoctl_json(daemon, "profile", "list")
    assert [p["name"] for p in listed] == BUILTINS
    for p in listed:
        assert p["source"] == "builtin" and p["description"] and p["path"].endswith(f"{p['name']}.md")
        assert "system_prompt" not in p  # list never carries prompts


def test_install_a_file_then_list_and_show(daemon, caoctl, caoctl_json, tmp_path):
    path = write(tmp_path, "analyst.md", ANALYST)
    r = caoctl(daemon, "install", str(path))
    assert r.returncode == 0, r.stderr
    target = daemon.home / "profiles" / "analyst.md"
    assert r.stdout.strip() == f"installed profile analyst (role reviewer) from the file {path} -> {target}"
    assert target.read_text() == ANALYST
    # the same file again is fine
    assert caoctl(daemon, "install", str(path)).returncode == 0

    names = [p["name"] for p in caoctl_json(daemon, "profile", "list")]
    assert names == ["analyst", *BUILTINS]
    r = caoctl(daemon, "profile", "list")
    assert [line.split()[:4] for line in r.stdout.splitlines() if line.startswith("analyst")] == [
        ["analyst", "reviewer", "-", "user"]]

    r = caoctl(daemon, "profile", "show", "analyst")
    assert r.returncode == 0, r.stderr
    out = r.stdout
    for expected in ("name:        analyst", "role:        reviewer", "model:       sonnet", "source:      user",
                     f"path:        {target}", "tags:        data, reports", "tools:       fs_read, @cao-mcp-server",
                     "  cao-mcp-server: cao-mcp-server --verbose"):
        assert expected in out, (expected, out)
    assert out.rstrip().endswith("# Analyst\n\nYou read the data folder and write short reports.")

    info = caoctl_json(daemon, "profile", "show", "analyst")
    assert info["system_prompt"] == "# Analyst\n\nYou read the data folder and write short reports."
    assert info["allowed_tools"] == ["fs_read", "@cao-mcp-server"]
    assert info["mcp_servers"]["cao-mcp-server"]["env"] == {"LEVEL": "2"}
    assert info["tags"] == ["data", "reports"] and info["source"] == "user"


def test_install_json_and_force(daemon, caoctl, caoctl_json, one_line_error, tmp_path):
    path = write(tmp_path, "a.md", ANALYST)
    info = caoctl_json(daemon, "install", str(path))
    assert info["name"] == "analyst" and info["role"] == "reviewer" and info["source"] == "user"
    changed = write(tmp_path, "b.md", ANALYST.replace("short reports.\n", "long reports.\n"))
    one_line_error(caoctl(daemon, "install", str(changed)), 1,
                   "caoctl: profile 'analyst' is already installed (use --force to replace it)")
    r = caoctl(daemon, "install", str(changed), "--force")
    assert r.returncode == 0, r.stderr
    assert caoctl_json(daemon, "profile", "show", "analyst")["system_prompt"].endswith("long reports.")


def test_install_a_builtin_by_name_and_override(daemon, caoctl, caoctl_json, tmp_path):
    r = caoctl(daemon, "install", "developer")
    assert r.returncode == 0, r.stderr
    target = daemon.home / "profiles" / "developer.md"
    assert r.stdout.strip() == f"installed built-in profile developer (role developer) -> {target}"
    shown = caoctl_json(daemon, "profile", "show", "developer")
    assert shown["source"] == "user" and shown["path"] == str(target)
    # the user edits their copy: it now wins over the built-in
    target.write_text(target.read_text().replace("You are a developer agent", "You are a careful developer agent"))
    assert "careful developer" in caoctl_json(daemon, "profile", "show", "developer")["system_prompt"]
    assert caoctl(daemon, "install", "developer").returncode == 1  # would drop the edits
    assert caoctl(daemon, "install", "developer", "--force").returncode == 0
    assert "careful developer" not in caoctl_json(daemon, "profile", "show", "developer")["system_prompt"]
    listed = {p["name"]: p["source"] for p in caoctl_json(daemon, "profile", "list")}
    assert listed == {"code_supervisor": "builtin", "developer": "user", "reviewer": "builtin"}


def test_install_from_stdin(daemon, caoctl):
    r = caoctl(daemon, "install", "-", input=ANALYST)
    assert r.returncode == 0, r.stderr
    assert "installed profile analyst (role reviewer) from stdin" in r.stdout


def test_install_a_name_that_is_also_a_file_here_says_which(daemon, tmp_path):
    def install(*args):
        return subprocess.run([sys.executable, "-m", "caoctl", "install", *args], env=daemon.env, cwd=tmp_path,
                              capture_output=True, text=True, timeout=60)

    write(tmp_path, "reviewer", ANALYST)  # a file named like a built-in (its profile is "analyst")
    r = install("reviewer")
    assert r.returncode == 0, r.stderr
    target = daemon.home / "profiles" / "reviewer.md"
    assert r.stdout.strip() == (f"installed built-in profile reviewer (role reviewer) -> {target} "
                                "(not the file reviewer here: for that, give ./reviewer)")
    assert not (daemon.home / "profiles" / "analyst.md").exists()
    r = install("./reviewer")
    assert r.returncode == 0, r.stderr
    assert r.stdout.startswith("installed profile analyst (role reviewer) from the file ./reviewer -> ")
    # a bare name that is no built-in is the file, as before
    write(tmp_path, "mine", ANALYST.replace("name: analyst", "name: mine"))
    r = install("mine")
    assert r.returncode == 0 and r.stdout.startswith("installed profile mine (role reviewer) from the file mine"), r


def test_errors_are_one_line(daemon, caoctl, one_line_error, tmp_path):
    bad_role = write(tmp_path, "x.md", "---\nname: x\ndescription: d\nrole: boss\n---\nbody\n")
    one_line_error(caoctl(daemon, "install", str(bad_role)), 1,
                   f"caoctl: invalid profile {bad_role}: field 'role': must be one of supervisor, developer, "
                   "reviewer (got 'boss')")
    no_desc = write(tmp_path, "y.md", "---\nname: y\n---\nbody\n")
    one_line_error(caoctl(daemon, "install", str(no_desc)), 1, "missing required field 'description'")
    no_fm = write(tmp_path, "z.md", "just a prompt\n")
    one_line_error(caoctl(daemon, "install", str(no_fm)), 1, "no YAML front matter (the file must start with ---)")
    bad_yaml = write(tmp_path, "w.md", "---\nname: w\ndescription: d\nmodel: a: b\n---\nbody\n")
    one_line_error(caoctl(daemon, "install", str(bad_yaml)), 1, "front matter is not valid YAML: ")
    empty = write(tmp_path, "e.md", "---\nname: e\ndescription: d\n---\n\n")
    one_line_error(caoctl(daemon, "install", str(empty)), 1, "the body (system prompt) is empty")

    one_line_error(caoctl(daemon, "install", "nosuchthing"), 1, "caoctl: no such file or built-in profile: "
                   "nosuchthing (built-ins: code_supervisor, developer, reviewer)")
    one_line_error(caoctl(daemon, "install", "./missing.md"), 1, "no such file or built-in profile: ./missing.md")
    one_line_error(caoctl(daemon, "install", str(tmp_path)), 1, "is a directory")
    binary = tmp_path / "bin.md"
    binary.write_bytes(b"\xff\xfe\x00---")
    one_line_error(caoctl(daemon, "install", str(binary)), 1, "not UTF-8 text")

    one_line_error(caoctl(daemon, "profile", "show", "nope"), 1,
                   "caoctl: no such profile 'nope' (known: code_supervisor, developer, reviewer)")
    assert not (daemon.home / "profiles").exists() or not list((daemon.home / "profiles").iterdir())


def test_wire_errors(daemon):
    """profile.* straight over JSON-RPC: error codes and the text/builtin rule."""
    from caoctl.client import RpcFailure

    c = daemon.client()

    def fails(method: str, params: dict) -> RpcFailure:
        try:
            c.call(method, params)
        except RpcFailure as e:
            return e
        raise AssertionError(f"{method} {params} did not fail")

    assert fails("profile.get", {"name": "nope"}).code == ErrorCode.NO_SUCH_PROFILE
    assert fails("profile.install", {}).code == ErrorCode.INVALID_PARAMS
    assert fails("profile.install", {"text": ANALYST, "builtin": "developer"}).code == ErrorCode.INVALID_PARAMS
    assert fails("profile.install", {"builtin": "nope"}).code == ErrorCode.NO_SUCH_PROFILE
    e = fails("profile.install", {"text": "---\nname: q\n---\nb\n", "source": "q.md"})
    assert e.code == ErrorCode.INVALID_PROFILE
    assert e.message == "invalid profile q.md: missing required field 'description'"
    info = c.call("profile.install", {"text": ANALYST})
    assert info.name == "analyst" and info.system_prompt is None
    assert c.call("profile.get", {"name": "analyst"}).system_prompt.startswith("# Analyst")
    assert fails("profile.install", {"text": ANALYST.replace("sonnet", "opus")}).code == ErrorCode.NAME_TAKEN
    # a user file broken by hand: list skips it, get names the problem
    (daemon.home / "profiles" / "broken.md").write_text("oops\n")
    assert [p.name for p in c.call("profile.list", {}).profiles] == ["analyst", *BUILTINS]
    e = fails("profile.get", {"name": "broken"})
    assert e.code == ErrorCode.INVALID_PROFILE and "no YAML front matter" in e.message
    json.dumps(e.message)
