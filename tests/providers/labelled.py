"""Labelled screens through `caoctl provider classify`: shared by the corpus and the captures tests.

A label (the shared corpus's labels.json format) names a file, a provider and the status
expected; `expected_by_input` labels are run twice (fresh, and after a task was sent); a
`completed` or `processing` label is a screen in the middle or at the end of a turn, so it
runs after input; `idle`, `waiting_user_answer` and `error` labels run fresh. Each screen
goes through the function behind the command, which is the daemon's own path (provider
patterns, AgentScreen for raw streams, the Detector for turns). A screen is right when the
status matches its label and the answer passes the label's extraction checks.
"""

from __future__ import annotations

import json
from collections import defaultdict
from dataclasses import dataclass, field
from pathlib import Path

import providers
from caoctl.commands.provider import classify
from caod.status import Status

PROVIDER_NAMES = {"opencode_cli": "opencode", "minimax_code": "minimax_code"}  # corpus key -> ours


@dataclass
class Case:
    file: str
    provider: str
    branch: str  # "fresh" or "after input"
    expected: str | None
    label: dict
    extract_only: bool = False
    folder: Path = Path(".")

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


def load_cases(labels: Path, folder: Path) -> list[Case]:
    """Cases for every label in `labels` (files under `folder`) whose provider caod ships."""
    cases = []
    for label in json.loads(labels.read_text()):
        name = shipped(label["provider"])
        if name is None:
            continue
        by_input = label.get("expected_by_input")
        expected = label["expected"]
        if by_input:
            cases.append(Case(label["file"], name, "fresh", by_input["no_input_sent"], label, folder=folder))
            cases.append(Case(label["file"], name, "after input", by_input["input_sent"], label, folder=folder))
        elif expected is not None:
            branch = "after input" if expected in ("completed", "processing") else "fresh"
            cases.append(Case(label["file"], name, branch, expected, label, folder=folder))
        elif any(k in label for k in ("extract", "extract_contains", "extract_contains_any", "extract_excludes")):
            cases.append(Case(label["file"], name, "after input", "completed", label, extract_only=True,
                              folder=folder))
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
    data = (case.folder / case.file).read_bytes()
    raw = label["kind"] == "raw_stream"
    hint = label.get("render_hint") or {}
    # A text capture's width matters too: wrapped rows, and a sidebar on a wide screen.
    result = classify(case.provider, data, raw=raw, after_input=case.branch == "after input",
                      cols=hint.get("cols"), rows=hint.get("rows") if raw else None)
    out = Outcome(case, result.status.value, result.answer)
    if result.status.value != case.expected:
        out.problems.append(f"status {result.status.value}, expected {case.expected}")
    if label["expected"] == "processing" and result.seen is Status.IDLE:
        out.problems.append("an idle pattern matches this busy screen")
    if case.expected == "completed" and result.status is Status.COMPLETED:
        out.problems += extraction_problems(label, result.answer)
    return out


def report(outcomes: list[Outcome], excused: dict[tuple[str, str], str] | None = None) -> str:
    EXCUSED = excused or {}
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


def dangerous(outcomes: list[Outcome]) -> list[Outcome]:
    """Busy or waiting screens read as ready: a false \"done\" tears a worker down early."""
    return [o for o in outcomes if o.case.expected in ("processing", "waiting_user_answer")
            and o.status in ("idle", "completed")]
