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

# A viewer resizing an agent mid-turn makes its CLI redraw for the new width a moment after
# its last frame at the old one; in between, any CLI (Gemini, Qwen, Codex were seen) can show
# its bare prompt with neither its busy line nor the answer. After a resize, a turn that
# looks done with no new answer drawn is held open this long (a new answer ends it at once).
RESIZE_HOLD_MS = 2000
# A CLI that reports its turn's end itself (a hook) can look idle after a resize until its next
# event (real Codex 0.169 showed its bare prompt for seconds while its model worked): its own
# word, or the answer drawn, ends such a turn; the screen alone only after this long.
RESIZE_HOOK_HOLD_MS = 30000


class Detector:
    def __init__(self, provider: CompiledProvider):
        self.provider = provider
        self.awaiting_turn = False  # input delivered, turn not over yet
        self.busy_seen = False  # a busy/waiting screen since that input
        self.queued = False  # the CLI has that input but shows no work yet (queued, or submitted)
        self._box_filled = False  # a frame no pattern read since that input (our text in the box)
        self._baseline: tuple[int, str] | None = None
        self._before: Status | None = None  # what the screen showed when input went in
        self._before_pattern: int | None = None  # ... and which provider pattern said so
        self.ready_once = False  # the CLI has shown its prompt at least once
        # Input has reached the CLI (a task, or a person's keys). Before that, a busy
        # screen is the CLI's own start-up (MCP servers booting), not a turn.
        self.typed = False
        # An idle prompt after work but no new answer drawn yet: some CLIs draw
        # the prompt (or the turn's footer) before the answer text. The agent
        # holds `completed` for up to the provider's answer_wait_ms.
        self.holding = False
        self.hold_expired = False
        # Resumed with turns to show: starting ends when an answer is drawn (resume_wait_ms).
        self.expect_history = False
        self.resized = False  # resized while a turn was awaited (RESIZE_HOLD_MS)

    def answer(self, first_index: int, lines: list[str], cols: int,
               continued: list[bool] | None = None, styles: list[str] | None = None) -> tuple[int, str] | None:
        """The last answer, placed by its absolute line index."""
        found = self.provider.extract_answer(lines, cols, continued, styles)
        if found is None:
            return None
        return first_index + found[0], found[1]

    def on_input(self, baseline: tuple[int, str] | None, before: Status,
                 before_pattern: int | None = None) -> None:
        """Input was delivered; `before` is the status the screen showed then, and
        `before_pattern` the provider pattern that read it (see Provider.match)."""
        self.awaiting_turn = True
        self.busy_seen = False
        self.queued = self._box_filled = False
        self._baseline = baseline
        self._before = before
        self._before_pattern = before_pattern
        self.ready_once = True  # input only goes in once the CLI takes it
        self.typed = True
        self.holding = self.hold_expired = False
        self.resized = False

    def on_resize(self) -> None:
        """A viewer changed the screen's size: hold an answerless completion of this turn."""
        if self.awaiting_turn:
            self.resized = True

    def answer_wait_ms(self) -> int:
        """How long a turn that looks done waits for its answer to be drawn."""
        wait = self.provider.spec.answer_wait_ms
        if not self.resized:
            return wait
        told = Status.COMPLETED in self.provider.spec.hook_events.values()
        return max(wait, RESIZE_HOOK_HOLD_MS if told else RESIZE_HOLD_MS)

    def input_taken(self, current_answer: tuple[int, str] | None) -> bool:
        """The CLI has our input: it worked on it, holds it queued, or answered it."""
        return self.busy_seen or self.queued or self._answered(current_answer)

    def _answered(self, current_answer: tuple[int, str] | None) -> bool:
        """A new answer is drawn: its text differs from the one before the input. Not its
        place: a CLI that clears its scrollback and redraws (Codex) moves the old answer
        without a new turn, and a false "done" would end the turn before it began."""
        if current_answer is None:
            return False
        return self._baseline is None or current_answer[1] != self._baseline[1]

    def _answer_pending(self, found: tuple[int, str] | None) -> bool:
        """The turn's answer is not drawn yet and the provider says it may still come."""
        if not self.answer_wait_ms() or self.hold_expired or self.provider.spec.answer is None:
            return False
        return not self._answered(found) or not found[1].strip()

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

    def on_frame(self, current: Status, screen: list[str], answer_now, title: str | None = None,
                 cols: int | None = None) -> Status | None:
        """The status to move to after this frame, or None to stay.

        `answer_now` is a callable giving the current answer; it is only
        evaluated when needed, as extraction reads the scrollback. `title`
        is the window title the CLI set, for providers that read it; `cols`
        the screen's width.
        """
        self.holding = False
        found = self.provider.match(screen, title, cols)
        if found is None:
            if self.awaiting_turn:
                self._box_filled = True  # our text in an input box no prompt pattern reads as empty
            return None
        seen, pattern = found
        if seen is Status.STARTING:
            # The CLI says it is not ready yet (connecting its MCP servers), or holds input in
            # its queue until it is. Before our input that changes nothing: `starting` stays,
            # and a CLI that drew its prompt first queues what it gets. After our input, the
            # input is taken but not yet worked on, so the bare prompt it shows as it dequeues
            # the input (before drawing the turn) does not end the turn.
            if not self.awaiting_turn:
                return None
            self.queued = True
            return Status.PROCESSING
        if (self.awaiting_turn and not self.busy_seen and seen is self._before and seen is not Status.IDLE
                and (self._before_pattern is None or pattern == self._before_pattern)):
            # The prompt or error from before the input is still drawn: the CLI has not
            # reacted yet. Not a new question, not a new error. (Another pattern of the same
            # status is new: an error in the turn's place after an error in the footer.)
            return None
        if seen is Status.PROCESSING and not self.typed:
            return None  # start-up work (spinners while it boots): not ready, or already ready
        if seen in (Status.PROCESSING, Status.WAITING):
            if self.awaiting_turn:
                self.busy_seen = True
            return seen
        if seen is Status.ERROR:
            self.awaiting_turn = False
            return seen
        # The screen shows an idle prompt.
        if self.awaiting_turn:
            if self._box_filled:
                # The box held our text and is empty again: submitted, though the CLI may
                # take seconds to show the turn (OpenCode opening a session on a busy machine).
                self.queued = True
            found = answer_now()
            said_done = pattern in self.provider.finishing and pattern != self._before_pattern
            if self.busy_seen or self._answered(found) or said_done:
                if self._answer_pending(found):
                    self.holding = True
                    return None
                self.awaiting_turn = self.resized = False
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
