"""Turning rendered screens into status changes.

Pure logic over a provider and screen lines, so it is tested without a PTY.
The agent calls `on_input` when it delivers a task and `on_frame` at every
frame boundary; `on_frame` answers the status to move to, or None.

The hard part is the moment after input, before the CLI has reacted: its
old screen is still drawn. An idle prompt then means the turn is over only
if we saw the agent work (a busy screen) or a new answer appeared; the
prompt or error it showed before the input is stale. If nothing happens,
the agent's confirm timer decides (press submit again, then give up).
"""

from __future__ import annotations

from providers.base import CompiledProvider

from caod.status import Status


class Detector:
    def __init__(self, provider: CompiledProvider):
        self.provider = provider
        self.awaiting_turn = False  # input delivered, turn not over yet
        self.busy_seen = False  # a busy/waiting screen since that input
        self._baseline: tuple[int, str] | None = None
        self._before: Status | None = None  # what the screen showed when input went in
        self.ready_once = False  # the CLI has shown its prompt at least once
        # An idle prompt after work but no new answer drawn yet: some CLIs draw
        # the prompt (or the turn's footer) before the answer text. The agent
        # holds `completed` for up to the provider's answer_wait_ms.
        self.holding = False
        self.hold_expired = False
        # Resumed with turns to show: starting ends when an answer is drawn (resume_wait_ms).
        self.expect_history = False

    def answer(self, first_index: int, lines: list[str], cols: int,
               continued: list[bool] | None = None) -> tuple[int, str] | None:
        """The last answer, placed by its absolute line index."""
        found = self.provider.extract_answer(lines, cols, continued)
        if found is None:
            return None
        return first_index + found[0], found[1]

    def on_input(self, baseline: tuple[int, str] | None, before: Status) -> None:
        self.awaiting_turn = True
        self.busy_seen = False
        self._baseline = baseline
        self._before = before
        self.ready_once = True  # input only goes in once the CLI takes it
        self.holding = self.hold_expired = False

    def input_taken(self, current_answer: tuple[int, str] | None) -> bool:
        return self.busy_seen or (current_answer is not None and current_answer != self._baseline)

    def _answer_pending(self, found: tuple[int, str] | None) -> bool:
        """The turn's answer is not drawn yet and the provider says it may still come."""
        if not self.provider.spec.answer_wait_ms or self.hold_expired or self.provider.spec.answer is None:
            return False
        return found is None or found == self._baseline or not found[1].strip()

    def _history_pending(self, answer_now) -> bool:
        """Resumed, but the old conversation is not drawn yet (its prompt came first)."""
        if not (self.expect_history and self.provider.spec.resume_wait_ms) or self.hold_expired:
            return False
        return answer_now() is None

    def hook_fits(self, status: Status, seen: Status | None) -> bool:
        """Whether a CLI hook's status may apply to what the screen (`seen`) shows.

        A hook is a process the CLI starts; under load it reaches us late, after
        the screen has moved on, and hooks of one turn may arrive out of order.
        """
        stale_prompt = self.awaiting_turn and not self.busy_seen  # our input not acted on yet
        if status is Status.COMPLETED:
            # Work or a question still drawn (Claude's Stop with background tasks),
            # or the previous turn's late stop (Codex notify lags ~0.2 s).
            return seen not in (Status.PROCESSING, Status.WAITING) and not stale_prompt
        if status is Status.WAITING:
            # The question must be drawn, and not be the one our input just answered:
            # Claude's PermissionRequest hook can land after `1` was typed.
            return seen is Status.WAITING and not (stale_prompt and self._before is Status.WAITING)
        if status is Status.PROCESSING:
            # Our input was submitted (the hook confirms it), or the screen shows the work;
            # otherwise it is a late one from a turn already over.
            return self.awaiting_turn or seen is Status.PROCESSING
        return False  # not a hook status (providers are checked at load)

    def give_up_input(self) -> None:
        self.awaiting_turn = False

    def on_frame(self, current: Status, screen: list[str], answer_now) -> Status | None:
        """The status to move to after this frame, or None to stay.

        `answer_now` is a callable giving the current answer; it is only
        evaluated when needed, as extraction reads the scrollback.
        """
        self.holding = False
        seen = self.provider.classify(screen)
        if seen is None:
            return None
        if self.awaiting_turn and not self.busy_seen and seen is self._before and seen is not Status.IDLE:
            # The prompt or error from before the input is still drawn: the
            # CLI has not reacted yet. Not a new question, not a new error.
            return None
        if seen in (Status.PROCESSING, Status.WAITING):
            if self.awaiting_turn:
                self.busy_seen = True
            return seen
        if seen is Status.ERROR:
            self.awaiting_turn = False
            return seen
        # The screen shows an idle prompt.
        if self.awaiting_turn:
            found = answer_now()
            if self.input_taken(found):
                if self._answer_pending(found):
                    self.holding = True
                    return None
                self.awaiting_turn = False
                self.ready_once = True
                return Status.COMPLETED
            return None
        if current is Status.COMPLETED:
            return None  # completed stays until the next input
        if not self.ready_once and self._history_pending(answer_now):
            self.holding = True
            return None
        if self.ready_once and current in (Status.WAITING, Status.PROCESSING):
            # Busy without our input (a person typed in attach, or an answer
            # to a prompt finished): the work it did is a finished turn.
            return Status.COMPLETED
        self.ready_once = True  # busy while starting up (spinners) is no turn
        return Status.IDLE
