"""Which events a sink gets: a list of terms, any one of which matches.

    *                 every event
    KIND              every event of that kind: spawned, status, message, stalled, session
    status:STATE      a status change into STATE (waiting_user_answer, error, exited, completed, ...)
    message:STATE     a message queued for an agent, or delivered (typed) to it
    notice            a supervisor-loop notice (a message from caod to a worker's parent)
    notice:KIND       a notice of that kind: waiting, error, exited, unreported, stalled, restarted
    session:STATE     a session launched or ended

Terms are given comma-separated (`--events status:error,notice`) or repeated. A term
naming an unknown kind or status is refused when the sink is added.
"""

from __future__ import annotations

from typing import Any, Iterable

from caod.status import EventKind, Status

DEFAULT = ("status:waiting_user_answer", "status:error", "status:exited", "stalled", "notice", "session",
           "flow:failed", "workflow:stopped")
KINDS = tuple(k.value for k in EventKind)
STATES = {
    EventKind.STATUS.value: {s.value for s in Status},
    EventKind.MESSAGE.value: {"queued", "delivered"},
    "session": {"launched", "ended"},
    "flow": {"launched", "completed", "skipped", "failed"},
    "workflow": {"completed", "stopped"},
}


class BadFilter(ValueError):
    pass


def parse(terms: Iterable[str]) -> list[str]:
    """The terms, split on commas, checked and normalised; the default set when there are none."""
    out: list[str] = []
    for raw in terms:
        for term in raw.split(","):
            term = term.strip().lower()
            if term and term not in out:
                _check(term)
                out.append(term)
    return out or list(DEFAULT)


def _check(term: str) -> None:
    if term == "*":
        return
    kind, sep, value = term.partition(":")
    if kind == "notice":
        if sep and not value:
            raise BadFilter(f"event filter {term!r}: name a notice kind after 'notice:', or write 'notice'")
        return
    if kind not in KINDS:
        raise BadFilter(f"unknown event kind {kind!r} in {term!r}; known: {', '.join(KINDS)}, notice, *")
    if not sep:
        return
    allowed = STATES.get(kind)
    if allowed is None:
        raise BadFilter(f"event filter {term!r}: {kind} events have no state to pick; write {kind!r}")
    if value not in allowed:
        raise BadFilter(f"event filter {term!r}: {value!r} is not a {kind} state; known: {', '.join(sorted(allowed))}")


def matches(terms: list[str], event: dict[str, Any]) -> bool:
    """Whether the event (as its payload dict) passes any of the terms."""
    kind = event.get("kind")
    detail = event.get("detail") or {}
    for term in terms:
        if term == "*":
            return True
        want, sep, value = term.partition(":")
        if want == "notice":
            if kind == EventKind.MESSAGE.value and detail.get("notice") and (not sep or detail["notice"] == value):
                return True
            continue
        if want != kind:
            continue
        if not sep:
            return True
        got = event.get("new") if kind == EventKind.STATUS.value else detail.get("state")
        if got == value:
            return True
    return False
