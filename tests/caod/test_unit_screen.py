"""screen.AgentScreen.feed: synchronized-output frame boundaries, split anywhere."""

from __future__ import annotations

import pytest

from caod.screen import SYNC_BEGIN, SYNC_END, AgentScreen

B, E = SYNC_BEGIN, SYNC_END


class Frames:
    """Records the screen's text at each frame-end callback."""

    def __init__(self, screen: AgentScreen):
        self.screen = screen
        self.seen: list[str] = []

    def __call__(self) -> None:
        self.seen.append(self.screen.text())


def make(cols: int = 40, rows: int = 5) -> tuple[AgentScreen, Frames]:
    s = AgentScreen(cols, rows)
    return s, Frames(s)


def test_plain_output_has_no_frame_boundary():
    s, frames = make()
    assert s.feed(b"hello", frames) is True
    assert frames.seen == []
    assert not s.in_sync
    assert s.text() == "hello"


def test_one_frame_in_one_chunk():
    s, frames = make()
    assert s.feed(B + b"abc" + E, frames) is False  # nothing after the boundary
    assert frames.seen == ["abc"]
    assert not s.in_sync


def test_open_frame_sets_in_sync():
    s, frames = make()
    assert s.feed(B + b"abc", frames) is True
    assert s.in_sync and frames.seen == []
    assert s.feed(b"def" + E, frames) is False
    assert frames.seen == ["abcdef"] and not s.in_sync


def test_output_after_the_frame_is_dirty_and_not_in_the_callback():
    s, frames = make()
    assert s.feed(B + b"a" + E + b"b", frames) is True
    assert frames.seen == ["a"]  # the callback ran at the boundary, before "b"
    assert s.text() == "ab"


def test_several_frames_in_one_chunk_evaluate_only_the_last():
    s, frames = make()
    assert s.feed(b"x" + B + b"1" + E + B + b"2" + E + B + b"3" + E, frames) is False
    assert frames.seen == ["x123"]


def test_new_frame_opened_after_an_end_in_the_same_chunk():
    s, frames = make()
    assert s.feed(B + b"a" + E + B + b"b", frames) is True
    assert frames.seen == ["a"]
    assert s.in_sync  # the second frame is still open
    assert s.feed(E, frames) is False
    assert frames.seen == ["a", "ab"]
    assert not s.in_sync


@pytest.mark.parametrize("split", range(1, len(E)))
def test_end_marker_split_across_chunks(split):
    s, frames = make()
    assert s.feed(B + b"hi" + E[:split], frames) is True
    assert frames.seen == [] and s.in_sync
    assert s.feed(E[split:] + b"zz", frames) is True
    assert frames.seen == ["hi"]  # boundary found, before the trailing output
    assert not s.in_sync
    assert s.text() == "hizz"  # the marker bytes never reached the screen as text


@pytest.mark.parametrize("split", range(1, len(B)))
def test_begin_marker_split_across_chunks(split):
    s, frames = make()
    s.feed(b"x" + B[:split], frames)
    assert not s.in_sync
    s.feed(B[split:] + b"y", frames)
    assert s.in_sync
    assert s.feed(E, frames) is False
    assert frames.seen == ["xy"]


def test_frame_fed_one_byte_at_a_time():
    s, frames = make()
    data = b"pre" + B + b"frame" + E
    results = [s.feed(data[i : i + 1], frames) for i in range(len(data))]
    assert frames.seen == ["preframe"]
    assert results[-1] is False  # the last byte completed the boundary
    assert all(results[:-1])
    assert not s.in_sync


def test_two_frames_split_at_every_offset():
    data = B + b"one" + E + b"\r\n" + B + b"two" + E
    for cut in range(1, len(data)):
        s, frames = make()
        s.feed(data[:cut], frames)
        s.feed(data[cut:], frames)
        assert frames.seen[-1] == "one\ntwo", cut
        assert 1 <= len(frames.seen) <= 2, cut
        assert not s.in_sync, cut


def test_end_inside_the_kept_tail_is_not_reported_twice():
    s, frames = make()
    s.feed(B + b"a" + E, frames)
    # the next chunk starts right after a complete marker: no second boundary
    assert s.feed(b"b", frames) is True
    assert frames.seen == ["a"]


