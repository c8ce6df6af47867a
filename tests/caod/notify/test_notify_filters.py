"""The event filter syntax (caod.notify.filters): parsing and matching payloads."""

from __future__ import annotations

import pytest

from caod.notify import filters


def test_terms_split_on_commas_and_repeat():
    assert filters.parse(["status:error,notice", " session ", "notice"]) == ["status:error", "notice", "session"]
    assert filters.parse([]) == list(filters.DEFAULT)
    assert filters.parse(["STATUS:Exited"]) == ["status:exited"]


@pytest.mark.parametrize("term, message", [
    ("weather", "unknown event kind 'weather'"),
    ("status:asleep", "'asleep' is not a status state"),
    ("stalled:long", "stalled events have no state to pick"),
    ("notice:", "name a notice kind"),
    ("message:read", "'read' is not a message state"),
    ("flow:done", "'done' is not a flow state"),
])
def test_bad_terms_are_refused(term, message):
    with pytest.raises(filters.BadFilter, match=message):
        filters.parse([term])


STATUS_ERROR = {"kind": "status", "new": "error", "detail": {}}
NOTICE = {"kind": "message", "detail": {"state": "queued", "notice": "stalled", "worker": "w1"}}
MESSAGE = {"kind": "message", "detail": {"state": "delivered"}}
STALLED = {"kind": "stalled", "detail": {"after_s": 60}}
FLOW_FAILED = {"kind": "flow", "detail": {"flow": "standup", "run": 3, "state": "failed"}}


@pytest.mark.parametrize("terms, event, want", [
    (["status:error"], STATUS_ERROR, True),
    (list(filters.DEFAULT), FLOW_FAILED, True),
    (["flow:completed"], FLOW_FAILED, False),
    (["status:exited"], STATUS_ERROR, False),
    (["status"], STATUS_ERROR, True),
    (["notice"], NOTICE, True),
    (["notice:stalled"], NOTICE, True),
    (["notice:error"], NOTICE, False),
    (["notice"], MESSAGE, False),
    (["message"], NOTICE, True),
    (["message:delivered"], MESSAGE, True),
    (["message:queued"], MESSAGE, False),
    (["stalled"], STALLED, True),
    (["status:error", "stalled"], STALLED, True),
    (["*"], MESSAGE, True),
    (["session"], STALLED, False),
])
def test_matching(terms, event, want):
    assert filters.matches(terms, event) is want
