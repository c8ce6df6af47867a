"""caoctl.follow: which rows of a real AgentScreen print, and when, as a TUI draws."""

from __future__ import annotations

from caoctl.follow import LIVE_SETTLE, SETTLE, SettledLines, shape
from caod.screen import AgentScreen


def _noop() -> None:
    pass


class Drawn:
    """An AgentScreen fed by hand, with a clock the test moves."""

    def __init__(self, rows: int = 10, cols: int = 60, shown: list[str] = ()):
        self.screen = AgentScreen(cols, rows, history=500)
        self.lines = SettledLines(self.screen, list(shown))
        self.now = 100.0
        self.printed: list[str] = []

    def draw(self, text: str, after: float = 0.0) -> list[str]:
        """Advance the clock by `after`, feed `text`, look; returns what printed."""
        self.now += after
        self.screen.feed(text.replace("\n", "\r\n").encode(), _noop)
        return self.look()

    def wait(self, seconds: float) -> list[str]:
        self.now += seconds
        return self.look()

    def look(self, final: bool = False) -> list[str]:
        got = self.lines.update(self.now, final=final)
        self.printed += got
        return got


def test_a_line_prints_once_it_settles_not_when_it_scrolls():
    d = Drawn()
    assert d.draw("> hello\n") == []  # just drawn: it may still grow
    assert d.wait(SETTLE / 2) == []
    assert d.wait(SETTLE) == ["> hello"]  # on screen, nowhere near the top
    assert d.draw("● hi there\n", after=0.01) == []
    assert d.wait(SETTLE) == ["● hi there"]
    assert d.wait(10) == []  # printed once
    assert d.lines.next_due() is None


def test_a_line_typed_out_slowly_prints_whole():
    d = Drawn()
    for word in ("The ", "answer ", "is ", "forty-two."):
        assert d.draw(word, after=0.08) == []  # tokens come faster than SETTLE
    assert d.wait(SETTLE) == ["The answer is forty-two."]


def test_a_spinner_and_a_timer_never_flood():
    d = Drawn()
    d.draw("> build it\n")
    d.wait(SETTLE)
    # A spinner turning every 0.1 s for 5 s, with its seconds counting, on the row below.
    glyphs = "⠋⠙⠹⠸⠼⠴⠦⠧⠇⠏"
    for tick in range(50):
        d.draw(f"\r\x1b[K{glyphs[tick % 10]} Thinking… ({tick // 10}s · esc to interrupt)", after=0.1)
    assert d.printed == ["> build it"], d.printed
    # A slower timer (one change a second, nothing else drawn): its first state at most.
    d.draw("\n")
    for second in range(8):
        d.draw(f"\r\x1b[KElapsed {second}s", after=0.0)
        d.wait(1.0)
    timer = [p for p in d.printed if p.startswith("Elapsed")]
    assert timer == ["Elapsed 0s"], d.printed
    assert d.wait(LIVE_SETTLE) == ["Elapsed 7s"]  # once it stops, its final state prints


def test_moved_and_redrawn_rows_print_once():
    """An inline TUI: text is added above an input box, which moves down; then a busy
    footer replaces the box, and the box comes back."""
    box = ["╭──────────╮", "│ >        │", "╰──────────╯"]
    d = Drawn(rows=12)
    d.draw("\n".join(box))
    d.wait(SETTLE)
    assert d.printed == box
    for n, line in enumerate(("● first", "● second")):
        # back to the box's top, erase it, write the line, redraw the box under it
        d.draw(f"\x1b[2A\r\x1b[J{line}\n" + "\n".join(box), after=0.05)
        d.wait(SETTLE)
    assert d.printed == box + ["● first", "● second"], d.printed
    d.draw("\x1b[2A\r\x1b[J  working · esc to interrupt", after=0.05)
    d.wait(SETTLE)
    d.draw("\r\x1b[J" + "\n".join(box), after=0.5)  # the box comes back: erased before, not new
    d.wait(SETTLE)
    assert d.printed == box + ["● first", "● second", "  working · esc to interrupt"], d.printed


def test_lines_that_scroll_off_before_settling_print_in_order():
    d = Drawn(rows=8)
    d.draw("".join(f"line {i:02d}\n" for i in range(30)) + "> ")
    assert d.printed == [f"line {i:02d}" for i in range(23)]  # scrolled off: final already
    d.wait(SETTLE)
    d.draw("\n" * 8, after=0.01)  # the rest scrolls off after printing: not again
    d.wait(SETTLE)
    assert d.printed == [f"line {i:02d}" for i in range(30)] + [">"], d.printed


def test_what_was_shown_before_following_is_not_printed_again():
    d = Drawn(shown=["╭─╮", "old answer", ""])
    d.draw("old answer\n╭─╮\nnew since\n")
    d.wait(SETTLE)
    assert d.printed == ["new since"]


def test_the_end_prints_what_had_not_settled():
    d = Drawn()
    d.draw("Goodbye.")
    assert d.look(final=True) == ["Goodbye."]


def test_shape_ignores_digits_and_symbols():
    assert shape("⠋ Thinking… (12s · esc)") == shape("⠙ Thinking… (3s · esc)") == "Thinking0sesc"
    assert shape("[####------] 40%") == shape("[#####-----] 50%")
    assert shape("● done") != shape("⠋ working")
