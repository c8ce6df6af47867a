"""Detector and provider logic over plain screen lines (no PTY, no daemon)."""

from __future__ import annotations

import msgspec
import pytest

import providers
from caod.detector import Detector
from caod.status import Status
from providers.base import Pattern, Provider

SCRIPTED = providers.get("scripted")

BOX = ["╭" + "─" * 20 + "╮", "│ > " + " " * 16 + " │", "╰" + "─" * 20 + "╯"]
IDLE = [*BOX, "  ready · ? for help"]
BUSY = ["⠙ Thinking… (0s · esc to interrupt)", "  working · esc to interrupt"]
WAITING = ["? Do you want to proceed? Deploy", "❯ 1. Yes", "  2. No", "  (press 1 or 2 · esc to cancel)"]
ERROR = [*BOX, "  ✗ error · boom"]


def screen(*blocks: list[str], blank: int = 3) -> list[str]:
    """Screen rows: the blocks in order, then blank rows (an inline TUI rarely fills the screen)."""
    rows: list[str] = []
    for block in blocks:
        rows += block
    return rows + [""] * blank


def turn(prompt: str, answer: list[str]) -> list[str]:
    return [f"> {prompt}", "", f"● {answer[0]}", *(f"  {line}" for line in answer[1:]), ""]


# ---------------------------------------------------------------- classify


@pytest.mark.parametrize(
    "rows, status",
    [
        (screen(IDLE), Status.IDLE),
        (screen(turn("hi", ["echo: hi"]), IDLE), Status.IDLE),
        (screen(turn("hi", ["x"]), BUSY), Status.PROCESSING),
        (screen(WAITING), Status.WAITING),
        (screen(turn("e", ["x"]), ERROR), Status.ERROR),
        (screen(["just a banner"]), None),
        ([""] * 10, None),
    ],
)
def test_scripted_classify(rows, status):
    assert SCRIPTED.classify(rows) is status


def test_classify_looks_only_at_the_bottom_region():
    # an old idle footer high up, a busy screen at the bottom: busy wins
    rows = screen(IDLE, ["> next", ""], BUSY)
    assert SCRIPTED.classify(rows) is Status.PROCESSING
    # the idle pattern's region is 2 lines: a footer 3 lines up no longer counts
    assert SCRIPTED.classify(screen(IDLE, ["a", "b"])) is None


def test_classify_pattern_order_and_hook():
    p = Provider(
        name="t", description="", command=["true"],
        patterns=[Pattern(Status.WAITING, r"^ask$"), Pattern(Status.IDLE, r"^\$ $|^\$$")],
    ).compiled()
    assert p.classify(["ask", "$"]) is Status.WAITING  # first pattern that matches wins
    assert p.classify(["$", "", ""]) is Status.IDLE
    hooked = Provider(
        name="h", description="", command=["true"], patterns=[Pattern(Status.IDLE, ".")],
    ).compiled(classify_hook=lambda lines: Status.ERROR if "bad" in lines else None)
    assert hooked.classify(["bad"]) is Status.ERROR
    assert hooked.classify(["fine"]) is None  # the hook replaces the patterns


# ---------------------------------------------------------------- extract_answer


def test_extract_single_and_multi_line():
    rows = screen(turn("a", ["first"]), turn("b", ["line one", "line two", "  indented"]), IDLE)
    begin, text = SCRIPTED.extract_answer(rows, 40)
    assert text == "line one\nline two\n  indented"
    assert rows[begin].startswith("● line one")


def test_extract_without_answer_or_without_rules():
    assert SCRIPTED.extract_answer(screen(IDLE), 40) is None
    bare = Provider(name="b", description="", command=["true"], patterns=[]).compiled()
    assert bare.extract_answer(["● x"], 40) is None


