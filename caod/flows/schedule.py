"""When a flow is due: 5-field cron expressions in the user's local time zone (croniter).

croniter (kept by Apache Airflow's maintainers, the scheduler Airflow itself uses) walks
the expression on time-zone-aware datetimes, so the offset of each slot is the one in force
on that day. Where clocks go forward, a time that does not exist runs at the first minute
after the change (croniter's answer); where they go back, a time of day that occurs twice
runs once, unless the flow runs every hour (then each real hour gets its run).
"""

from __future__ import annotations

import os
from datetime import datetime, tzinfo
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from croniter import CroniterBadCronError, CroniterBadDateError, CroniterError, croniter

# The scheduler's 'now' is time.time() plus this many seconds: tests put the daemon a few
# seconds before a minute boundary (or hours after a flow's last run) without waiting.
CLOCK_OFFSET_ENV = "CAOD_FLOW_CLOCK_OFFSET"
MISSED_CAP = 1000  # missed slots counted one by one (for the record) before "1000 or more"


class BadSchedule(ValueError):
    """A schedule that is not a usable 5-field cron expression; the message is one line."""


def clock_offset() -> float:
    raw = os.environ.get(CLOCK_OFFSET_ENV, "").strip()
    if not raw:
        return 0.0
    try:
        return float(raw)
    except ValueError:
        return 0.0


def local_zone() -> tzinfo:
    """The user's time zone with its DST rules: $TZ, else /etc/localtime, else today's fixed offset."""
    name = os.environ.get("TZ", "").strip().removeprefix(":")
    if name:
        try:
            if name.startswith("/"):
                with open(name, "rb") as fh:
                    return ZoneInfo.from_file(fh, key=name)
            return ZoneInfo(name)
        except (OSError, ValueError, ZoneInfoNotFoundError):
            pass
    try:
        with open("/etc/localtime", "rb") as fh:
            return ZoneInfo.from_file(fh, key="localtime")
    except (OSError, ValueError):
        return datetime.now().astimezone().tzinfo  # type: ignore[return-value]


class Schedule:
    def __init__(self, expression: str, zone: tzinfo):
        fields = expression.split()
        if len(fields) != 5:
            raise BadSchedule(f"schedule {expression!r} is not a 5-field cron expression "
                              "(minute hour day-of-month month day-of-week, e.g. \"*/10 * * * *\")")
        try:
            croniter(expression, datetime.now(zone)).get_next(datetime)
        except (CroniterBadCronError, CroniterBadDateError, CroniterError, ValueError, KeyError) as e:
            problem = " ".join(str(e).split()) or type(e).__name__
            raise BadSchedule(f"schedule {expression!r} is not a valid cron expression: {problem}") from None
        self.expression = expression
        self.zone = zone
        hour = fields[1]
        self._every_hour = hour == "*" or hour.startswith("*/")

    def next_after(self, ts: float) -> float:
        """The first slot strictly after `ts` (epoch seconds)."""
        it = croniter(self.expression, datetime.fromtimestamp(ts, self.zone))
        for _ in range(4):  # at most one repeated slot in a row is passed over
            slot = it.get_next(datetime).timestamp()
            if self._every_hour or datetime.fromtimestamp(slot, self.zone).fold == 0:
                return slot
        return slot

    def missed(self, after: float, now: float, cap: int = MISSED_CAP) -> tuple[int, float | None]:
        """(how many slots fell in (after, now], counted up to `cap`; the latest of them)."""
        slot = self.next_after(after)
        if slot > now:
            return 0, None
        latest = croniter(self.expression, datetime.fromtimestamp(now + 1e-5, self.zone)).get_prev(datetime)
        count = 1
        while count < cap and (slot := self.next_after(slot)) <= now:
            count += 1
        return count, latest.timestamp()
