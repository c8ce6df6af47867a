"""Hostile profiles (caod.profiles.bounded_yaml, the size cap): a billion-laughs alias bomb, deep
nesting, an alias inside itself, an oversize file. Each is the usual one-line profile error, at
once, in the parser and through a real daemon (get, list, install, launch); the daemon is
run under a memory limit, so a regression fails the test instead of eating the machine."""

from __future__ import annotations

import resource
import subprocess
import sys
import textwrap
import time
from pathlib import Path

import pytest

from caoctl.client import RpcFailure
from caod.profiles import ProfileError, parse_profile
from caod.protocol import ErrorCode

ROOT = Path(__file__).resolve().parents[2]
MEMORY_LIMIT = 2 << 30  # address space for a daemon or parser run; 10^9 expanded values need far more
QUICK_S = 5.0


def billion_laughs(name: str) -> str:
    """Nine levels of nine aliases: 9^9 (387 million) strings once expanded, in 600 bytes."""
    lines = ["---", f"name: {name}", "l0: &l0 [lol, lol, lol, lol, lol, lol, lol, lol, lol]"]
    lines += [f"l{i}: &l{i} [{', '.join([f'*l{i - 1}'] * 9)}]" for i in range(1, 9)]
    lines += ["description: *l8", "---", "You laugh.", ""]
    return "\n".join(lines)


def deeply_nested(name: str, depth: int = 5000) -> str:
    return f"---\nname: {name}\ndescription: deep\ntags: {'[' * depth}{']' * depth}\n---\nYou dig.\n"


SELF_ALIAS = "---\nname: loop\ndescription: d\ntags: &t [a, *t]\n---\nYou loop.\n"
WIDE_ALIAS = ("---\nname: wide\ndescription: d\ns: &s \"" + "x" * 30_000 + "\"\n"
              "tags: [" + ", ".join(["*s"] * 30) + "]\n---\nYou repeat.\n")


def problem(text: str, source: str = "hostile.md") -> str:
    with pytest.raises(ProfileError) as info:
        parse_profile(text, source)
    message = str(info.value)
    assert "\n" not in message and message.startswith(f"invalid profile {source}: "), message
    return message


def test_the_alias_bomb_is_refused_at_once_by_the_parser():
    """In a child under a memory limit: without the guard it stalls, then dies of MemoryError."""
    code = textwrap.dedent("""
        import sys, time
        from caod.profiles import ProfileError, parse_profile
        text = sys.stdin.read()
        started = time.monotonic()
        try:
            parse_profile(text, "bomb.md")
        except ProfileError as e:
            print(f"{time.monotonic() - started:.3f} {e}")
    """)
    r = subprocess.run([sys.executable, "-c", code], input=billion_laughs("bomb"), capture_output=True, text=True,
                       timeout=120, cwd=ROOT,
                       preexec_fn=lambda: resource.setrlimit(resource.RLIMIT_AS, (MEMORY_LIMIT, MEMORY_LIMIT)))
    assert r.returncode == 0 and r.stderr == "", r.stderr[-2000:]
    took, message = r.stdout.strip().split(" ", 1)
    assert float(took) < 1.0, took
    assert message == ("invalid profile bomb.md: the front matter holds more than 10000 values (an alias *name "
                       "counts each time it is used) (line 7, column 5)")


def test_deep_nesting_and_alias_loops_are_profile_errors():
    message = problem(deeply_nested("deep"))
    assert message.endswith("the front matter is nested more than 32 levels deep (line 4, column 38)"), message
    assert "is used inside the value it names" in problem(SELF_ALIAS)
    assert "more than 256 KiB of text" in problem(WIDE_ALIAS)  # few values, each 30 KB
    chain = "---\nname: c\ndescription: d\n" + "".join(
        f"a{i}: &a{i} [{f'*a{i - 1}' if i else 'x'}]\n" for i in range(40)) + "---\nYou chain.\n"
    assert "nested more than 32 levels deep once its aliases (*name) are expanded" in problem(chain)


def test_ordinary_aliases_and_nesting_still_work():
    text = textwrap.dedent("""\
        ---
        name: shared
        description: &d Shares one env
        tags: [a, b]
        env: &env {LEVEL: "2", MODE: fast}
        mcpServers:
          one: {command: one, env: *env}
          two: {command: two, env: *env, args: [--x, {deep: [[[ok]]]}]}
        note: *d
        ---
        You share.
        """)
    with pytest.raises(ProfileError, match="'args' must hold strings"):  # a normal error, shown normally
        parse_profile(text, "s.md")
    p = parse_profile(text.replace(", args: [--x, {deep: [[[ok]]]}]", ""), "s.md")
    assert p.mcp_servers["one"]["env"] == p.mcp_servers["two"]["env"] == {"LEVEL": "2", "MODE": "fast"}
    assert p.extra == {"env": {"LEVEL": "2", "MODE": "fast"}, "note": "Shares one env"}


