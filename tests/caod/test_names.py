"""Names people give agents and sessions: printable, bounded, refused in one line (caod.names)."""

from __future__ import annotations

import pytest

from caoctl.client import RpcFailure
from caod.protocol import ErrorCode

BAD_NAMES = [
    "evil\x1b[31mred",     # an escape sequence: would paint ls and watch
    "bell\x07",
    "two\nlines",
    "tab\there",
    "del\x7f",
    "c1\x9bcsi",           # a C1 control (CSI in one byte)
    "rtl\u202eevil",       # a bidi override: reverses what follows
    "zero\u200bwidth",     # invisible
    "line\u2028sep",
    "x" * 65,
    "",
    " padded",
]
GOOD_NAMES = ["dev", "dev 2", "開発者", "レビュー担当", "naïve-ünïcode", "x" * 64]


@pytest.mark.parametrize("name", BAD_NAMES, ids=repr)
def test_bad_agent_names_are_refused_in_one_line(shared_daemon, spawn_scripted, name):
    c = shared_daemon.client()
    with pytest.raises(RpcFailure) as e:
        spawn_scripted(c, name=name)
    assert e.value.code == ErrorCode.INVALID_PARAMS
    message = e.value.message
    assert message.startswith("bad agent name ") and "\n" not in message
    assert message.isprintable(), message  # the refusal shows the name escaped, never raw
    assert not [a for a in c.call("agent.list", {}).agents if a.name == name]


def test_printable_names_wide_ones_too_are_taken(shared_daemon, spawn_scripted):
    c = shared_daemon.client()
    ids = [spawn_scripted(c, name=name).id for name in GOOD_NAMES]
    try:
        by_id = {a.id: a.name for a in c.call("agent.list", {}).agents}
        assert [by_id[i] for i in ids] == GOOD_NAMES
    finally:
        for agent_id in ids:
            c.call("agent.kill", {"agent": agent_id, "grace": 2}, timeout=20)


@pytest.mark.parametrize("name", ["fix42\n", "a\x1b[2Jb", "x" * 65, "開発"], ids=repr)
def test_bad_session_names_are_refused(shared_daemon, name):
    c = shared_daemon.client()
    with pytest.raises(RpcFailure) as e:
        c.call("session.launch", {"profile": "code_supervisor", "provider": "scripted", "session": name}, timeout=30)
    assert e.value.code == ErrorCode.INVALID_PARAMS and "bad session name" in e.value.message
    assert e.value.message.isprintable()
    assert name not in [s.name for s in c.call("session.list", {}).sessions]