def test_extract_stops_at_the_next_prompt_and_error():
    rows = screen(turn("a", ["answer"]), ["> typed but not answered", ""], IDLE)
    assert SCRIPTED.extract_answer(rows, 40)[1] == "answer"
    rows = screen(turn("a", ["answer"]), ["✗ Error: boom", ""], ERROR)
    assert SCRIPTED.extract_answer(rows, 40)[1] == "answer"


def test_extract_joins_soft_wrapped_rows():
    cols = 12
    # "● " + 10 chars fills the row: the terminal wrapped the rest onto the next row
    rows = screen(["> q", "", "● abcdefghij", "klmnop", "", *IDLE])
    assert SCRIPTED.extract_answer(rows, cols)[1] == "abcdefghijklmnop"
    # a wrapped continuation of an indented line, wrapping twice
    rows = screen(["● top", "  0123456789", "abcdefghijkl", "xyz", "  next", "", *IDLE])
    assert SCRIPTED.extract_answer(rows, cols)[1] == "top\n0123456789abcdefghijklxyz\nnext"


def test_extract_without_cols_does_not_join():
    rows = screen(["● abcdefghij", "klmnop", "", *IDLE])
    assert SCRIPTED.extract_answer(rows, None)[1] == "abcdefghij\nklmnop"
    # a row shorter than the width is a real line break
    assert SCRIPTED.extract_answer(rows, 13)[1] == "abcdefghij\nklmnop"


def test_detector_answer_is_placed_by_absolute_index():
    d = Detector(SCRIPTED)
    rows = screen(turn("a", ["x"]), IDLE)
    assert d.answer(100, rows, 40) == (102, "x")


# ---------------------------------------------------------------- detector


def test_starting_screen_becomes_idle():
    d = Detector(SCRIPTED)
    assert d.on_frame(Status.STARTING, screen(["banner"]), lambda: None) is None
    assert d.on_frame(Status.STARTING, screen(IDLE), lambda: None) is Status.IDLE
    assert d.on_frame(Status.IDLE, screen(IDLE), lambda: None) is Status.IDLE


def test_turn_with_busy_screen_completes():
    d = Detector(SCRIPTED)
    d.on_input(None, Status.IDLE)
    assert d.awaiting_turn
    assert d.on_frame(Status.PROCESSING, screen(BUSY), lambda: None) is Status.PROCESSING
    assert d.busy_seen
    answer = (5, "done")
    assert d.on_frame(Status.PROCESSING, screen(turn("q", ["done"]), IDLE), lambda: answer) is Status.COMPLETED
    assert not d.awaiting_turn


def test_idle_screen_before_the_input_is_taken_is_not_completed():
    d = Detector(SCRIPTED)
    baseline = (3, "old answer")
    d.on_input(baseline, Status.IDLE)
    # the old answer still shows and nothing looked busy: not taken yet
    assert d.on_frame(Status.PROCESSING, screen(IDLE), lambda: baseline) is None
    assert d.awaiting_turn
    assert not d.input_taken(baseline)
    # a new answer without a busy frame in between (a very fast turn)
    assert d.input_taken((9, "new answer"))
    assert d.on_frame(Status.PROCESSING, screen(IDLE), lambda: (9, "new answer")) is Status.COMPLETED


def test_the_old_answer_moved_by_a_redraw_is_not_a_new_answer():
    # Codex clears its scrollback and redraws: the previous answer lands at another place
    # before the new turn shows. Only a busy screen or a new text ends the turn.
    d = Detector(SCRIPTED)
    d.on_input((3, "pong"), Status.IDLE)
    assert d.on_frame(Status.PROCESSING, screen(IDLE), lambda: (8, "pong")) is None
    assert d.awaiting_turn and not d.input_taken((8, "pong"))
    assert d.on_frame(Status.PROCESSING, screen(BUSY), lambda: (8, "pong")) is Status.PROCESSING
    # the same text again, after work: a turn that answered what it answered before
    assert d.on_frame(Status.PROCESSING, screen(IDLE), lambda: (12, "pong")) is Status.COMPLETED