def test_an_oversize_profile_is_refused_before_parsing():
    text = "---\nname: big\ndescription: d\n---\n" + "x" * (256 * 1024)
    assert problem(text).endswith(f"it is {len(text)} bytes; a profile may be at most 256 KiB")
    parse_profile(text[: 256 * 1024], "ok.md")  # at the cap is fine


# ---------------------------------------------------------------- through the daemon


@pytest.fixture
def limited_daemon(daemon_factory):
    d = daemon_factory.new(start=False)
    d.wrapper = ["sh", "-c", f'ulimit -v {MEMORY_LIMIT // 1024} && exec "$@"', "sh"]
    d.start()
    folder = d.home / "profiles"
    folder.mkdir(mode=0o700)
    (folder / "bomb.md").write_text(billion_laughs("bomb"))
    (folder / "deep.md").write_text(deeply_nested("deep"))
    (folder / "big.md").write_text("---\nname: big\ndescription: d\n---\n" + "x" * 300_000)
    return d


def refused(call, *args, **kw) -> RpcFailure:
    started = time.monotonic()
    with pytest.raises(RpcFailure) as info:
        call(*args, timeout=30, **kw)
    assert time.monotonic() - started < QUICK_S
    assert info.value.code == ErrorCode.INVALID_PROFILE, (info.value.code, info.value.message)
    assert "\n" not in info.value.message
    return info.value


def peak_rss_mb(pid: int) -> float:
    with open(f"/proc/{pid}/status") as fh:
        line = next(x for x in fh if x.startswith("VmHWM:"))
    return int(line.split()[1]) / 1024


def test_hostile_profile_files_get_the_profile_error_from_every_path(limited_daemon):
    d = limited_daemon
    c = d.client()
    folder = d.home / "profiles"
    for name, expected in (("bomb", "holds more than 10000 values"), ("deep", "nested more than 32 levels deep"),
                           ("big", "a profile may be at most 256 KiB")):
        e = refused(c.call, "profile.get", {"name": name})
        assert e.message.startswith(f"invalid profile {folder / name}.md: ") and expected in e.message, e.message
        e = refused(c.call, "session.launch", {"profile": name, "provider": "scripted", "cwd": str(ROOT)})
        assert expected in e.message
    started = time.monotonic()
    names = [p.name for p in c.call("profile.list", timeout=30).profiles]
    assert time.monotonic() - started < QUICK_S
    assert names == ["code_supervisor", "developer", "reviewer"]  # the broken ones are skipped
    assert c.call("session.list", {}).sessions == []
    assert peak_rss_mb(d.pid) < 400


def test_installing_a_hostile_profile_is_refused_and_writes_nothing(limited_daemon):
    d = limited_daemon
    c = d.client()
    before = sorted(p.name for p in (d.home / "profiles").iterdir())
    for text, expected in ((billion_laughs("bomb2"), "holds more than 10000 values"),
                           (deeply_nested("deep2"), "nested more than 32 levels deep"),
                           (SELF_ALIAS, "is used inside the value it names")):
        e = refused(c.call, "profile.install", {"text": text, "source": "hostile.md"})
        assert e.message.startswith("invalid profile hostile.md: ") and expected in e.message, e.message
    assert sorted(p.name for p in (d.home / "profiles").iterdir()) == before
    assert c.call("daemon.ping").pid == d.pid
    assert peak_rss_mb(d.pid) < 400


def test_caoctl_shows_the_profile_error_in_one_line(limited_daemon, tmp_path):
    d = limited_daemon
    bomb = tmp_path / "bomb3.md"
    bomb.write_text(billion_laughs("bomb3"))
    for args in (["profile", "show", "bomb"], ["install", str(bomb)],
                 ["launch", "--agents", "deep", "--provider", "scripted", "--headless"]):
        started = time.monotonic()
        r = subprocess.run([sys.executable, "-m", "caoctl", *args], env=d.env, cwd=str(ROOT), capture_output=True,
                           text=True, timeout=60)
        assert time.monotonic() - started < QUICK_S + 5
        assert r.returncode == 1 and r.stdout == "", (args, r.returncode, r.stdout, r.stderr)
        lines = r.stderr.strip().splitlines()
        assert len(lines) == 1 and lines[0].startswith("caoctl: invalid profile "), (args, r.stderr)
