"""One agent: a CLI in its PTY, its screen, its status, its viewers.

Everything here runs on the event loop and is driven by events: PTY output
(add_reader), frame boundaries (sync-frame ends, or a one-shot quiescence
timer re-armed by output), the input confirm timer, and the child's exit.
"""

from __future__ import annotations

import asyncio
import time
from pathlib import Path
from typing import Any, Callable

from providers.base import CompiledProvider

from caod import exited
from caod.detector import Detector
from caod.events import EventBus
from caod.inputs import encode_input
from caod.logs import log
from caod.protocol import AgentInfo
from caod.pty_child import PtyChild
from caod.reasons import explained, screen_tail
from caod.screen import AgentScreen
from caod.status import EventKind, FrameKind, Signal, Status
from caod.store import Store
from caod.transcript import Transcript
from caod.viewers import Viewers

# A program that opened a synchronized frame and never closed it: evaluate anyway.
SYNC_STALL_S = 0.25

Transition = Callable[[Status, Status, Signal], bool]


class AgentBusy(Exception):
    pass


class AgentGone(Exception):
    pass


class Agent:
    def __init__(
        self,
        *,
        agent_id: str,
        name: str | None,
        provider: CompiledProvider,
        cwd: str,
        env: dict[str, str],
        command: list[str],
        rows: int,
        cols: int,
        transcript: Path,
        bus: EventBus,
        store: Store,
    ):
        self.id = agent_id
        self.name = name
        self.provider = provider
        self.cwd = cwd
        self.env = env
        self.command = command
        self.rows, self.cols = rows, cols
        self.created_at = time.time()
        self.status = Status.STARTING
        self.status_since = self.created_at
        self.exit_code: int | None = None
        self.exit_signal: int | None = None
        self.pid: int | None = None
        self.screen = AgentScreen(cols, rows)
        self.detector = Detector(provider)
        self.transcript_path = transcript
        self.transcript = Transcript(transcript)
        # Orchestration facts, set by the manager before start().
        self.session: str | None = None
        self.profile: str | None = None
        self.role: str | None = None
        self.parent: str | None = None
        self.spec: str | None = None  # JSON: how to launch it again
        self.token_hash: str | None = None
        self.viewers = Viewers()
        self.exited = asyncio.Event()
        self.input_lock = asyncio.Lock()
        self._bus = bus
        self._store = store
        self._loop = asyncio.get_running_loop()
        self._child: PtyChild | None = None
        self._waiters: dict[asyncio.Future, Transition] = {}  # a dict: O(1) removal of each of many
        self._frame_timer: asyncio.TimerHandle | None = None
        self._confirm_timer: asyncio.TimerHandle | None = None
        self._answer_timer: asyncio.TimerHandle | None = None  # see Provider.answer_wait_ms
        self._answer_wait_since: float | None = None
        self._edge_armed = False
        self._submit_retried = False
        self._dialog_screen: str | None = None  # the screen we last answered a dialog on
        self._start_timer: asyncio.TimerHandle | None = None  # see Provider.start_timeout_ms
        self.reason: str | None = None  # why it holds its status (AgentInfo.reason)

    # ------------------------------------------------------------ lifecycle

    async def start(self) -> None:
        self._child = await PtyChild.launch(
            self.command, self.cwd, self.env, self.rows, self.cols, self._on_output, self._on_exit
        )
        self.pid = self._child.pid
        self.screen.on_query_reply(self._answer_query)
        self._start_timer = self._loop.call_later(self.provider.spec.start_timeout_ms / 1000, self._start_overdue)
        exited.insert(self._store, self)
        self._bus.publish(
            EventKind.SPAWNED, self.id, new=Status.STARTING, signal=Signal.PROCESS,
            detail={"pid": self.pid, "provider": self.provider.name, "name": self.name,
                    "session": self.session, "profile": self.profile, "parent": self.parent},
        )

    def info(self) -> AgentInfo:
        return AgentInfo(
            id=self.id, name=self.name, provider=self.provider.name, status=self.status,
            status_since=self.status_since, pid=self.pid, cwd=self.cwd, command=self.command,
            created_at=self.created_at, rows=self.rows, cols=self.cols,
            exit_code=self.exit_code, exit_signal=self.exit_signal,
            session=self.session, profile=self.profile, role=self.role, parent=self.parent,
            reason=self.reason,
        )

    async def terminate(self, grace: float) -> None:
        if self._child is not None:
            await self._child.terminate(grace)
        await self.exited.wait()

    def resize(self, rows: int, cols: int) -> None:
        if self._child is None or self.status is Status.EXITED:
            raise AgentGone(self.id)
        self.rows, self.cols = rows, cols
        self.screen.resize(rows, cols)
        self.detector.on_resize()
        self._child.resize(rows, cols)
        self._store.write("UPDATE agents SET rows=?, cols=? WHERE id=?", (rows, cols, self.id))

    # ------------------------------------------------------------ status

    def _set_status(self, new: Status, signal: Signal, detail: dict[str, Any] | None = None) -> None:
        old = self.status
        if new is old:
            return
        if old is Status.STARTING and self._start_timer is not None:
            self._start_timer.cancel()
            self._start_timer = None
        detail = explained(self.provider, self.screen, new, detail)
        self.reason = detail.get("question") or detail.get("reason")
        self.status = new
        self.status_since = time.time()
        self._store.write(
            "UPDATE agents SET status=?, status_since=? WHERE id=?", (new.value, self.status_since, self.id)
        )
        self._bus.publish(EventKind.STATUS, self.id, old, new, signal, detail)
        for fut, pred in list(self._waiters.items()):
            if not fut.done() and pred(old, new, signal):
                fut.set_result(new)

    def _start_overdue(self) -> None:
        """The provider's start deadline passed with no prompt, question or error drawn."""
        self._start_timer = None
        if self.status is Status.STARTING:
            seconds = self.provider.spec.start_timeout_ms / 1000
            self._set_status(Status.ERROR, Signal.TIMEOUT, {
                "reason": f"did not become ready within {seconds:g} s", "screen": screen_tail(self.screen)})

    async def persisted(self) -> None:
        """Every status change so far is committed: a caller told of one can rely on it
        after a crash (a relaunch reads the events to know the agent had turns). StorageError if not."""
        await self._store.sync()

    def watch(self, pred: Transition) -> asyncio.Future:
        """A future for the next status change that satisfies `pred`, registered now."""
        fut = self._loop.create_future()
        self._waiters[fut] = pred
        fut.add_done_callback(self._waiters.pop)
        return fut

    async def wait_transition(self, pred: Transition, timeout: float) -> Status:
        return await asyncio.wait_for(self.watch(pred), timeout)

    async def wait_status(self, statuses: set[Status], timeout: float) -> Status:
        if self.status in statuses:
            return self.status
        return await self.wait_transition(lambda _o, new, _s: new in statuses, timeout)

    # ------------------------------------------------------------ output and frames

    def _on_output(self, data: bytes) -> None:
        self.transcript.write(data)
        self.viewers.send(data)
        if self._edge_armed:
            self._edge_armed = False
            if self.status in (Status.IDLE, Status.COMPLETED, Status.WAITING, Status.ERROR):
                self._set_status(Status.PROCESSING, Signal.OUTPUT)
        dirty = self.screen.feed(data, self._on_sync_frame_end)
        if self._frame_timer is not None:
            self._frame_timer.cancel()
            self._frame_timer = None
        if dirty:
            delay = SYNC_STALL_S if self.screen.in_sync else self.provider.spec.quiet_ms / 1000
            self._frame_timer = self._loop.call_later(delay, self._frame, FrameKind.QUIET)

    def _on_sync_frame_end(self) -> None:
        self._frame(FrameKind.SYNC)

    def _frame(self, kind: FrameKind) -> None:
        self._frame_timer = None
        if self.status is Status.EXITED:
            return
        self.transcript.flush()
        if self.status is Status.STARTING and self.provider.dialogs and self._answer_dialogs():
            return  # the dialog goes away with the answer: not a question to report
        new = self.detector.on_frame(self.status, self.screen.logical_lines(), self.current_answer, self.screen.title,
                                     self.screen.cols)
        if new is not None and new is not self.status:
            detail: dict[str, Any] = {"frame": kind.value}
            if self._answer_wait_since is not None and new in (Status.COMPLETED, Status.IDLE):
                # how long the answer came after the prompt
                detail["answer_wait_ms"] = round((self._loop.time() - self._answer_wait_since) * 1000)
            self._set_status(new, Signal.SCREEN, detail)
        if self.detector.holding and self._answer_timer is None:
            spec = self.provider.spec
            delay = (self.detector.answer_wait_ms() if self.detector.awaiting_turn else spec.resume_wait_ms) / 1000
            self._answer_timer = self._loop.call_later(delay, self._answer_wait_over)
            self._answer_wait_since = self._loop.time()
        elif not self.detector.holding:
            self._stop_answer_wait()
        if not self.detector.awaiting_turn and self._confirm_timer is not None:
            self._confirm_timer.cancel()
            self._confirm_timer = None

    def _stop_answer_wait(self) -> None:
        if self._answer_timer is not None:
            self._answer_timer.cancel()
            self._answer_timer = None
        self._answer_wait_since = None

    def _answer_wait_over(self) -> None:
        """No answer was drawn in time after the idle prompt: the turn (or start) ends as it is."""
        self._answer_timer = None
        self.detector.hold_expired = True
        if self._frame_timer is not None:  # this evaluation stands in for the pending one
            self._frame_timer.cancel()
        self._frame(FrameKind.ANSWER_WAIT)

    def _answer_dialogs(self) -> bool:
        """First-run dialogs (trust this folder? use this key?) answered once per screen."""
        text = self.screen.text()
        if text == self._dialog_screen:
            return False
        for regex, keys in self.provider.dialogs:
            if regex.search(text):
                self._dialog_screen = text
                self._write(keys.encode())
                log.info("answered a start-up dialog", agent=self.id, dialog=regex.pattern)
                return True
        return False

    def on_hook(self, status: Status) -> bool:
        """A CLI-native turn signal. The screen stays the check (Detector.hook_fits):
        hooks run as separate processes, so they come late and out of order."""
        if self.status is Status.EXITED or status is self.status:
            return False
        seen = self.provider.classify(self.screen.logical_lines(), self.screen.title, self.screen.cols)
        if not self.detector.hook_fits(status, seen):
            return False
        if status is Status.COMPLETED:
            self.detector.give_up_input()
            self._stop_answer_wait()
        elif status in (Status.PROCESSING, Status.WAITING) and self.detector.awaiting_turn:
            self.detector.busy_seen = True
        self._set_status(status, Signal.HOOK)
        return True

    def current_answer(self) -> tuple[int, str] | None:
        first, lines, continued = self.screen.history_and_lines()
        styles = self.screen.styles() if self.provider.reads_styles else None
        return self.detector.answer(first, lines, self.screen.cols, continued, styles)

    def last_answer(self) -> str | None:
        found = self.current_answer()
        return found[1] if found else None

    # ------------------------------------------------------------ input

    @property
    def takes_input(self) -> bool:
        """Ready for a task, or showing a prompt/error that text can answer."""
        if self.status is Status.WAITING:
            return True  # an answer to the prompt, even in the middle of a turn
        return self.status in (Status.IDLE, Status.COMPLETED, Status.ERROR) and not self.detector.awaiting_turn

    def deliver(self, text: str) -> None:
        """Type `text` as one bracketed paste plus the submit key.

        The caller holds `input_lock` and has checked `takes_input`.
        """
        if self._child is None or self.status is Status.EXITED:
            raise AgentGone(self.id)
        if not self.takes_input:
            raise AgentBusy(self.id)
        answering_choice = self.status is Status.WAITING and self.provider.spec.choice_keys
        found = self.provider.match(self.screen.logical_lines(), self.screen.title, self.screen.cols)
        self.detector.on_input(self.current_answer(), self.status, found[1] if found else None)
        self._stop_answer_wait()
        self._edge_armed = True
        self._submit_retried = False
        if answering_choice:  # typed, not pasted, and no Enter that could confirm a default
            self._child.write(encode_input(text, bracketed=False).strip())
            return
        self._child.write(encode_input(text, self.screen.bracketed_paste))
        # The submit key follows the whole paste (a big one reaches a busy CLI in
        # many writes), and the confirm window opens once the key is written.
        self._child.when_written(self._paste_written)

    def _paste_written(self) -> None:
        delay = self.provider.spec.submit_delay_ms
        if delay:
            self._loop.call_later(delay / 1000, self._press_submit)
        else:
            self._press_submit()

    def _press_submit(self) -> None:
        if self._child is not None and self.status is not Status.EXITED:
            self._child.write(self.provider.spec.submit.encode())
            self._child.when_written(self._arm_confirm)

    def _arm_confirm(self) -> None:
        if self._confirm_timer is not None:
            self._confirm_timer.cancel()
        delay = self.provider.spec.confirm_ms / 1000
        self._confirm_timer = self._loop.call_later(delay, self._confirm_input)

    def _confirm_input(self) -> None:
        """The confirm window passed: was the input taken? Press submit once more, then give up."""
        self._confirm_timer = None
        if not self.detector.awaiting_turn or self.status is Status.EXITED:
            return
        if self.detector.input_taken(self.current_answer()):
            return
        if not self._submit_retried:
            self._submit_retried = True
            self._press_submit()
            return
        self.detector.give_up_input()
        self._set_status(Status.IDLE, Signal.TIMEOUT, {"reason": "input not taken"})

    def _answer_query(self, text: str) -> None:
        """Answer a terminal query like a terminal would (Codex waits for one at
        start). An attached viewer's own terminal answers instead."""
        if not self.viewers:
            self._write(text.encode())

    def write_raw(self, data: bytes) -> None:
        """Keys from a person attached to the agent: passed through as typed."""
        self.detector.typed = True  # work from now on may be theirs, not start-up
        self._write(data)

    def _write(self, data: bytes) -> None:
        if self._child is not None and self.status is not Status.EXITED:
            self._child.write(data)

    # ------------------------------------------------------------ viewers

    def add_viewer(self, writer: asyncio.StreamWriter, redraw: bool) -> None:
        self.viewers.add(writer, self.screen.ansi_redraw() if redraw else b"")

    def remove_viewer(self, writer: asyncio.StreamWriter) -> None:
        self.viewers.remove(writer)

    # ------------------------------------------------------------ exit

    def _on_exit(self, code: int | None, sig: int | None) -> None:
        for timer in (self._frame_timer, self._confirm_timer, self._answer_timer, self._start_timer):
            if timer is not None:
                timer.cancel()
        self._frame_timer = self._confirm_timer = self._answer_timer = self._start_timer = None
        detail: dict[str, Any] = {"exit_code": code, "exit_signal": sig}
        self.exit_code, self.exit_signal = code, sig
        self._store.write(
            "UPDATE agents SET exit_code=?, exit_signal=? WHERE id=?", (code, sig, self.id)
        )
        if self.status is Status.STARTING:
            # A fatal start-up error (no network for its preflight, a refused flag, a crash):
            # an `error` that says what it printed, then the exit.
            how = f"signal {sig}" if sig is not None else f"exit code {code}"
            detail["reason"] = screen_tail(self.screen, 6) or f"exited before drawing anything ({how})"
            self._set_status(Status.ERROR, Signal.PROCESS, detail)
        self._set_status(Status.EXITED, Signal.PROCESS, detail)
        self.viewers.close()
        self.transcript.close()
        self.exited.set()
