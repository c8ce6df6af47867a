"""agent.send answers, agent.output modes, input sanitising and resizing, end to end."""

from __future__ import annotations

import os

import pytest

from caoctl.client import RpcFailure
from caod.protocol import ErrorCode
from caod.status import Status

MULTI = "first line\nsecond line\n  indented\n\nafter a blank"
RULES = {
    "rules": [
        {"match": "^multi$", "reply": MULTI},
        {"match": "^size$", "reply": "{cols}x{rows}"},
        {"match": "^slow$", "reply": "finally", "think": 3.0},
        {"match": "^turn (?P<n>\\d+)$", "reply": "answer {n}"},
    ]
}


def output(client, agent_id, mode="screen"):
    return client.call("agent.output", {"agent": agent_id, "mode": mode}).text


def test_single_line_answer(client, ready_agent, send):
    info = ready_agent(client)
    result = send(client, info.id, "hello world")
    assert result.ended is Status.COMPLETED
    assert result.agent.status is Status.COMPLETED
    assert result.answer == "echo: hello world"
    assert output(client, info.id, "last") == "echo: hello world"
    # a second turn gets its own answer, not the first one
    assert send(client, info.id, "again").answer == "echo: again"


def test_multi_line_answer(client, ready_agent, send):
    info = ready_agent(client, RULES)
    assert send(client, info.id, "multi").answer == MULTI
    assert output(client, info.id, "last") == MULTI


def test_multi_line_message(client, ready_agent, send):
    info = ready_agent(client)
    # one bracketed paste: the newline does not submit early, the whole text is one turn
    # CRLF and a lone CR are line breaks too (a CR typed as-is would submit)
    result = send(client, info.id, "line one\nline two\r\nline three\rline four")
    assert result.answer == "echo: line one\nline two\nline three\nline four"
    screen = output(client, info.id)
    assert "> line one\n  line two\n  line three\n  line four" in screen


def test_soft_wrapped_answer_is_joined(client, ready_agent, send):
    info = ready_agent(client, cols=40)
    text = "w" * 90  # wraps twice at 40 columns
    assert send(client, info.id, text).answer == "echo: " + text
    screen = output(client, info.id)
    assert "● echo: " + "w" * 32 in screen.splitlines()  # the row really wrapped


def test_output_modes(client, ready_agent, send):
    info = ready_agent(client, RULES, rows=12)
    assert output(client, info.id, "last") is None  # nothing answered yet
    assert "scripted-agent" in output(client, info.id, "screen")
    for n in range(1, 5):
        assert send(client, info.id, f"turn {n}").answer == f"answer {n}"
    screen = output(client, info.id, "screen")
    history = output(client, info.id, "history")
    assert output(client, info.id, "last") == "answer 4"
    lines = screen.splitlines()
    assert len(lines) <= 12 and lines[-1] == "  ready · ? for help"
    assert "scripted-agent" not in screen  # the banner scrolled off the screen...
    assert "scripted-agent" in history  # ...into the history
    assert history.endswith(screen)
    for n in range(1, 5):
        assert f"> turn {n}" in history and f"● answer {n}" in history
    with pytest.raises(RpcFailure) as err:
        client.call("agent.output", {"agent": info.id, "mode": "everything"})
    assert err.value.code == ErrorCode.INVALID_PARAMS


def test_output_of_an_exited_agent(client, ready_agent, send, wait_status):
    info = ready_agent(client, {"rules": [{"match": "^bye$", "exit": 0}]})
    assert send(client, info.id, "note this").answer == "echo: note this"
    client.call("agent.send", {"agent": info.id, "text": "bye"})
    wait_status(client, info.id, "exited")
    assert "Goodbye." in output(client, info.id)
    assert output(client, info.id, "last") == "echo: note this"
    got = client.call("agent.output", {"agent": info.id})
    assert got.status is Status.EXITED and got.agent == info.id


HOSTILE = (
    "before\x1b[201~after \x1b[31mred\x1b[0m \x1b[Aup \x03 ctrl-c \x04 ctrl-d"
    " \x1b[200~ paste \x9b31m c1 \x7f del \x1b\x1b[201~x"
)
HOSTILE_CLEAN = "beforeafter [31mred[0m [Aup  ctrl-c  ctrl-d  paste 31m c1  del x"