def test_give_up_input():
    d = Detector(SCRIPTED)
    d.on_input(None, Status.IDLE)
    d.give_up_input()
    assert not d.awaiting_turn
    assert d.on_frame(Status.PROCESSING, screen(IDLE), lambda: None) is Status.COMPLETED


def test_waiting_and_error_screens():
    d = Detector(SCRIPTED)
    d.on_input(None, Status.IDLE)
    assert d.on_frame(Status.PROCESSING, screen(WAITING), lambda: None) is Status.WAITING
    assert d.busy_seen
    d = Detector(SCRIPTED)
    d.on_input(None, Status.IDLE)
    assert d.on_frame(Status.PROCESSING, screen(ERROR), lambda: None) is Status.ERROR
    assert not d.awaiting_turn  # an error screen ends the turn


def test_completed_stays_until_next_input():
    d = Detector(SCRIPTED)
    calls = []

    def answer():
        calls.append(1)
        return (1, "x")

    assert d.on_frame(Status.COMPLETED, screen(IDLE), answer) is None
    assert calls == []  # extraction is only done when needed


@pytest.mark.parametrize("current", [Status.WAITING, Status.PROCESSING])
def test_busy_without_our_input_then_idle_is_a_finished_turn(current):
    d = Detector(SCRIPTED)
    assert d.on_frame(Status.STARTING, screen(IDLE), lambda: None) is Status.IDLE  # it was ready once
    assert d.on_frame(current, screen(IDLE), lambda: None) is Status.COMPLETED


def test_error_then_idle_without_input_goes_idle():
    d = Detector(SCRIPTED)
    assert d.on_frame(Status.ERROR, screen(IDLE), lambda: None) is Status.IDLE


def test_unknown_screen_keeps_the_status():
    d = Detector(SCRIPTED)
    d.on_input(None, Status.IDLE)
    assert d.on_frame(Status.PROCESSING, screen(["some output", "more"]), lambda: None) is None
    assert d.awaiting_turn and not d.busy_seen


@pytest.mark.parametrize("before, stale", [(Status.WAITING, WAITING), (Status.ERROR, ERROR)])
def test_the_screen_from_before_the_input_is_stale(before, stale):
    d = Detector(SCRIPTED)
    d.on_input((1, "old"), before)
    # the CLI has not redrawn yet: the old prompt/error is not a new status
    assert d.on_frame(before, screen(stale), lambda: (1, "old")) is None
    assert d.awaiting_turn
    assert d.on_frame(before, screen(BUSY), lambda: (1, "old")) is Status.PROCESSING
    # after it worked, the same kind of screen is new
    assert d.on_frame(Status.PROCESSING, screen(stale), lambda: (1, "old")) is before


# ---------------------------------------------------------------- hooks


def test_hooks_apply_only_where_the_screen_agrees():
    d = Detector(SCRIPTED)
    # no turn of ours: a stop on an idle screen is a finished turn (a person's, in attach) ...
    assert d.hook_fits(Status.COMPLETED, Status.IDLE)
    assert d.hook_fits(Status.COMPLETED, None)
    # ... but not while work or a question is drawn (background tasks)
    assert not d.hook_fits(Status.COMPLETED, Status.PROCESSING)
    assert not d.hook_fits(Status.COMPLETED, Status.WAITING)
    # a question only while one is drawn
    assert d.hook_fits(Status.WAITING, Status.WAITING)
    for seen in (Status.PROCESSING, Status.IDLE, None):
        assert not d.hook_fits(Status.WAITING, seen)
    # outside a turn, work only while the screen shows it: a late UserPromptSubmit is not
    assert d.hook_fits(Status.PROCESSING, Status.PROCESSING)
    assert not d.hook_fits(Status.PROCESSING, Status.IDLE)
    assert not d.hook_fits(Status.PROCESSING, None)
    assert not d.hook_fits(Status.IDLE, Status.IDLE)  # no hook maps to a start


