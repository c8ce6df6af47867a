"""The journal of workflow runs in SQLite: every change a run makes is committed before it
goes on, so a daemon killed mid-run leaves rows a new daemon resumes from."""

from __future__ import annotations

import json
import time
from typing import TYPE_CHECKING

from caod.protocol import RunInfo, StepRecord
from caod.workflows.definitions import Workflow, parse
from caod.handover import run_folder

if TYPE_CHECKING:
    from caod.store import Store

RUN_COLUMNS = ("id, workflow, definition, task, participants, agents, cwd, handover, step_timeout, status, reason, "
               "created_at, ended_at")
STEP_COLUMNS = ("idx, name, role, participant, status, agent, provider, input, output, error, started_at, ended_at, "
                "handover")

RUNNING, COMPLETED, STOPPED, INTERRUPTED = "running", "completed", "stopped", "interrupted"
PENDING, DONE, FAILED = "pending", "done", "failed"


class Journal:
    def __init__(self, store: "Store"):
        self._store = store

    async def create(self, run_id: str, workflow: Workflow, task: str, participants: list[str], cwd: str,
                     handover: bool, step_timeout: float) -> None:
        await self._store.commit(
            f"INSERT INTO workflow_runs ({RUN_COLUMNS}) VALUES (?,?,?,?,?,?,?,?,?,?,?,?,?)",
            (run_id, workflow.name, json.dumps(workflow.to_data()), task, json.dumps(participants),
             json.dumps([None] * len(participants)), cwd, int(handover), step_timeout, RUNNING, None, time.time(),
             None))
        for n, step in enumerate(workflow.steps, 1):
            await self._store.commit(
                "INSERT INTO workflow_steps (run, idx, name, role, participant, status) VALUES (?,?,?,?,?,?)",
                (run_id, n, step.name, step.role, step.participant, PENDING))

    async def set_run(self, run_id: str, status: str, reason: str | None = None) -> None:
        ended = None if status == RUNNING else time.time()
        await self._store.commit("UPDATE workflow_runs SET status=?, reason=?, ended_at=? WHERE id=?",
                                 (status, reason, ended, run_id))

    async def set_agents(self, run_id: str, agents: list[str | None]) -> None:
        await self._store.commit("UPDATE workflow_runs SET agents=? WHERE id=?", (json.dumps(agents), run_id))

    async def step_started(self, run_id: str, idx: int, agent: str, provider: str, text: str) -> None:
        await self._store.commit(
            "UPDATE workflow_steps SET status=?, agent=?, provider=?, input=?, output=NULL, error=NULL, "
            "started_at=?, ended_at=NULL WHERE run=? AND idx=?",
            (RUNNING, agent, provider, text, time.time(), run_id, idx))

    async def step_done(self, run_id: str, idx: int, output: str, handover: str | None) -> None:
        await self._store.commit(
            "UPDATE workflow_steps SET status=?, output=?, ended_at=?, handover=? WHERE run=? AND idx=?",
            (DONE, output, time.time(), handover, run_id, idx))

    async def step_failed(self, run_id: str, idx: int, error: str) -> None:
        await self._store.commit("UPDATE workflow_steps SET status=?, error=?, ended_at=? WHERE run=? AND idx=?",
                                 (FAILED, error, time.time(), run_id, idx))

    async def interrupt_unfinished(self) -> list[str]:
        """At start: runs a previous daemon left running are interrupted (resume continues them)."""
        rows = await self._store.fetchall("SELECT id FROM workflow_runs WHERE status=?", (RUNNING,))
        for (run_id,) in rows:
            step = await self._store.fetchone(
                "SELECT idx, name FROM workflow_steps WHERE run=? AND status != ? ORDER BY idx LIMIT 1", (run_id, DONE))
            during = f"step {step[0]} ({step[1]})" if step else "the run"
            await self.set_run(run_id, INTERRUPTED, f"the daemon stopped during {during}: resume it to continue")
        return [r[0] for r in rows]

    async def ids(self, prefix: str) -> list[str]:
        escaped = prefix.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")
        rows = await self._store.fetchall("SELECT id FROM workflow_runs WHERE id LIKE ? ESCAPE '\\'", (escaped + "%",))
        return [r[0] for r in rows]

    async def definition(self, run_id: str) -> Workflow:
        row = await self._store.fetchone("SELECT definition FROM workflow_runs WHERE id=?", (run_id,))
        return parse(json.loads(row[0]), "", f"run {run_id}")

    async def agents(self, run_id: str) -> list[str | None]:
        row = await self._store.fetchone("SELECT agents FROM workflow_runs WHERE id=?", (run_id,))
        return json.loads(row[0])

    async def info(self, run_id: str) -> RunInfo | None:
        row = await self._store.fetchone(f"SELECT {RUN_COLUMNS} FROM workflow_runs WHERE id=?", (run_id,))
        if row is None:
            return None
        steps = await self._store.fetchall(f"SELECT {STEP_COLUMNS} FROM workflow_steps WHERE run=? ORDER BY idx",
                                           (run_id,))
        return _info(row, steps)

    async def recent(self, limit: int) -> list[RunInfo]:
        rows = await self._store.fetchall(
            f"SELECT {RUN_COLUMNS} FROM workflow_runs ORDER BY created_at DESC LIMIT ?", (max(1, limit),))
        out = []
        for row in rows:
            steps = await self._store.fetchall(
                f"SELECT {STEP_COLUMNS} FROM workflow_steps WHERE run=? ORDER BY idx", (row[0],))
            out.append(_info(row, steps))
        return out


def _info(row, steps) -> RunInfo:
    run_id, workflow, _definition, task, participants, _agents, cwd, handover, _timeout, status, reason, created, \
        ended = row
    records = [StepRecord(index=s[0], name=s[1], role=s[2], participant=s[3], status=s[4], agent=s[5],
                          provider=s[6], input=s[7], output=s[8], error=s[9], started_at=s[10], ended_at=s[11],
                          handover=s[12]) for s in steps]
    return RunInfo(id=run_id, workflow=workflow, task=task, participants=json.loads(participants), cwd=cwd,
                   status=status, created_at=created, steps=records, reason=reason, ended_at=ended,
                   handover_dir=str(run_folder(cwd, run_id)) if handover else None)
