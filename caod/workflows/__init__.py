"""Workflows: a fixed sequence of turns across participants (profiles or providers), as data.

Each participant is one plain agent (not a session: a workflow has no supervisor, and
its participants need no orchestration tools), spawned once in the run's folder, so it
keeps its context across its own steps; each step is one turn (caod.turns.run_turn) and
its output is the extracted answer. Every change is committed to the journal
(caod.workflows.journal) before the run goes on, so `resume` continues at the step that
did not end: a step in progress at a crash is run again from the same input. A
participant whose agent is gone is started again: into the same conversation when its
provider pins a conversation id (resume_args), else as a fresh agent that is given what
its predecessor was sent and answered in this run, ahead of the step's input.
"""

from __future__ import annotations

import asyncio
import json
import secrets
from pathlib import Path
from typing import TYPE_CHECKING

import providers as provider_registry
from caod import handover
from caod.agent import Agent, AgentBusy, AgentGone
from caod.launching import Launch, working_directory
from caod.logs import log
from caod.profiles import NoSuchProfile, ProfileError
from caod.protocol import (
    ErrorCode, RunInfo, RunWaitParams, SpawnParams, WorkflowInfo, WorkflowList, WorkflowRunParams, WorkflowStepInfo,
)
from caod.rpc import RpcError
from caod.status import EventKind, Status
from caod.turns import NotReady, NotStarted, run_turn
from caod.workflows.definitions import Workflow, WorkflowError, WorkflowStore, render
from caod.workflows.journal import COMPLETED, DONE, INTERRUPTED, RUNNING, STOPPED, Journal

if TYPE_CHECKING:
    from caod.daemon import Daemon

STEP_ENDS = frozenset({Status.COMPLETED, Status.WAITING, Status.ERROR, Status.EXITED})
STOP_GRACE_S = 3.0
MAX_PARTICIPANTS = 16


def _info(w: Workflow) -> WorkflowInfo:
    return WorkflowInfo(w.name, w.description, w.source, w.participants,
                        [WorkflowStepInfo(s.name, s.role, s.participant, s.instruction) for s in w.steps])