def test_hooks_during_a_turn():
    d = Detector(SCRIPTED)
    d.on_input((1, "old"), Status.IDLE)
    assert d.hook_fits(Status.PROCESSING, Status.IDLE)  # submitted, not drawn yet
    assert not d.hook_fits(Status.COMPLETED, Status.IDLE)  # the turn has not shown yet: a late stop
    d.on_frame(Status.PROCESSING, screen(BUSY), lambda: (1, "old"))
    assert d.hook_fits(Status.COMPLETED, Status.IDLE)
    assert d.hook_fits(Status.WAITING, Status.WAITING)


def test_a_late_hook_for_the_question_just_answered_does_not_apply():
    d = Detector(SCRIPTED)
    d.on_input((1, "old"), Status.WAITING)  # `1` typed into the approval prompt
    # the prompt is still drawn, or the work it started is: the hook is for the old prompt
    assert not d.hook_fits(Status.WAITING, Status.WAITING)
    assert not d.hook_fits(Status.WAITING, Status.PROCESSING)
    d.on_frame(Status.PROCESSING, screen(BUSY), lambda: (1, "old"))
    assert not d.hook_fits(Status.WAITING, Status.PROCESSING)
    assert d.hook_fits(Status.WAITING, Status.WAITING)  # after work, a question drawn is a new one


def test_a_different_screen_right_after_input_counts():
    d = Detector(SCRIPTED)
    d.on_input((1, "old"), Status.WAITING)
    assert d.on_frame(Status.WAITING, screen(ERROR), lambda: (1, "old")) is Status.ERROR


def test_spinners_while_starting_stay_starting_and_end_in_idle_not_completed():
    d = Detector(SCRIPTED)
    assert d.on_frame(Status.STARTING, screen(BUSY), lambda: None) is None  # booting: still starting
    assert d.on_frame(Status.STARTING, screen(IDLE), lambda: None) is Status.IDLE
    # a CLI that draws its prompt, then boots its MCP servers with a spinner (Codex): no turn
    assert d.on_frame(Status.IDLE, screen(BUSY), lambda: None) is None
    assert d.on_frame(Status.IDLE, screen(IDLE), lambda: None) in (None, Status.IDLE)  # idle, not completed
    # once a person has typed into it (attach), work nobody sent through caod is a turn
    d.typed = True
    assert d.on_frame(Status.IDLE, screen(BUSY), lambda: None) is Status.PROCESSING
    assert d.on_frame(Status.PROCESSING, screen(IDLE), lambda: None) is Status.COMPLETED


def test_a_starting_reading_holds_starting_and_marks_input_queued():
    spec = msgspec.structs.replace(SCRIPTED.spec, patterns=[
        Pattern(Status.STARTING, r"^  queued: "), *SCRIPTED.spec.patterns])
    d = Detector(spec.compiled())
    queued = screen(["  queued: hi"], IDLE)
    assert d.on_frame(Status.STARTING, queued, lambda: None) is None
    assert d.on_frame(Status.STARTING, screen(IDLE), lambda: None) is Status.IDLE
    d.on_input(None, Status.IDLE)
    assert d.on_frame(Status.IDLE, queued, lambda: None) is Status.PROCESSING
    assert d.input_taken(None)  # no second submit: the CLI holds the input
    # the bare prompt it shows as it takes the input from its queue does not end the turn
    assert d.on_frame(Status.PROCESSING, screen(IDLE), lambda: None) is None
    assert d.on_frame(Status.PROCESSING, screen(BUSY), lambda: None) is Status.PROCESSING
    assert d.on_frame(Status.PROCESSING, screen(IDLE), lambda: (5, "hi back")) is Status.COMPLETED


# ---------------------------------------------------------------- answer_wait_ms

def late_detector(wait_ms: int = 3000) -> Detector:
    """The scripted provider as a CLI that draws its prompt before the answer's text."""
    return Detector(msgspec.structs.replace(SCRIPTED.spec, answer_wait_ms=wait_ms).compiled())


