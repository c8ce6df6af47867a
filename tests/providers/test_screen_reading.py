"""How a provider reads a screen, beyond plain patterns: where a pattern looks (drawn lines,
the whole screen, the window title), a sidebar, the text behind a question, answers marked
by more than one line or only by their look, and idle screens that say a turn finished.
Pure logic over provider data (no PTY, no daemon)."""

from __future__ import annotations

import pytest

from caod.detector import Detector
from caod.screen import AgentScreen
from caod.status import Status
from providers.base import Answer, Pattern, Provider, Sidebar


def provider(*patterns: Pattern, answer: Answer | None = None, sidebar: Sidebar | None = None):
    return Provider(name="t", description="", command=["true"], patterns=list(patterns), answer=answer,
                    sidebar=sidebar).compiled()


# ---------------------------------------------------------------- where patterns look


def test_a_bottom_region_counts_drawn_lines_so_a_tall_screen_reads_like_a_short_one():
    p = provider(Pattern(Status.IDLE, r"^› Ask", region=3))
    short = ["› task", "• answer", "› Ask anything", "  model · /dir"]
    tall = ["› task", "• answer", *[""] * 40, "› Ask anything", "", "  model · /dir", ""]  # Codex at 60 rows
    assert p.classify(short) is Status.IDLE
    assert p.classify(tall) is Status.IDLE
    # three drawn lines means three: a fourth drawn line up is out of the region
    assert p.classify(["› Ask anything", "a", "", "b", "c"]) is None


def test_a_screen_anchor_finds_a_centred_box_and_a_title_anchor_reads_the_title():
    p = provider(Pattern(Status.PROCESSING, r"^✦ ", anchor="title"),
                 Pattern(Status.IDLE, r"┃  Ask anything", anchor="screen", region=1))
    home = ["", "", "     ┃  Ask anything…", "     ╹▀▀▀", *[f"tip {i}" for i in range(30)]]
    assert p.classify(home) is Status.IDLE
    assert p.classify(home, title="✦  Working… (dir)") is Status.PROCESSING
    assert p.classify(["nothing"], title="◇  Ready") is None
    assert p.classify(["nothing"]) is None  # a text capture has no title


def test_a_sidebar_is_cut_off_before_patterns_and_answers_read_the_screen():
    side = Sidebar(cols=10, above=30)
    p = provider(Pattern(Status.IDLE, r"^>$"), answer=Answer(start=r"^● ", stop=r"^>"), sidebar=side)
    rows = ["● the answer".ljust(30) + "Context   ", "  more".ljust(30) + "10 tokens", "> ".ljust(30) + "MCP"]
    assert p.classify(rows, cols=40) is Status.IDLE
    assert p.extract_answer(rows, 40) == (0, "the answer\n  more")
    # narrower than `above`: no sidebar, nothing is cut
    assert p.classify([">".ljust(18) + "x"], cols=20) is None


def test_a_reading_names_its_pattern_and_shown_gives_the_question_with_its_context():
    p = provider(Pattern(Status.WAITING, r"Press enter to continue$", region=2),
                 Pattern(Status.ERROR, r"^Error: "), Pattern(Status.IDLE, r"^> $"))
    sign_in = ["  Welcome", "", "  │ 1. Sign in with a browser │", "  │ 2. Use a key              │",
               "  ╰───────────────────────────╯", "  Press enter to continue"]
    assert p.match(sign_in) == (Status.WAITING, 0)
    # the match is a footer: the dozen lines above it come too, without the box's frame
    assert p.shown(Status.WAITING, sign_in) == ("Welcome\n\n1. Sign in with a browser\n2. Use a key\n\n"
                                                "Press enter to continue")
    assert p.shown(Status.ERROR, sign_in) is None
    assert p.match(["boom", "Error: no key"]) == (Status.ERROR, 1)


def test_provider_data_that_cannot_be_read_is_refused():
    with pytest.raises(ValueError, match="reports 'completed'"):
        provider(Pattern(Status.COMPLETED, "x"))
    with pytest.raises(ValueError, match="`finished` but reports 'processing'"):
        provider(Pattern(Status.PROCESSING, "x", finished=True))
    with pytest.raises(ValueError, match="at least 1 line"):
        provider(Pattern(Status.IDLE, "x", region=0))
    with pytest.raises(ValueError, match="give `start`, `after_style` or both"):
        provider(Pattern(Status.IDLE, "x"), answer=Answer(stop="y"))


# ---------------------------------------------------------------- answers