def test_escape_sequences_and_ctrl_c_arrive_as_plain_text(client, ready_agent, send):
    info = ready_agent(client)
    result = send(client, info.id, HOSTILE)
    assert result.ended is Status.COMPLETED
    assert result.answer == "echo: " + HOSTILE_CLEAN
    got = client.call("agent.get", {"agent": info.id})
    assert got.status is Status.COMPLETED  # no exit 130 from a Ctrl-C
    assert (got.exit_code, got.exit_signal) == (None, None)
    os.kill(got.pid, 0)
    # the paste was not ended early: nothing was left in the input box for a later turn
    assert send(client, info.id, "next").answer == "echo: next"


@pytest.mark.parametrize("text", ["", "   ", "\x03\x1b\x1b[201~", "\x1b[200~\x1b[201~"])
def test_empty_message_refused(client, ready_agent, text):
    info = ready_agent(client)
    with pytest.raises(RpcFailure) as err:
        client.call("agent.send", {"agent": info.id, "text": text})
    assert err.value.code == ErrorCode.INVALID_PARAMS
    assert client.call("agent.get", {"agent": info.id}).status is Status.IDLE


def test_send_without_wait_then_wait(client, ready_agent, wait_status):
    info = ready_agent(client, RULES)
    result = client.call("agent.send", {"agent": info.id, "text": "turn 7"})
    assert result.answer is None and result.ended is None
    assert wait_status(client, info.id, "completed").status is Status.COMPLETED
    assert output(client, info.id, "last") == "answer 7"


def test_send_wait_timeout(client, ready_agent, wait_status):
    info = ready_agent(client, RULES)
    with pytest.raises(RpcFailure) as err:
        client.call("agent.send", {"agent": info.id, "text": "slow", "wait": True, "timeout": 0.5}, timeout=10)
    assert err.value.code == ErrorCode.TIMEOUT
    assert err.value.data["status"] == "processing"
    assert "Thinking" in err.value.data["screen"]
    wait_status(client, info.id, "completed")
    assert output(client, info.id, "last") == "finally"


def test_resize_changes_what_the_agent_sees(client, ready_agent, send):
    info = ready_agent(client, RULES, rows=40, cols=120)
    assert (info.rows, info.cols) == (40, 120)
    assert send(client, info.id, "size").answer == "120x40"
    resized = client.call("agent.resize", {"agent": info.id, "rows": 30, "cols": 100})
    assert (resized.rows, resized.cols) == (30, 100)
    assert send(client, info.id, "size").answer == "100x30"
    client.call("agent.resize", {"agent": info.id, "rows": 50, "cols": 150})
    assert send(client, info.id, "size").answer == "150x50"
    got = client.call("agent.get", {"agent": info.id})
    assert (got.rows, got.cols) == (50, 150)
    # the conversation survived the shrink and the grow
    assert "● 120x40" in output(client, info.id, "history")
    for bad in ({"rows": 0, "cols": 80}, {"rows": 24, "cols": 1001}, {"rows": "24", "cols": 80}):
        with pytest.raises(RpcFailure) as err:
            client.call("agent.resize", {"agent": info.id, **bad})
        assert err.value.code == ErrorCode.INVALID_PARAMS, bad


def test_spawn_size_is_what_the_agent_sees(client, ready_agent, send):
    info = ready_agent(client, RULES, rows=25, cols=90)
    assert send(client, info.id, "size").answer == "90x25"


def test_a_reported_turn_end_survives_kill_9(daemon, daemon_factory, ready_agent, send):
    # The window between a reply and a lazy commit is a few ms: a few rounds make a miss unlikely.
    current, agents = daemon, []
    for _ in range(4):
        c = current.client()
        info = ready_agent(c)
        assert send(c, info.id, "hello").ended is Status.COMPLETED
        current.agent_pids.add(info.pid)
        current.proc.kill()  # right after the reply: what it reported must already be committed
        current.proc.wait(timeout=15)
        agents.append(info.id)
        current = daemon_factory.same(current)
    c = current.client()
    for agent in agents:  # a relaunch relies on it to know the agent had turns
        assert Status.COMPLETED in [e.new for e in c.call("events.list", {"agent": agent}).events], agent
