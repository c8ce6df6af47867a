"""Flows: scheduled, unattended runs of one agent session, from CAO's flow files.

One asyncio timer, armed for the earliest next run of the enabled flows, re-armed after
each wake and on add/remove/enable/disable; no polling. Slots are 5-field cron in the
local time zone (caod.flows.schedule). A slot missed while caod was down (or the machine
slept) is run once when caod notices, not once per slot; `misfire: skip` records it as
skipped instead. What each run did is in flow_runs (caod.flows.runs).
"""

from __future__ import annotations

import asyncio
import os
import time
from dataclasses import dataclass
from typing import TYPE_CHECKING

from caod.flows.gate import check_runnable
from caod.flows.parse import DEFAULT_PROVIDER, FlowError, FlowFile, parse_flow
from caod.flows.runs import COLUMNS, Runner, run_from_row
from caod.flows.schedule import BadSchedule, Schedule, clock_offset, local_zone
from caod.logs import log
from caod.protocol import ErrorCode, FlowAddParams, FlowInfo, FlowList, FlowRun
from caod.rpc import RpcError
from caod.store import StorageError

if TYPE_CHECKING:
    from caod.daemon import Daemon

# A slot noticed later than this is a missed one (caod was down, the machine slept), not a late timer.
LATE_S = 60.0
# asyncio's timers run on the monotonic clock, which stands still while the machine sleeps:
# a timer is armed for at most this long, so a slot passed in sleep is noticed soon after waking.
MAX_ARM_S = 300.0


@dataclass
class Entry:
    flow: FlowFile
    text: str
    schedule: Schedule
    enabled: bool
    added_at: float
    handled_until: float  # slots up to here were run, skipped or missed
    last_run: FlowRun | None = None
    starting: bool = False  # a run's script or launch is under way

    @property
    def next_due(self) -> float | None:
        return self.schedule.next_after(self.handled_until) if self.enabled else None

    def provider(self, daemon: "Daemon") -> str:
        if self.flow.provider:
            return self.flow.provider
        try:
            return daemon.sessions.profiles.get(self.flow.agent_profile).provider or DEFAULT_PROVIDER
        except Exception:  # a profile removed since: the run says so when it launches
            return DEFAULT_PROVIDER