def test_history_keeps_scrolled_lines():
    s, frames = make(cols=20, rows=3)
    s.feed(b"l1\r\nl2\r\nl3\r\nl4\r\nl5", frames)
    first, lines, _ = s.history_and_lines()
    assert lines == ["l1", "l2", "l3", "l4", "l5"]
    assert first == 0
    assert s.lines() == ["l3", "l4", "l5"]
    s.feed(b"\x1b[3J", frames)  # clear scrollback
    first, lines, _ = s.history_and_lines()
    assert first == 2 and lines == ["l3", "l4", "l5"]


def test_bracketed_paste_mode_tracked():
    s, frames = make()
    assert not s.bracketed_paste
    s.feed(b"\x1b[?2004h", frames)
    assert s.bracketed_paste
    s.feed(b"\x1b[?2004l", frames)
    assert not s.bracketed_paste


def test_resize_and_redraw():
    s, frames = make(cols=10, rows=2)
    s.feed(b"\x1b[31mred\x1b[0m ok", frames)
    s.resize(4, 30)
    assert (s.rows, s.cols) == (4, 30)
    redraw = s.ansi_redraw()
    fresh = AgentScreen(30, 4)
    fresh.feed(redraw, lambda: None)
    assert fresh.text() == s.text() == "red ok"


def test_private_csi_sequences_pyte_does_not_model_are_ignored():
    """Gemini CLI sends ESC[>4;?m at start; pyte used to raise (and its parser died)."""
    s = AgentScreen(40, 5)
    s.feed(b"a\x1b[>4;?mb\x1b[?5Wc\x1b[?1mD\x1b[1mE\r\nnext", lambda: None)
    assert s.lines()[:2] == ["abcDE", "next"]
    s.feed(b"\r\nstill parsing", lambda: None)
    assert s.lines()[2] == "still parsing"


def test_a_parser_error_does_not_silence_the_screen(monkeypatch):
    s = AgentScreen(40, 5)
    boom = {"armed": True}
    original = type(s._screen).draw

    def draw_once(self, data):
        if boom.pop("armed", False):
            raise RuntimeError("a pyte bug")
        return original(self, data)

    monkeypatch.setattr(type(s._screen), "draw", draw_once)
    s.feed(b"lost", lambda: None)
    s.feed(b"\r\nkept", lambda: None)
    assert "kept" in s.lines()


def test_kitty_keyboard_sequences_draw_nothing_even_when_a_chunk_cuts_them():
    # Gemini CLI sends CSI < u and CSI = 1 ; 1 u; pyte took `<`/`=` for the final byte and drew
    # "u" / "1;1u" into the input box, which broke its idle pattern.
    stream = b"ab\x1b[<u\x1b[=1;1u\x1b[<1u\x1b[31mc\x1b[0md\x1b[>1u"
    whole = AgentScreen(20, 2)
    whole.feed(stream, lambda: None)
    assert whole.lines()[0] == "abcd"
    bytewise = AgentScreen(20, 2)
    for i in range(len(stream)):
        bytewise.feed(stream[i:i + 1], lambda: None)
    assert bytewise.lines()[0] == "abcd"


def test_the_window_title_is_kept():
    screen = AgentScreen(20, 2)
    assert screen.title == ""
    screen.feed(b"\x1b]0;\xe2\x97\x87  Ready (dir)\x07x\x1b]2;second\x1b\\", lambda: None)
    assert screen.title == "second" and screen.lines()[0] == "x"


def test_logical_lines_join_rows_the_terminal_wrapped():
    # a viewer narrowed the screen: the CLI's long spinner line wraps at the new width
    screen = AgentScreen(16, 5)
    screen.feed(b"abc\r\n(1s \xc2\xb7 esc to cancel) and more\r\nnext", lambda: None)
    assert screen.lines()[1:4] == ["(1s · esc to can", "cel) and more", "next"]
    assert screen.logical_lines()[:3] == ["abc", "(1s · esc to cancel) and more", "next"]
