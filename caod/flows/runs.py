"""One run of a flow: its script gate, its prompt, a session named after it, and the record.

Each run is one row of flow_runs: `launched` once the session is up (then `completed`
with the supervisor's answer, or `failed` if it errs or exits first), `skipped` (the
script said no, the previous run's session is still busy, or a missed slot with
`misfire: skip`), or `failed` with the reason.
"""

from __future__ import annotations

import os
from typing import TYPE_CHECKING, Any, Callable

from caod.flows.gate import GateFailed, run_gate
from caod.flows.parse import MissingValue, render
from caod.logs import log
from caod.protocol import Event, FlowRun, LaunchParams
from caod.rpc import RpcError
from caod.status import EventKind, Status
from caod.store import StorageError

if TYPE_CHECKING:
    from caod.daemon import Daemon
    from caod.flows import Entry

BUSY = (Status.PROCESSING, Status.WAITING)  # an agent in these is not to be ended
KEEP_RUNS = 1000  # runs kept per flow (a flow due every minute makes half a million a year)
COLUMNS = "id, flow, trigger, due, started_at, outcome, reason, session, agent, answer, ended_at"


def run_from_row(r: Any) -> FlowRun:
    return FlowRun(id=r[0], flow=r[1], trigger=r[2], due=r[3], started_at=r[4], outcome=r[5], reason=r[6],
                   session=r[7], agent=r[8], answer=r[9], ended_at=r[10])