def test_an_idle_prompt_before_the_answer_is_drawn_holds_the_turn_open():
    d = late_detector()
    old = (2, "previous answer")
    d.on_input(old, Status.COMPLETED)
    assert d.on_frame(Status.COMPLETED, screen(BUSY), lambda: old) is Status.PROCESSING
    prompt_back = screen(turn("p", ["previous answer"]), ["> q", ""], IDLE)
    # the prompt is back but the answer is still the old one, or an empty one, or none
    for found in (old, (9, ""), (9, "  \n "), None):
        assert d.on_frame(Status.PROCESSING, prompt_back, lambda f=found: f) is None
        assert d.holding and d.awaiting_turn
    # a busy frame in between (a tool step) is no hold
    assert d.on_frame(Status.PROCESSING, screen(BUSY), lambda: old) is Status.PROCESSING
    assert not d.holding
    # the answer is drawn: completed at once
    assert d.on_frame(Status.PROCESSING, screen(turn("q", ["new"]), IDLE), lambda: (9, "new")) is Status.COMPLETED
    assert not d.holding and not d.awaiting_turn


def test_the_hold_ends_when_the_wait_runs_out():
    d = late_detector()
    d.on_input(None, Status.IDLE)
    d.on_frame(Status.IDLE, screen(BUSY), lambda: None)
    assert d.on_frame(Status.PROCESSING, screen(IDLE), lambda: None) is None
    d.hold_expired = True  # the agent's answer_wait_ms timer
    assert d.on_frame(Status.PROCESSING, screen(IDLE), lambda: None) is Status.COMPLETED
    d.on_input(None, Status.COMPLETED)  # the next turn waits again
    assert not d.hold_expired
    d.on_frame(Status.COMPLETED, screen(BUSY), lambda: None)
    assert d.on_frame(Status.PROCESSING, screen(IDLE), lambda: None) is None


def test_without_answer_wait_an_empty_answer_completes_at_once():
    d = Detector(SCRIPTED)
    d.on_input(None, Status.IDLE)
    d.on_frame(Status.IDLE, screen(BUSY), lambda: None)
    assert d.on_frame(Status.PROCESSING, screen(IDLE), lambda: None) is Status.COMPLETED
    assert not d.holding


def test_a_resumed_start_waits_for_the_old_conversation():
    d = Detector(msgspec.structs.replace(SCRIPTED.spec, resume_wait_ms=5000).compiled())
    d.expect_history = True
    # the prompt is drawn before the old turns: still starting
    assert d.on_frame(Status.STARTING, screen(IDLE), lambda: None) is None
    assert d.holding
    # a spinner while it loads (still starting), then the history with its answer: ready
    assert d.on_frame(Status.STARTING, screen(BUSY), lambda: None) is None
    assert not d.holding
    assert d.on_frame(Status.STARTING, screen(turn("q", ["old"]), IDLE), lambda: (3, "old")) is Status.IDLE
    assert not d.holding and d.ready_once


def test_a_resumed_start_without_history_is_ready_when_the_wait_runs_out():
    d = Detector(msgspec.structs.replace(SCRIPTED.spec, resume_wait_ms=5000).compiled())
    d.expect_history = True
    assert d.on_frame(Status.STARTING, screen(IDLE), lambda: None) is None
    d.hold_expired = True
    assert d.on_frame(Status.STARTING, screen(IDLE), lambda: None) is Status.IDLE
    # not resumed, or a provider without resume_wait_ms: ready at the first prompt
    for spec, expect in ((SCRIPTED.spec, True), (msgspec.structs.replace(SCRIPTED.spec, resume_wait_ms=5000), False)):
        d = Detector(spec.compiled())
        d.expect_history = expect
        assert d.on_frame(Status.STARTING, screen(IDLE), lambda: None) is Status.IDLE


