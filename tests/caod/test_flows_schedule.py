"""Flow files and schedules, without a daemon: CAO's format parsed, [[name]] filled,
5-field cron walked in a real time zone across both DST changes (croniter, tzdata)."""

from __future__ import annotations

from datetime import datetime
from zoneinfo import ZoneInfo

import pytest

from caod.flows.parse import FlowError, MissingValue, parse_flow, render
from caod.flows.schedule import BadSchedule, Schedule

BERLIN = ZoneInfo("Europe/Berlin")


def at(*parts: int) -> float:
    return datetime(*parts, tzinfo=BERLIN).timestamp()


def local(ts: float) -> str:
    return datetime.fromtimestamp(ts, BERLIN).strftime("%Y-%m-%d %H:%M %Z")


def test_every_minute_is_the_next_minute_boundary():
    s = Schedule("* * * * *", BERLIN)
    assert s.next_after(at(2026, 1, 5, 9, 41, 58)) == at(2026, 1, 5, 9, 42)
    assert s.next_after(at(2026, 1, 5, 9, 42)) == at(2026, 1, 5, 9, 43)  # strictly after


def test_a_time_that_does_not_exist_runs_after_the_clocks_go_forward_once():
    s = Schedule("30 2 * * *", BERLIN)  # 2026-03-29 02:00 -> 03:00 in Berlin
    first = s.next_after(at(2026, 3, 28, 12, 0))
    second = s.next_after(first)
    assert [local(first), local(second)] == ["2026-03-29 03:00 CEST", "2026-03-30 02:30 CEST"]


def test_a_time_that_occurs_twice_when_clocks_go_back_runs_once():
    s = Schedule("30 2 * * *", BERLIN)  # 2026-10-25 03:00 CEST -> 02:00 CET
    first = s.next_after(at(2026, 10, 24, 12, 0))
    second = s.next_after(first)
    assert [local(first), local(second)] == ["2026-10-25 02:30 CEST", "2026-10-26 02:30 CET"]
    assert second - first == 25 * 3600  # that day has 25 hours


def test_an_hourly_flow_gets_each_real_hour_when_clocks_go_back():
    s = Schedule("15 * * * *", BERLIN)
    slots = [s.next_after(at(2026, 10, 25, 1, 20))]
    for _ in range(3):
        slots.append(s.next_after(slots[-1]))
    assert [local(t) for t in slots] == ["2026-10-25 02:15 CEST", "2026-10-25 02:15 CET",
                                         "2026-10-25 03:15 CET", "2026-10-25 04:15 CET"]
    assert all(b - a == 3600 for a, b in zip(slots, slots[1:]))


def test_missed_slots_are_counted_and_the_latest_is_named():
    s = Schedule("0 * * * *", BERLIN)
    assert s.missed(at(2026, 1, 5, 9, 30), at(2026, 1, 5, 12, 10)) == (3, at(2026, 1, 5, 12, 0))
    assert s.missed(at(2026, 1, 5, 9, 30), at(2026, 1, 5, 9, 59)) == (0, None)
    assert s.missed(at(2026, 1, 5, 9, 30), at(2026, 1, 5, 10, 0)) == (1, at(2026, 1, 5, 10, 0))  # on the slot
    count, latest = Schedule("* * * * *", BERLIN).missed(at(2026, 1, 1, 0, 0), at(2026, 2, 1, 0, 0, 30))
    assert (count, latest) == (1000, at(2026, 2, 1, 0, 0))  # counted up to a cap, the latest exact


@pytest.mark.parametrize("expression, problem", [
    ("* * * *", "is not a 5-field cron expression"),
    ("0 0 * * * *", "is not a 5-field cron expression"),
    ("61 * * * *", "is not a valid cron expression"),
    ("* * * foo *", "is not a valid cron expression"),
])
def test_bad_schedules_are_refused_in_one_line(expression, problem):
    with pytest.raises(BadSchedule) as e:
        Schedule(expression, BERLIN)
    assert problem in str(e.value) and "\n" not in str(e.value)


CAO_FILE = """---
name: local-task-demo
schedule: "*/10 * * * *"
agent_profile: developer
script: ./gate.sh
engine: v2
---

Append one line to `[[log_file]]` with this timestamp: [[timestamp]].
"""


def test_a_cao_flow_file_parses_with_its_script_beside_it():
    flow = parse_flow(CAO_FILE, "/home/me/flows/local-task.md")
    assert (flow.name, flow.schedule, flow.agent_profile, flow.provider) == (
        "local-task-demo", "*/10 * * * *", "developer", None)
    assert flow.script == "/home/me/flows/gate.sh" and flow.cwd == "/home/me/flows"
    assert flow.session == "cao-flow-local-task-demo" and flow.misfire == "run"
    assert flow.placeholders() == ["log_file", "timestamp"] and flow.extra == {"engine": "v2"}


def test_placeholders_are_filled_and_a_missing_one_is_named():
    prompt = "Look at [[repo]] ([[ count ]] open), again [[repo]]."
    assert render(prompt, {"repo": "caod", "count": 3}) == "Look at caod (3 open), again caod."
    with pytest.raises(MissingValue) as e:
        render(prompt, {"repo": "caod", "other": 1})
    assert e.value.names == ["count"]


@pytest.mark.parametrize("text, problem", [
    ("no front matter", "no YAML front matter"),
    ("---\nname: x\nschedule: '* * * * *'\n---\nhi", "missing required field 'agent_profile'"),
    ("---\nname: a b\nschedule: '* * * * *'\nagent_profile: p\n---\nhi", "field 'name'"),
    ("---\nname: x\nschedule: '* * * * *'\nagent_profile: p\nmisfire: later\n---\nhi", "field 'misfire'"),
    ("---\nname: x\nschedule: '* * * * *'\nagent_profile: p\n---\n", "the body (the prompt) is empty"),
    ("---\nname: x\nschedule: '* * * * *'\nagent_profile: p\n---\nUse [[v]].", "no script gives values"),
    ("---\na: &a [1, 1]\nb: &b [*a, *a, *a, *a, *a, *a, *a, *a, *a, *a]\nc: &c [*b, *b, *b, *b, *b, *b, *b, *b, *b]\n"
     "d: [*c, *c, *c, *c, *c, *c, *c, *c, *c, *c, *c, *c, *c, *c, *c, *c, *c, *c, *c, *c, *c, *c, *c, *c, *c, *c, "
     "*c, *c, *c, *c, *c, *c, *c, *c, *c, *c, *c, *c, *c, *c, *c, *c, *c, *c, *c, *c, *c, *c, *c, *c, *c, *c, *c, "
     "*c, *c, *c, *c, *c, *c, *c, *c]\n---\nhi", "more than 10000 values"),
])
def test_bad_flow_files_are_refused_in_one_line(text, problem):
    with pytest.raises(FlowError) as e:
        parse_flow(text, "/tmp/f.md")
    assert problem in str(e.value) and "\n" not in str(e.value)