class Runner:
    def __init__(self, daemon: "Daemon", now: Callable[[], float]):
        self._d = daemon
        self.now = now
        self.next_id = 0
        self._follows: dict[int, int] = {}  # run id -> bus subscription following its supervisor

    async def load(self) -> list[FlowRun]:
        """The newest run of each flow; runs still waiting for their answer are followed again."""
        row = await self._d.store.fetchone("SELECT COALESCE(MAX(id), 0) FROM flow_runs")
        self.next_id = int(row[0])
        rows = await self._d.store.fetchall(
            f"SELECT {COLUMNS} FROM flow_runs WHERE id IN (SELECT MAX(id) FROM flow_runs GROUP BY flow)")
        runs = [run_from_row(r) for r in rows]
        for run in runs:
            if run.outcome == "launched" and run.agent:
                self.follow(run)
        return runs

    def stop(self) -> None:
        for token in self._follows.values():
            self._d.bus.unsubscribe(token)
        self._follows.clear()

    async def record(self, entry: "Entry", trigger: str, due: float | None, started: float, outcome: str,
                     reason: str | None = None, session: str | None = None, agent: str | None = None) -> FlowRun:
        """Store the run (committed before this returns: a reply reports it) as the flow's last."""
        self.next_id += 1
        run = FlowRun(id=self.next_id, flow=entry.flow.name, trigger=trigger, due=due, started_at=started,
                      outcome=outcome, reason=reason, session=session, agent=agent,
                      ended_at=self.now() if outcome in ("skipped", "failed") else None)
        entry.last_run = run
        log.info("flow run", flow=run.flow, trigger=trigger, outcome=outcome, reason=reason, session=session)
        await self._d.store.commit(
            f"INSERT INTO flow_runs ({COLUMNS}) VALUES (?,?,?,?,?,?,?,?,?,?,?)",
            (run.id, run.flow, trigger, due, started, outcome, reason, session, agent, None, run.ended_at))
        self._d.store.write("DELETE FROM flow_runs WHERE flow=? AND id<=?", (run.flow, run.id - KEEP_RUNS))
        self._publish(run)
        return run

    def _publish(self, run: FlowRun) -> None:
        """The run's outcome as an event (people and sinks are told of flow runs too)."""
        detail = {"flow": run.flow, "run": run.id, "state": run.outcome, "trigger": run.trigger}
        if run.reason:
            detail["reason"] = run.reason
        if run.session:
            detail["session"] = run.session
        self._d.bus.publish(EventKind.FLOW, run.agent or "", detail=detail)

    async def run(self, entry: "Entry", trigger: str, due: float | None, missed: int = 0) -> FlowRun:
        flow = entry.flow
        started = self.now()
        if entry.starting:
            return await self.record(entry, trigger, due, started, "skipped",
                                     "the previous run of this flow is still starting (its script runs)")
        entry.starting = True
        try:
            if trigger == "missed" and flow.misfire == "skip":
                many = "1000 or more" if missed >= 1000 else str(missed)
                return await self.record(entry, trigger, due, started, "skipped",
                                         f"missed {many} scheduled run{'s' if missed != 1 else ''} while caod was "
                                         "not running or the machine slept (misfire: skip)")
            values: dict[str, Any] = {}
            if flow.script:
                env = {**os.environ, "CAO_FLOW_NAME": flow.name}
                try:
                    verdict = await run_gate(flow.script, os.path.dirname(flow.path), flow.script_timeout, env)
                except GateFailed as e:
                    return await self.record(entry, trigger, due, started, "failed", str(e))
                if not verdict.execute:
                    return await self.record(entry, trigger, due, started, "skipped", "the script said execute: false")
                values = verdict.output
            try:
                prompt = render(flow.prompt, values)
            except MissingValue as e:
                names = ", ".join(f"[[{n}]]" for n in e.names)
                return await self.record(entry, trigger, due, started, "failed",
                                         f"the script's output has no value for {names}")
            busy = self.busy(flow.session)
            if busy:
                return await self.record(entry, trigger, due, started, "skipped", busy, session=flow.session)
            try:
                await self._recycle(flow.session)
                launched = await self._d.sessions.launch(LaunchParams(
                    profile=flow.agent_profile, provider=entry.provider(self._d), session=flow.session,
                    cwd=flow.cwd, task=prompt))
            except (RpcError, StorageError) as e:
                return await self.record(entry, trigger, due, started, "failed", f"could not launch: {e.message}",
                                         session=flow.session)
            run = await self.record(entry, trigger, due, started, "launched", session=flow.session,
                                    agent=launched.supervisor.id)
            self.follow(run)
            return run
        finally:
            entry.starting = False

    def busy(self, session: str) -> str | None:
        """Why the previous run's session must not be ended now, or None."""
        s = self._d.sessions.sessions.get(session)
        if s is None or not s.active:
            return None
        for agent in self._d.agents.in_session(session):
            # Starting with work queued (its task) is busy; started again after a daemon
            # restart with nothing queued, it was idle when caod stopped.
            if agent.status in BUSY or (agent.status.live and self._d.inbox.depth(agent.id)):
                return f"the previous run's session {session} is still busy ({agent.id} is {agent.status.value})"
        return None

    async def _recycle(self, session: str) -> None:
        """End the previous run's session (idle, or stuck at an error) so the new one takes its name."""
        s = self._d.sessions.sessions.get(session)
        if s is not None and s.active:
            await self._d.sessions.shutdown([session])

    # ------------------------------------------------------------ the answer

    def follow(self, run: FlowRun) -> None:
        """Record the supervisor's answer when its turn with the prompt completes."""
        agent_id = run.agent
        assert agent_id is not None

        def on_event(event: Event) -> None:
            if event.kind is not EventKind.STATUS:
                return
            if event.new is Status.COMPLETED:
                agent = self._d.agents.agents.get(agent_id)
                self._end(run, "completed", answer=agent.last_answer() if agent is not None else None)
            elif event.new is Status.ERROR:
                agent = self._d.agents.agents.get(agent_id)
                why = agent.reason if agent is not None and agent.reason else "an error screen"
                self._end(run, "failed", reason=f"the agent showed an error: {why}", final=False)
            elif event.new is Status.EXITED:  # an error it showed first stays the reason
                self._end(run, "failed", reason=run.reason if run.outcome == "failed" else
                          "the agent exited before it answered")

        self._follows[run.id] = self._d.bus.subscribe(on_event, agent=agent_id)

    def _end(self, run: FlowRun, outcome: str, answer: str | None = None, reason: str | None = None,
             final: bool = True) -> None:
        if final:
            token = self._follows.pop(run.id, None)
            if token is not None:
                self._d.bus.unsubscribe(token)
        run.outcome, run.answer, run.reason, run.ended_at = outcome, answer, reason, self.now()
        self._d.store.write("UPDATE flow_runs SET outcome=?, answer=?, reason=?, ended_at=? WHERE id=?",
                            (outcome, answer, reason, run.ended_at, run.id))
        self._publish(run)