def test_an_input_box_that_empties_after_holding_our_text_means_the_input_was_taken():
    # OpenCode (and Gemini CLI, Qwen Code): pasted text makes the idle pattern fail; when the box
    # is empty again the CLI has the input, though it may show the turn seconds later
    d = Detector(SCRIPTED)
    d.on_input(None, Status.IDLE)
    assert d.on_frame(Status.PROCESSING, screen(IDLE), lambda: None) is None
    assert not d.input_taken(None)  # the paste not even drawn yet: the submit may be lost
    assert d.on_frame(Status.PROCESSING, screen(["> say hi", "  typing"]), lambda: None) is None
    assert d.on_frame(Status.PROCESSING, screen(IDLE), lambda: None) is None  # taken, not done
    assert d.input_taken(None) and d.awaiting_turn
    assert d.on_frame(Status.PROCESSING, screen(BUSY), lambda: None) is Status.PROCESSING
    assert d.on_frame(Status.PROCESSING, screen(IDLE), lambda: (4, "hi")) is Status.COMPLETED


def test_after_a_resize_mid_turn_an_answerless_prompt_holds_the_turn_open():
    """A viewer's resize makes the CLI redraw: its bare prompt may show before its busy line
    is drawn again. Without a new answer, the turn waits (RESIZE_HOLD_MS), then ends."""
    d = Detector(SCRIPTED)
    assert d.answer_wait_ms() == 0
    d.on_input(None, Status.IDLE)
    d.on_frame(Status.IDLE, screen(BUSY), lambda: None)
    d.on_resize()
    assert d.answer_wait_ms() >= 1000
    assert d.on_frame(Status.PROCESSING, screen(IDLE), lambda: None) is None
    assert d.holding and d.awaiting_turn
    assert d.on_frame(Status.PROCESSING, screen(BUSY), lambda: None) is Status.PROCESSING  # the redraw
    assert d.on_frame(Status.PROCESSING, screen(turn("q", ["done"]), IDLE), lambda: (9, "done")) is Status.COMPLETED
    assert d.answer_wait_ms() == 0  # the next turn holds only if resized again
    d.on_input((9, "done"), Status.COMPLETED)
    d.on_frame(Status.COMPLETED, screen(BUSY), lambda: None)
    d.on_resize()
    assert d.on_frame(Status.PROCESSING, screen(IDLE), lambda: (9, "done")) is None
    d.hold_expired = True  # the agent's timer
    assert d.on_frame(Status.PROCESSING, screen(IDLE), lambda: (9, "done")) is Status.COMPLETED


def test_a_resize_while_no_turn_is_awaited_changes_nothing():
    d = Detector(SCRIPTED)
    d.on_resize()
    d.on_input(None, Status.IDLE)
    d.on_frame(Status.IDLE, screen(BUSY), lambda: None)
    assert d.on_frame(Status.PROCESSING, screen(IDLE), lambda: None) is Status.COMPLETED


def test_after_a_resize_a_cli_that_reports_its_turns_end_is_trusted_for_it():
    """A CLI with a turn-end hook may look idle after a resize until its next event: its
    hook (or a new answer) ends the turn; the screen alone only after RESIZE_HOOK_HOLD_MS."""
    from caod.detector import RESIZE_HOLD_MS, RESIZE_HOOK_HOLD_MS

    told = Detector(msgspec.structs.replace(SCRIPTED.spec, hook_events={"turn-done": Status.COMPLETED}).compiled())
    plain = Detector(SCRIPTED)
    for d in (told, plain):
        d.on_input(None, Status.IDLE)
        d.on_frame(Status.IDLE, screen(BUSY), lambda: None)
        d.on_resize()
    assert (told.answer_wait_ms(), plain.answer_wait_ms()) == (RESIZE_HOOK_HOLD_MS, RESIZE_HOLD_MS)
    assert told.on_frame(Status.PROCESSING, screen(IDLE), lambda: None) is None and told.holding
    assert told.hook_fits(Status.COMPLETED, Status.IDLE)  # the hook ends it (Agent.on_hook)