class Workflows:
    def __init__(self, daemon: "Daemon"):
        self._d = daemon
        self.store = WorkflowStore(daemon.home)
        self.journal = Journal(daemon.store)
        self._tasks: dict[str, asyncio.Task] = {}
        self._changed: dict[str, asyncio.Event] = {}
        self._agents: dict[str, list[Agent | None]] = {}  # live participants of runs in this daemon
        self._stopping = False

    def stop(self) -> None:
        """The daemon is stopping: a step whose agent it ends leaves its run interrupted (resume continues it)."""
        self._stopping = True

    async def load(self) -> None:
        interrupted = await self.journal.interrupt_unfinished()
        if interrupted:
            log.info("workflow runs interrupted by a daemon stop", runs=interrupted)

    # ------------------------------------------------------------ definitions

    def list(self) -> WorkflowList:
        found, problems = self.store.scan()
        return WorkflowList([_info(w) for w in sorted(found, key=lambda w: w.name)], problems)

    def get(self, name: str) -> Workflow:
        try:
            workflow = self.store.get(name)
        except WorkflowError as e:
            raise RpcError(ErrorCode.INVALID_WORKFLOW, str(e)) from None
        if workflow is None:
            raise RpcError(ErrorCode.NO_SUCH_WORKFLOW, f"no such workflow: {name} (see `caoctl workflow list`)")
        return workflow

    def show(self, name: str) -> WorkflowInfo:
        return _info(self.get(name))

    # ------------------------------------------------------------ runs

    async def run(self, p: WorkflowRunParams) -> RunInfo:
        workflow = self.get(p.workflow)
        if not p.task.strip():
            raise RpcError(ErrorCode.INVALID_PARAMS, "the task is empty")
        if not p.participants or len(p.participants) > MAX_PARTICIPANTS:
            raise RpcError(ErrorCode.INVALID_PARAMS, f"give 1 to {MAX_PARTICIPANTS} participants (--with a,b)")
        if not p.step_timeout > 0:
            raise RpcError(ErrorCode.INVALID_PARAMS, "step_timeout must be a positive number of seconds")
        for name in p.participants:
            self._participant(name)  # an unknown one is refused before anything starts
        cwd = working_directory(p.cwd)
        run_id = secrets.token_hex(4)
        while await self.journal.info(run_id) is not None:
            run_id = secrets.token_hex(4)
        await self.journal.create(run_id, workflow, p.task, list(p.participants), cwd, p.handover, p.step_timeout)
        self._start(run_id)
        return await self.journal.info(run_id)

    async def resume(self, ref: str) -> RunInfo:
        run_id = await self._resolve(ref)
        info = await self.journal.info(run_id)
        if run_id in self._tasks:
            raise RpcError(ErrorCode.AGENT_BUSY, f"run {run_id} is running already")
        if info.status == COMPLETED:
            raise RpcError(ErrorCode.INVALID_PARAMS, f"run {run_id} is complete: nothing to resume")
        await self.journal.set_run(run_id, RUNNING)
        self._start(run_id)
        return await self.journal.info(run_id)

    async def get_run(self, ref: str) -> RunInfo:
        return await self.journal.info(await self._resolve(ref))

    async def runs(self, limit: int) -> list[RunInfo]:
        return await self.journal.recent(limit)

    async def wait(self, p: RunWaitParams) -> RunInfo:
        """The run once more than `seen` of its steps ended, or it is not running (or at the timeout)."""
        run_id = await self._resolve(p.run)
        loop = asyncio.get_running_loop()
        deadline = loop.time() + max(0.0, p.timeout)
        while True:
            event = self._changed.setdefault(run_id, asyncio.Event())
            event.clear()
            info = await self.journal.info(run_id)
            ended = sum(1 for s in info.steps if s.status == DONE)
            if ended > p.seen or info.status != RUNNING or run_id not in self._tasks:
                return info
            left = deadline - loop.time()
            if left <= 0:
                return info
            try:
                await asyncio.wait_for(event.wait(), left)
            except TimeoutError:
                return await self.journal.info(run_id)

    async def _resolve(self, ref: str) -> str:
        ids = await self.journal.ids(ref)
        if ref in ids:
            return ref
        if len(ids) == 1 and len(ref) >= 4:
            return ids[0]
        if len(ids) > 1:
            raise RpcError(ErrorCode.NO_SUCH_RUN, f"run prefix {ref!r} is ambiguous")
        raise RpcError(ErrorCode.NO_SUCH_RUN, f"no such workflow run: {ref}")

    def _changed_now(self, run_id: str) -> None:
        event = self._changed.get(run_id)
        if event is not None:
            event.set()

    def _start(self, run_id: str) -> None:
        task = asyncio.get_running_loop().create_task(self._drive(run_id), name=f"workflow-{run_id}")
        self._tasks[run_id] = task

        def finished(t: asyncio.Task) -> None:
            self._tasks.pop(run_id, None)
            self._changed_now(run_id)
        task.add_done_callback(finished)

    # ------------------------------------------------------------ participants

    def _participant(self, name: str) -> tuple[str, object | None]:
        """(provider, profile or None) for one --with entry: a profile by that name, else a provider."""
        try:
            profile = self._d.sessions.profiles.get(name)
        except NoSuchProfile:
            profile = None
        except ProfileError as e:
            raise RpcError(ErrorCode.INVALID_PROFILE, str(e)) from None
        provider = profile.provider if profile is not None else name
        if not provider:
            raise RpcError(ErrorCode.INVALID_PARAMS, f"profile {name!r} names no provider: give a provider instead")
        try:
            provider_registry.get(provider)
        except (provider_registry.UnknownProvider, provider_registry.BadProvider) as e:
            raise RpcError(ErrorCode.NO_SUCH_PROVIDER, f"{name!r} is neither a profile nor a provider: {e}") from None
        return provider, profile

    async def _agent_for(self, run_id: str, slot: int, name: str, cwd: str) -> tuple[Agent, bool]:
        """The participant's agent and whether it keeps its earlier steps' context."""
        agents = self._agents.setdefault(run_id, [None] * len(await self.journal.agents(run_id)))
        current = agents[slot]
        if current is not None and current.status in (Status.IDLE, Status.COMPLETED, Status.STARTING):
            return current, True
        if current is not None and current.status.live:  # at a prompt or an error: not a state to type a step into
            await current.terminate(STOP_GRACE_S)
        provider, profile = self._participant(name)
        recorded = (await self.journal.agents(run_id))[slot]
        agent, kept = await self._relaunch(recorded, profile) if recorded else (None, False)
        if agent is None:
            params = SpawnParams(provider=provider, cwd=cwd)
            agent = await self._d.agents.spawn(params, Launch(profile=profile))
        agents[slot] = agent
        ids = await self.journal.agents(run_id)
        ids[slot] = agent.id
        await self.journal.set_agents(run_id, ids)
        return agent, kept

    async def _relaunch(self, agent_id: str, profile) -> tuple[Agent | None, bool]:
        """The recorded agent started again into its conversation, when its provider pins one."""
        if agent_id in self._d.agents.agents and self._d.agents.agents[agent_id].status.live:
            return None, False
        row = await self._d.store.fetchone("SELECT spec FROM agents WHERE id=?", (agent_id,))
        try:
            spec = json.loads(row[0]) if row and row[0] else {}
            provider = provider_registry.get(spec["spawn"]["provider"])
        except (KeyError, TypeError, ValueError, provider_registry.UnknownProvider, provider_registry.BadProvider):
            return None, False
        if not (spec.get("session_id") and provider.spec.resume_args):
            return None, False
        try:
            agent = await self._d.agents.spawn(
                SpawnParams(**spec["spawn"]), Launch(profile=profile, model=spec.get("model")),
                agent_id=agent_id, session_id=spec["session_id"], history=True)
        except (RpcError, TypeError) as e:
            log.warning("could not relaunch a workflow participant into its conversation", agent=agent_id,
                        error=str(e))
            return None, False
        return agent, True

    # ------------------------------------------------------------ driving a run

    async def _drive(self, run_id: str) -> None:
        try:
            await self._steps(run_id)
        except Exception as e:  # the run stops with the cause; the daemon goes on
            log.error("workflow run failed", run=run_id, error=repr(e))
            try:
                await self.journal.set_run(run_id, STOPPED, f"caod could not go on: {e}")
                self._publish_end(run_id, STOPPED, f"caod could not go on: {e}")
            except Exception:
                pass

    async def _steps(self, run_id: str) -> None:
        info = await self.journal.info(run_id)
        workflow = await self.journal.definition(run_id)
        outputs = {s.name: s.output or "" for s in info.steps if s.status == DONE}
        for done in info.steps:  # done, but the daemon stopped before its file was written
            if done.status == DONE and done.handover and not Path(done.handover).exists():
                await self._write_handover(run_id, workflow, Path(done.handover).parent, done.index)
        for step, record in zip(workflow.steps, info.steps):
            if record.status == DONE:
                continue
            slot = step.participant % len(info.participants)
            try:
                agent, kept = await self._agent_for(run_id, slot, info.participants[slot], info.cwd)
            except RpcError as e:
                await self._stop(run_id, record.index, step.name, f"participant {slot} could not start: {e.message}")
                return
            text = render(step.instruction, info.task, outputs)
            if not kept:
                text = _catch_up(workflow, info, slot, text)
            await self.journal.step_started(run_id, record.index, agent.id, agent.provider.name, text)
            self._changed_now(run_id)
            answer, error = await self._turn(agent, text, await self._timeout(run_id))
            if error is not None:
                await self._stop(run_id, record.index, step.name, error)
                return
            on = await self._handover_on(run_id) and handover.allowed(info.cwd)
            folder = handover.run_folder(info.cwd, run_id)
            name = handover.file_name(record.index, step.role)
            # Journal first, then the file from the journal: a crash in between leaves a file to write at resume,
            # never a file that disagrees with the journal.
            await self.journal.step_done(run_id, record.index, answer, str(folder / name) if on else None)
            if on:
                await self._write_handover(run_id, workflow, folder, record.index)
            outputs[step.name] = answer
            self._changed_now(run_id)
        await self.journal.set_run(run_id, COMPLETED)
        self._publish_end(run_id, COMPLETED)
        for agent in self._agents.pop(run_id, []):
            if agent is not None and agent.status.live:
                asyncio.get_running_loop().create_task(agent.terminate(STOP_GRACE_S))

    async def _write_handover(self, run_id: str, workflow: Workflow, folder: Path, index: int) -> None:
        """The step's handover file, from what the journal holds for it."""
        info = await self.journal.info(run_id)
        rec = info.steps[index - 1]
        step = workflow.steps[index - 1]
        row = await self._d.store.fetchone("SELECT spec FROM agents WHERE id=?", (rec.agent,))
        try:
            model = json.loads(row[0]).get("model") if row and row[0] else None
        except ValueError:
            model = None
        rows = [
            ("workflow", f"{workflow.name} (run {run_id})"),
            ("step", f"{index} of {len(workflow.steps)}: {step.name}"),
            ("from", f"caod workflow run {run_id}"),
            ("to", f"agent {rec.agent}, participant {rec.participant % len(info.participants)}, as {step.role}"),
            ("CLI", rec.provider or "?"),
            ("model", model or "the CLI's default"),
            ("sent", handover.when(rec.started_at or 0.0)),
            ("answered", handover.when(rec.ended_at or 0.0)),
        ]
        h = handover.Handover(f"{workflow.name} · step {index}: {step.name} ({step.role})", rows, rec.agent or "?",
                              rec.input or "", rec.output or "")
        await asyncio.to_thread(handover.write_file, folder, handover.file_name(index, step.role), h)

    async def _timeout(self, run_id: str) -> float:
        row = await self._d.store.fetchone("SELECT step_timeout FROM workflow_runs WHERE id=?", (run_id,))
        return float(row[0])

    async def _handover_on(self, run_id: str) -> bool:
        row = await self._d.store.fetchone("SELECT handover FROM workflow_runs WHERE id=?", (run_id,))
        return bool(row[0])

    async def _turn(self, agent: Agent, text: str, timeout: float) -> tuple[str, str | None]:
        """(answer, None) or ("", why the step did not end with an answer)."""
        try:
            turn = await run_turn(agent, text, timeout, end_on=STEP_ENDS)
        except (NotReady, TimeoutError):
            return "", f"agent {agent.id} did not finish within {timeout:g}s (status {agent.status.value})"
        except NotStarted as e:
            return "", f"agent {agent.id} did not start: {e}"
        except (AgentGone, AgentBusy, ProcessLookupError):
            return "", f"agent {agent.id} cannot take input (status {agent.status.value})"
        if turn.ended is Status.COMPLETED:
            return turn.answer or "", None
        if turn.ended is Status.WAITING:
            return "", f"agent {agent.id} stopped at a prompt: {agent.reason or 'it waits for an answer'}"
        if turn.ended is Status.ERROR:
            return "", f"agent {agent.id} reported an error" + (f": {agent.reason}" if agent.reason else "")
        if turn.ended is Status.EXITED:
            how = f"signal {agent.exit_signal}" if agent.exit_signal is not None else f"exit code {agent.exit_code}"
            return "", f"agent {agent.id} exited ({how}) before answering"
        return "", f"agent {agent.id} did not take the step's input"

    async def _stop(self, run_id: str, idx: int, step: str, why: str) -> None:
        await self.journal.step_failed(run_id, idx, why)
        if self._stopping:
            await self.journal.set_run(run_id, INTERRUPTED,
                                       f"the daemon stopped during step {idx} ({step}): resume it to continue")
        else:
            await self.journal.set_run(run_id, STOPPED, f"step {idx} ({step}): {why}")
            self._publish_end(run_id, STOPPED, f"step {idx} ({step}): {why}", step=step)
        self._changed_now(run_id)

    def _publish_end(self, run_id: str, state: str, reason: str | None = None, step: str | None = None) -> None:
        """A run that completed or stopped, as an event: people (watch, events), sinks and
        plugins learn that a workflow needs them, as the supervisor loop tells a supervisor."""
        detail = {"run": run_id, "state": state}
        if reason:
            detail["reason"] = reason
        if step:
            detail["step"] = step
        self._d.bus.publish(EventKind.WORKFLOW, "", detail=detail)


def _catch_up(workflow: Workflow, info: RunInfo, slot: int, text: str) -> str:
    """For a participant started afresh: what its predecessor in this run was sent and answered."""
    earlier = [(step, rec) for step, rec in zip(workflow.steps, info.steps)
               if rec.status == DONE and step.participant % len(info.participants) == slot]
    if not earlier:
        return text
    parts = ["You take over from an earlier agent in this workflow; its conversation is not available to you. "
             "What it was sent and answered:"]
    for step, rec in earlier:
        parts.append(f"--- step {rec.index} ({step.name}), sent ---\n{rec.input or ''}\n"
                     f"--- step {rec.index} ({step.name}), answered ---\n{rec.output or ''}")
    parts.append(f"--- now ---\n{text}")
    return "\n\n".join(parts)


__all__ = ["INTERRUPTED", "Workflows"]