class Flows:
    def __init__(self, daemon: "Daemon"):
        self._d = daemon
        self.offset = clock_offset()
        self.zone = local_zone()
        self.entries: dict[str, Entry] = {}
        self.runner = Runner(daemon, self.now)
        self._timer: asyncio.TimerHandle | None = None
        self.timer_at: float | None = None  # the slot the timer is for (flow clock)
        self._tasks: set[asyncio.Task] = set()

    def now(self) -> float:
        return time.time() + self.offset

    # ------------------------------------------------------------ start and stop

    async def load(self) -> None:
        last = {run.flow: run for run in await self.runner.load()}
        rows = await self._d.store.fetchall("SELECT name, path, text, enabled, added_at, handled_until FROM flows")
        for name, path, text, enabled, added_at, handled in rows:
            try:
                flow = parse_flow(text, path)
                schedule = Schedule(flow.schedule, self.zone)
            except (FlowError, BadSchedule) as e:  # checked at add: only a newer caod's rules could refuse it
                log.error("stored flow cannot be used", flow=name, error=str(e))
                continue
            self.entries[name] = Entry(flow, text, schedule, bool(enabled), added_at, handled, last.get(name))

    def start(self) -> None:
        """Arm the timer; a slot missed while caod was down is due at once."""
        self._arm()

    def stop(self) -> None:
        if self._timer is not None:
            self._timer.cancel()
            self._timer = None
        self.runner.stop()
        for task in list(self._tasks):
            task.cancel()

    # ------------------------------------------------------------ the timer

    def _arm(self) -> None:
        if self._timer is not None:
            self._timer.cancel()
            self._timer = None
        due = [d for e in self.entries.values() if (d := e.next_due) is not None]
        self.timer_at = min(due) if due else None
        if self.timer_at is None:
            return
        delay = max(0.0, self.timer_at - self.now())
        self._timer = asyncio.get_running_loop().call_later(min(delay, MAX_ARM_S), self._wake)

    def _wake(self) -> None:
        self._timer = None
        now = self.now()
        for entry in self.entries.values():
            due = entry.next_due
            if due is None or due > now:
                continue
            count, latest = entry.schedule.missed(entry.handled_until, now)
            assert latest is not None
            trigger = "missed" if count > 1 or now - latest > LATE_S else "schedule"
            entry.handled_until = latest
            self._d.store.write("UPDATE flows SET handled_until=? WHERE name=?", (latest, entry.flow.name))
            self._spawn(self._scheduled(entry, trigger, latest, count))
        self._arm()

    def _spawn(self, coro) -> None:
        task = asyncio.get_running_loop().create_task(coro)
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    async def _scheduled(self, entry: Entry, trigger: str, due: float, missed: int) -> None:
        try:
            await self.runner.run(entry, trigger, due, missed)
        except StorageError as e:
            log.error("flow run not stored", flow=entry.flow.name, error=e.message)
        except Exception as e:  # one flow's bug must not stop the others
            log.error("flow run failed", flow=entry.flow.name, error=repr(e))

    # ------------------------------------------------------------ the methods

    def get(self, name: str) -> Entry:
        entry = self.entries.get(name)
        if entry is None:
            known = ", ".join(sorted(self.entries)) or "none"
            raise RpcError(ErrorCode.NO_SUCH_FLOW, f"no such flow {name!r} (flows: {known})")
        return entry

    def info(self, entry: Entry, with_prompt: bool = False) -> FlowInfo:
        f = entry.flow
        return FlowInfo(name=f.name, schedule=f.schedule, agent_profile=f.agent_profile,
                        provider=entry.provider(self._d), enabled=entry.enabled, path=f.path, cwd=f.cwd,
                        session=f.session, added_at=entry.added_at, script=f.script, misfire=f.misfire,
                        next_run=entry.next_due, last_run=entry.last_run,
                        prompt=f.prompt if with_prompt else None)

    def list(self) -> FlowList:
        """The flows, and the slot the timer is armed for (what doctor reports) with its flow."""
        infos = [self.info(e) for _, e in sorted(self.entries.items())]
        due = [i for i in infos if i.next_run is not None and i.next_run == self.timer_at]
        return FlowList(infos, next_run=self.timer_at, next_flow=due[0].name if due else None)

    def _check(self, p: FlowAddParams) -> tuple[FlowFile, Schedule]:
        """The flow, or INVALID_FLOW with one line: its file, schedule, profile, provider or script."""
        source = p.path

        def refuse(problem: str) -> RpcError:
            return RpcError(ErrorCode.INVALID_FLOW, f"invalid flow {source}: {problem}")

        if not os.path.isabs(p.path):
            raise refuse("the path must be absolute")
        try:
            flow = parse_flow(p.text, p.path)
            schedule = Schedule(flow.schedule, self.zone)
        except (FlowError, BadSchedule) as e:
            raise refuse(str(e)) from None
        try:
            profile = self._d.sessions.profile(flow.agent_profile)
        except RpcError as e:
            raise refuse(f"agent_profile: {e.message}") from None
        import providers  # the registry

        provider = flow.provider or profile.provider or DEFAULT_PROVIDER
        if provider not in providers.names():
            raise refuse(f"unknown provider {provider!r} (known: {', '.join(providers.names())})")
        if flow.script:
            problem = check_runnable(flow.script)
            if problem:
                raise refuse(f"script {flow.script} cannot be run: {problem}")
        if not os.path.isdir(flow.cwd):
            raise refuse(f"working_directory {flow.cwd} is not a folder")
        return flow, schedule

    async def add(self, p: FlowAddParams) -> FlowInfo:
        flow, schedule = self._check(p)
        old = self.entries.get(flow.name)
        if old is not None and not p.replace:
            raise RpcError(ErrorCode.NAME_TAKEN, f"a flow named {flow.name!r} exists (added from {old.flow.path}); "
                           "remove it first, or add with --replace")
        now = self.now()
        await self._d.store.commit(
            "INSERT OR REPLACE INTO flows (name, path, text, enabled, added_at, handled_until) VALUES (?,?,?,?,?,?)",
            (flow.name, flow.path, p.text, 1, now, now))
        entry = Entry(flow, p.text, schedule, True, now, now, old.last_run if old else None)
        self.entries[flow.name] = entry
        self._arm()
        return self.info(entry)

    async def set_enabled(self, name: str, enabled: bool) -> FlowInfo:
        entry = self.get(name)
        if entry.enabled != enabled:
            # Enabled again: the schedule starts from now; what fell in between is not owed.
            handled = self.now() if enabled else entry.handled_until
            await self._d.store.commit("UPDATE flows SET enabled=?, handled_until=? WHERE name=?",
                                       (int(enabled), handled, name))
            entry.enabled, entry.handled_until = enabled, handled
            self._arm()
        return self.info(entry)

    async def remove(self, name: str) -> FlowInfo:
        entry = self.get(name)
        await self._d.store.commit("DELETE FROM flows WHERE name=?", (name,))
        self._d.store.write("DELETE FROM flow_runs WHERE flow=?", (name,))
        del self.entries[name]
        self._arm()
        return self.info(entry)

    async def run_now(self, name: str) -> FlowRun:
        return await self.runner.run(self.get(name), "manual", None)

    async def history(self, name: str, limit: int) -> list[FlowRun]:
        self.get(name)
        await self._d.store.flush()
        rows = await self._d.store.fetchall(
            f"SELECT {COLUMNS} FROM flow_runs WHERE flow=? ORDER BY id DESC LIMIT ?", (name, limit))
        return [run_from_row(r) for r in reversed(rows)]
