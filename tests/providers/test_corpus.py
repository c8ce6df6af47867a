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
from collections import defaultdict
from dataclasses import dataclass, field
from pathlib import Path

import pytest

import providers
from caoctl.commands.provider import classify
from caod.status import Status

CORPUS = Path(__file__).resolve().parents[2].parent / "shared" / "corpus"
FIXTURES = CORPUS / "cao-fixtures"
LABELS = FIXTURES / "labels.json"

if not LABELS.is_file():
    pytest.skip(f"the screen corpus is not here ({CORPUS})", allow_module_level=True)

BAR = 0.95
PROVIDER_NAMES = {"opencode_cli": "opencode", "minimax_code": "minimax_code"}  # corpus key -> ours

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


@dataclass
class Case:
    file: str
    provider: str
    branch: str  # "fresh" or "after input"
    expected: str | None
    label: dict
    extract_only: bool = False

    @property
    def key(self) -> tuple[str, str]:
        return self.file, self.branch


@dataclass
class Outcome:
    case: Case
    status: str
    answer: str | None
    problems: list[str] = field(default_factory=list)

    @property
    def right(self) -> bool:
        return not self.problems


def shipped(corpus_provider: str) -> str | None:
    name = PROVIDER_NAMES.get(corpus_provider, corpus_provider)
    return name if name in providers.builtin_names() else None


def load_cases() -> list[Case]:
    cases = []
    for label in json.loads(LABELS.read_text()):
        name = shipped(label["provider"])
        if name is None:
            continue
        by_input = label.get("expected_by_input")
        expected = label["expected"]
        if by_input:
            cases.append(Case(label["file"], name, "fresh", by_input["no_input_sent"], label))
            cases.append(Case(label["file"], name, "after input", by_input["input_sent"], label))
        elif expected is not None:
            branch = "after input" if expected in ("completed", "processing") else "fresh"
            cases.append(Case(label["file"], name, branch, expected, label))
        elif any(k in label for k in ("extract", "extract_contains", "extract_contains_any", "extract_excludes")):
            cases.append(Case(label["file"], name, "after input", "completed", label, extract_only=True))
    return cases


def extraction_problems(label: dict, answer: str | None) -> list[str]:
    checks = [k for k in ("extract", "extract_contains", "extract_contains_any", "extract_excludes") if k in label]
    if not checks:
        return []
    if answer is None:
        return ["no answer extracted"]
    problems = []
    if "extract" in label and answer.strip() != label["extract"]:
        problems.append(f"answer {answer!r} != {label['extract']!r}")
    low = answer.lower()  # CAO compares these substrings on the lower-cased message
    for part in label.get("extract_contains", []):
        if part.lower() not in low:
            problems.append(f"answer lacks {part!r}")
    if "extract_contains_any" in label and not any(p.lower() in low for p in label["extract_contains_any"]):
        problems.append(f"answer has none of {label['extract_contains_any']!r}")
    for part in label.get("extract_excludes", []):
        if part in answer:
            problems.append(f"answer contains {part!r}")
    if "\x1b" in answer:
        problems.append("answer contains ESC")
    return problems


def run_case(case: Case) -> Outcome:
    label = case.label
    data = (FIXTURES / case.file).read_bytes()
    raw = label["kind"] == "raw_stream"
    hint = label.get("render_hint") or {}
    result = classify(case.provider, data, raw=raw, after_input=case.branch == "after input",
                      cols=hint.get("cols") if raw else None, rows=hint.get("rows") if raw else None)
    out = Outcome(case, result.status.value, result.answer)
    if result.status.value != case.expected:
        out.problems.append(f"status {result.status.value}, expected {case.expected}")
    if label["expected"] == "processing" and result.seen is Status.IDLE:
        out.problems.append("an idle pattern matches this busy screen")
    if case.expected == "completed" and result.status is Status.COMPLETED:
        out.problems += extraction_problems(label, result.answer)
    return out


def report(outcomes: list[Outcome]) -> str:
    per: dict[str, list[int]] = defaultdict(lambda: [0, 0, 0])  # right, total, excused
    lines = []
    scored = [o for o in outcomes if not o.case.extract_only]
    for o in scored:
        row = per[o.case.provider]
        if o.case.key in EXCUSED:
            row[2] += 1
            continue
        row[1] += 1
        row[0] += o.right
    right = sum(r[0] for r in per.values())
    total = sum(r[1] for r in per.values())
    width = max(len(p) for p in per) if per else 8
    lines.append(f"{'provider':<{width}}  right / total  excused")
    for name in sorted(per):
        r = per[name]
        lines.append(f"{name:<{width}}  {r[0]:>5} / {r[1]:<5}  {r[2]:>7}")
    share = right / total if total else 1.0
    lines.append(f"{'all':<{width}}  {right:>5} / {total:<5}  {sum(r[2] for r in per.values()):>7}  ({share:.1%})")
    extra = [o for o in outcomes if o.case.extract_only]
    if extra:
        lines.append(f"extraction-only screens (outside the bar): {sum(o.right for o in extra)} / {len(extra)}")
    misses = [o for o in outcomes if not o.right and o.case.key not in EXCUSED]
    if misses:
        lines.append("misses:")
        for o in misses:
            tag = " (extraction only)" if o.case.extract_only else ""
            lines.append(f"  {o.case.provider}: {o.case.file} [{o.case.branch}]{tag}: {'; '.join(o.problems)}")
    return "\n".join(lines)


@pytest.fixture(scope="module")
def outcomes() -> list[Outcome]:
    return [run_case(c) for c in load_cases()]


def test_corpus_bar(outcomes, capsys):
    text = report(outcomes)
    with capsys.disabled():
        print("\n" + text)
    scored = [o for o in outcomes if not o.case.extract_only and o.case.key not in EXCUSED]
    assert scored, "no labelled screens for the shipped providers"
    right = sum(o.right for o in scored)
    assert right / len(scored) >= BAR, f"{right}/{len(scored)} screens right, below {BAR:.0%}\n{text}"
    dangerous = [
        o for o in scored
        if o.case.expected in ("processing", "waiting_user_answer") and o.status in ("idle", "completed")
    ]
    assert not dangerous, "busy or waiting screens read as ready:\n" + "\n".join(
        f"  {o.case.file} [{o.case.branch}]: {o.status}" for o in dangerous)


def test_excused_screens_exist(outcomes):
    keys = {o.case.key for o in outcomes}
    assert set(EXCUSED) <= keys, f"excused screens not in the corpus run: {set(EXCUSED) - keys}"


def test_every_shipped_corpus_provider_has_screens(outcomes):
    names = {o.case.provider for o in outcomes}
    for label in json.loads(LABELS.read_text()):
        name = shipped(label["provider"])
        if name is not None:
            assert name in names