def test_a_start_that_spans_lines_begins_the_answer_where_its_last_match_ends():
    # Kiro's TUI: a rule, then the user's line; the answer follows, up to the credits line
    p = provider(Pattern(Status.IDLE, "x"), answer=Answer(start=r"^─{10,}\n  \S.*\n", stop=r"^▸ Credits:",
                                                           indent="  "))
    rows = ["─" * 20, "  first task", "", "  old answer", "▸ Credits: 1", "─" * 20, "  second task", "",
            "  new answer,", "  two lines", "", "▸ Credits: 2", "", "─" * 20, "developer · model"]
    assert p.extract_answer(rows) == (7, "new answer,\ntwo lines")


def test_an_answer_marked_only_by_the_users_background_is_cut_exactly():
    # omp draws the user's turn on a background colour and nothing else marks the answer
    screen = AgentScreen(60, 12)
    screen.feed(b"\x1b[48;2;5;5;5m\r\n say ACK\r\n\r\n\x1b[49m ACK\r\n\r\n"
                b"\x1b[48;2;5;5;5m\r\n say two lines\r\n\r\n\x1b[49m line one\r\n line two\r\n\r\n"
                b"\xe2\x95\xad\xe2\x94\x80 session \xe2\x94\x80\xe2\x95\xae", lambda: None)
    p = provider(Pattern(Status.IDLE, "session"),
                 answer=Answer(after_style=r"\bbg=(?!default\b)", stop=r"^\S", indent=" "))
    assert p.reads_styles
    first, lines, continued = screen.history_and_lines()
    styles = screen.styles()
    assert styles[1] == "fg=default bg=050505" and styles[3] == "fg=default bg=default"
    assert p.extract_answer(lines, 60, continued, styles)[1] == "line one\nline two"
    assert p.extract_answer(lines, 60, continued) is None  # without the styles there is no mark


def test_styles_follow_rows_into_the_scrollback():
    screen = AgentScreen(20, 3)
    screen.feed(b"\x1b[1;31mred bold\x1b[0m\r\nplain\r\n\x1b[7mrev\x1b[0m\r\nlast\r\nmore", lambda: None)
    first, lines, _ = screen.history_and_lines()
    assert lines[:2] == ["red bold", "plain"]  # scrolled off, with their looks kept
    assert screen.styles()[:3] == ["fg=red bg=default bold", "fg=default bg=default",
                                   "fg=default bg=default reverse"]
    assert len(screen.styles()) == len(lines)


# ---------------------------------------------------------------- turns


def test_an_idle_screen_that_says_a_turn_finished_ends_a_turn_unless_it_was_there_before():
    p = provider(Pattern(Status.PROCESSING, "ctrl\\+c to stop"),
                 Pattern(Status.IDLE, r"^→ Add a follow-up", finished=True),
                 Pattern(Status.IDLE, r"^→ Plan, search"))
    fresh, followup = ["→ Plan, search"], ["1 + 1 = 2", "", "→ Add a follow-up"]
    d = Detector(p)
    d.on_input(None, Status.IDLE, before_pattern=p.match(fresh)[1])
    assert d.on_frame(Status.PROCESSING, followup, lambda: None) is Status.COMPLETED  # no busy frame seen
    # the next task: the placeholder from the last turn is still drawn, so not yet
    d.on_input(None, Status.COMPLETED, before_pattern=p.match(followup)[1])
    assert d.on_frame(Status.PROCESSING, followup, lambda: None) is None
    assert d.on_frame(Status.PROCESSING, ["ctrl+c to stop"], lambda: None) is Status.PROCESSING
    assert d.on_frame(Status.PROCESSING, followup, lambda: None) is Status.COMPLETED


def test_a_new_error_of_another_pattern_after_an_error_is_not_stale():
    # Claude Code with no login: an error in the footer, then the turn's own error above it
    p = provider(Pattern(Status.ERROR, r"^  ⎿\s+Not logged in", region=4),
                 Pattern(Status.ERROR, r"Not logged in · Run /login", region=1))
    footer = ["❯", "  ? for shortcuts    Not logged in · Run /login"]
    d = Detector(p)
    d.on_input(None, Status.ERROR, before_pattern=p.match(footer)[1])
    assert d.on_frame(Status.ERROR, ["❯ hi", *footer], lambda: None) is None  # the same error: not reacted yet
    turn_error = ["❯ hi", "  ⎿\u00a0 Not logged in · Please run /login", *footer]
    assert d.on_frame(Status.ERROR, turn_error, lambda: None) is Status.ERROR
    assert not d.awaiting_turn
