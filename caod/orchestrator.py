"""handoff, assign, send_message, answer_user_prompt (list_agents, get_result, end_worker: caod.results).

Called by agents through the MCP bridge. The caller is always derived from
its token, never from the params. Only a supervisor may start workers or
answer their prompts; any agent may message agents of its own session.
"""

from __future__ import annotations

import asyncio
import time

from caod import fanout
from caod.agent import Agent, AgentBusy, AgentGone
from caod.exited import ExitedAgent
from caod.inbox import format_message
from caod.inputs import sanitize
from caod.launching import working_directory
from caod.protocol import (
    AgentInfo,
    AnswerParams,
    AssignParams,
    AssignResult,
    ErrorCode,
    HandoffParams,
    HandoffResult,
    MessageInfo,
    SendMessageParams,
)
from caod.results import options_of
from caod.rpc import RpcError
from caod.sessions import Session, spec_isolated, spec_yolo
from caod.status import Status
from caod.turns import NotReady, NotStarted, run_turn

WORKER_STOP_GRACE_S = 3.0
# A worker at a prompt ends the handoff at once (`waiting`): the supervisor answers
# it (answer_user_prompt) and collects the rest with get_result.
HANDOFF_ENDS = frozenset({Status.COMPLETED, Status.WAITING, Status.ERROR, Status.EXITED})

REPORT_BACK = (
    "\n\nWhen you have finished, report your result to agent {caller} by calling the "
    "send_message tool with receiver_id=\"{caller}\" and your result as the message."
)


