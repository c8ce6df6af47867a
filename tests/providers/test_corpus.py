"""Every labelled screen of the shared CAO fixture corpus, through `caoctl provider classify`.

The corpus lives next to the repository (../shared/corpus) and is read in
place, never copied. Each screen goes through the function behind the
command, which is the daemon's own path (provider patterns, AgentScreen for
raw streams, the Detector for turns). A screen is right when the status
matches its label and the answer passes the label's extraction checks.

Which situation a screen is classified in:
- `expected_by_input` labels are run twice: fresh, and after a task was sent;
- a `completed` label is a finished turn: after input;
- a `processing` label is a screen in the middle of a turn: after input too
  (that is when the daemon sees one). So that this cannot hide a busy screen
  taken for a prompt, the provider's patterns alone must not call it idle;
- `idle`, `waiting_user_answer` and `error` labels: fresh.

Extraction-only screens (label null, with extraction checks) are run after
input and shown in the table, outside the bar.
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from labelled import dangerous, load_cases, report, run_case, shipped

CORPUS = Path(__file__).resolve().parents[2].parent / "shared" / "corpus"
FIXTURES = CORPUS / "cao-fixtures"
LABELS = FIXTURES / "labels.json"

if not LABELS.is_file():
    pytest.skip(f"the screen corpus is not here ({CORPUS})", allow_module_level=True)

BAR = 0.98  # the bar over labelled screens (tests/providers/test_captures.py adds ours)

# (file, branch) -> why the label cannot be reached from this screen alone.
EXCUSED: dict[tuple[str, str], str] = {
    ("cursor_cli_idle_output.txt", "after input"):
        "CAO asserts COMPLETED by simulating a finished turn in the provider's state; the screen "
        "itself shows no turn at all (welcome line and a bare prompt), so after input it stays processing",
    ("cursor_cli_v2026_idle_output.txt", "after input"):
        "same simulated post-turn state on a fresh-launch screen: no turn and no answer is visible",
    ("grok_cli_completed.raw.ansi.txt", "fresh"):
        "one-line excerpt of CUP redraws with no erases: the emulated screen still holds the busy frame's "
        "'Esc:cancel' footer and '[stop]', which the full stream would have cleared",
    ("grok_cli_completed.raw.ansi.txt", "after input"):
        "same excerpt: the stale busy footer outlives the finished turn on the emulated screen",
}


@pytest.fixture(scope="module")
def outcomes() -> list[Outcome]:
    return [run_case(c) for c in load_cases(LABELS, FIXTURES)]


def test_corpus_bar(outcomes, capsys):
    text = report(outcomes, EXCUSED)
    with capsys.disabled():
        print("\n" + text)
    scored = [o for o in outcomes if not o.case.extract_only and o.case.key not in EXCUSED]
    assert scored, "no labelled screens for the shipped providers"
    right = sum(o.right for o in scored)
    assert right / len(scored) >= BAR, f"{right}/{len(scored)} screens right, below {BAR:.0%}\n{text}"
    ready = dangerous(scored)
    assert not ready, "busy or waiting screens read as ready:\n" + "\n".join(
        f"  {o.case.file} [{o.case.branch}]: {o.status}" for o in ready)


def test_excused_screens_exist(outcomes):
    keys = {o.case.key for o in outcomes}
    assert set(EXCUSED) <= keys, f"excused screens not in the corpus run: {set(EXCUSED) - keys}"


def test_every_shipped_corpus_provider_has_screens(outcomes):
    names = {o.case.provider for o in outcomes}
    for label in json.loads(LABELS.read_text()):
        name = shipped(label["provider"])
        if name is not None:
            assert name in names