class Orchestrator:
    def __init__(self, daemon):
        self._d = daemon

    # ------------------------------------------------------------ who is calling

    def _caller(self, token: str) -> tuple[Agent, Session]:
        agent = self._d.agents.authenticate(token)
        if agent.session is None:
            raise RpcError(ErrorCode.PERMISSION_DENIED, f"agent {agent.id} is not part of a session")
        return agent, self._d.sessions.get(agent.session)

    def _supervisor(self, token: str, action: str) -> tuple[Agent, Session]:
        agent, session = self._caller(token)
        if agent.role != "supervisor":
            raise RpcError(ErrorCode.PERMISSION_DENIED,
                           f"permission denied: only a supervisor may {action} (agent {agent.id} is {agent.role or 'no role'})")
        return agent, session

    async def _member(self, session: Session, ref: str) -> Agent | ExitedAgent:
        target = await self._d.agents.lookup(ref)
        if target.session != session.name:
            raise RpcError(ErrorCode.NO_SUCH_AGENT, f"no agent {ref} in session {session.name}")
        return target

    async def _worker(self, caller: Agent, session: Session, profile_name: str, provider: str | None,
                      model: str | None, working_dir: str | None, use_worktree: bool = False,
                      repository: tuple[str, str] | None = None) -> Agent:
        profile = self._d.sessions.profile(profile_name)
        cwd = working_directory(working_dir, session.cwd)

        async def spawn(folder: str, agent_id: str | None = None) -> Agent:
            return await self._d.sessions.spawn_from_profile(
                profile, session, provider=provider or profile.provider or caller.provider.name, model=model,
                yolo=spec_yolo(caller), cwd=folder, parent=caller.id, rows=caller.rows, cols=caller.cols,
                isolate_home=spec_isolated(caller), agent_id=agent_id,
            )
        if use_worktree or profile.worktree:  # its own git worktree and branch (caod.worktrees)
            return await self._d.worktrees.start(session.name, cwd, caller.id, spawn, repository)
        return await spawn(cwd)

    # ------------------------------------------------------------ tools

    async def handoff(self, p: HandoffParams) -> HandoffResult:
        caller, session = self._supervisor(p.token, "hand off work")
        _require_text(p.message)
        if not p.timeout > 0:
            raise RpcError(ErrorCode.INVALID_PARAMS, "timeout must be a positive number of seconds")
        worker = await self._worker(caller, session, p.agent_profile, p.provider, p.model, p.working_directory,
                                    p.use_worktree)
        self._d.notices.handoff_waiting(worker.id)  # what happens to it comes back in our result, not as notices
        self._d.results.expect(worker)
        # The turn goes on if the caller hangs up (its CLI gave up on the tool call):
        # its result then reaches the caller's inbox.
        sent: list[str] = []  # the task as the worker got it (with its memory brief)
        work = asyncio.ensure_future(self._handoff_turn(worker, p, sent))
        work.add_done_callback(lambda w: self._handed_over(session, caller, worker, sent, w))
        try:
            return await asyncio.shield(work)
        except asyncio.CancelledError:
            self._d.results.deliver_late(caller, worker.id, work)
            raise

    def _handed_over(self, session: Session, caller: Agent, worker: Agent, sent: list[str], work) -> None:
        if sent and not work.cancelled() and work.exception() is None:
            result = work.result()
            self._d.handovers.record(session, "handoff", caller, worker, sent[0],
                                     answer=result.output if result.success else None,
                                     note=None if result.success else (result.error or "no answer"))

    async def _handoff_turn(self, worker: Agent, p: HandoffParams, sent: list[str]) -> HandoffResult:
        started = time.monotonic()
        waiting = False
        try:
            task = await self._d.memory.briefed(worker, p.message, self._d.sessions.profile(p.agent_profile).memory)
            sent.append(task)
            turn = await run_turn(worker, task, p.timeout, end_on=HANDOFF_ENDS)
            waiting = turn.ended is Status.WAITING
        except (NotReady, TimeoutError):
            waited = time.monotonic() - started
            return HandoffResult(False, worker.last_answer() or worker.screen.text(), worker.id,
                                 f"the worker did not finish within {p.timeout:g}s (waited {waited:.1f}s, "
                                 f"status {worker.status.value}); partial output attached")
        except NotStarted as e:
            return HandoffResult(False, worker.screen.text(), worker.id, f"the worker did not start: {e}")
        except (AgentGone, AgentBusy, ProcessLookupError):
            return HandoffResult(False, worker.screen.text(), worker.id, _gone(worker))
        finally:
            self._d.notices.handoff_returned(worker.id)
            if waiting:  # kept for the answer; ended once that turn is over
                self._d.results.end_after_turn(worker)
            elif worker.status.live:  # only after its answer (or failure) has been read
                asyncio.get_running_loop().create_task(worker.terminate(WORKER_STOP_GRACE_S))
        if waiting:
            return HandoffResult(False, None, worker.id,
                                 "the worker is waiting for an answer: answer it with answer_user_prompt, "
                                 "then collect its result with get_result",
                                 waiting=True, question=worker.reason, options=options_of(worker.reason))
        if turn.ended is Status.COMPLETED:
            return HandoffResult(True, turn.answer or "", worker.id)
        if turn.ended is Status.EXITED:
            return HandoffResult(False, worker.screen.text(), worker.id, _gone(worker))
        if turn.ended is Status.ERROR:
            return HandoffResult(False, worker.screen.text(), worker.id, "the worker reported an error")
        return HandoffResult(False, worker.screen.text(), worker.id, "the worker did not take the task")

    async def assign(self, p: AssignParams) -> AssignResult:
        caller, session = self._supervisor(p.token, "assign work")
        _require_text(p.message)
        fan = await fanout.plan(self._d, p, session)  # several workers: checked whole before any starts

        def start(provider: str | None, use_worktree: bool):
            return self._worker(caller, session, p.agent_profile, provider, p.model, p.working_directory, use_worktree,
                                fan.repository if fan else None)

        async def give_task(worker: Agent) -> None:
            self._d.results.expect(worker)
            # Queued in the durable inbox: delivered the moment the worker is ready.
            task = await self._d.memory.briefed(worker, p.message, self._d.sessions.profile(p.agent_profile).memory)
            text = task + REPORT_BACK.format(caller=caller.id)
            await self._d.inbox.post(caller.id, worker, text)
            self._d.handovers.record(session, "assign", caller, worker, format_message(caller.id, text),
                                     note="assigned: the worker reports back with send_message (a later turn)")

        if fan is None:
            workers = [await start(p.provider, p.use_worktree)]
            await give_task(workers[0])
        else:  # each in its own worktree, all started or none
            workers = await fanout.start(self._d, [lambda name=name: start(name, True) for name in fan.providers],
                                         give_task)
        return AssignResult(workers[0].id, session.name, [w.id for w in workers])

    async def send_message(self, p: SendMessageParams) -> MessageInfo:
        caller, session = self._caller(p.token)
        _require_text(p.message)
        receiver = await self._member(session, p.receiver_id)
        if receiver.id == caller.id:
            raise RpcError(ErrorCode.INVALID_PARAMS, "an agent cannot send a message to itself")
        if not isinstance(receiver, Agent) or not receiver.status.live:
            raise RpcError(ErrorCode.AGENT_EXITED, f"agent {receiver.id} has exited; the message was not stored")
        posted = await self._d.inbox.post(caller.id, receiver, p.message)
        self._d.handovers.record(session, "message", caller, receiver, format_message(caller.id, p.message))
        return posted

    async def answer_user_prompt(self, p: AnswerParams) -> AgentInfo:
        _caller, session = self._supervisor(p.token, "answer another agent's prompt")
        _require_text(p.answer)
        target = await self._member(session, p.agent_id)
        if not isinstance(target, Agent):
            raise RpcError(ErrorCode.AGENT_BUSY, f"agent {target.id} is not waiting for an answer (it has exited)")
        async with target.input_lock:
            if target.status is not Status.WAITING:
                raise RpcError(ErrorCode.AGENT_BUSY,
                               f"agent {target.id} is not waiting for an answer (it is {target.status.value})")
            try:
                target.deliver(p.answer)
            except (AgentBusy, AgentGone, ProcessLookupError) as e:
                raise RpcError(ErrorCode.AGENT_BUSY, f"agent {target.id} cannot take input: {e}") from None
        return target.info()


def _require_text(text: str) -> None:
    if not sanitize(text).strip():
        raise RpcError(ErrorCode.INVALID_PARAMS, "the message is empty")


def _gone(worker: Agent) -> str:
    how = f"signal {worker.exit_signal}" if worker.exit_signal is not None else f"exit code {worker.exit_code}"
    return f"the worker exited ({how}) before answering"
