"""Workflow files: a fixed sequence of turns across participants, as data.

A workflow is a YAML file (the built-in ones in caod/workflows/builtin/, a user's own in
<home>/workflows/NAME.yaml, which wins over a built-in of the same name)::

    name: collaborative            # optional; the file's name without .yaml otherwise
    description: propose, critique, refine
    steps:
      - name: propose              # letters, digits, '_', '-'; unique in the file
        role: proposer             # who the participant is in this step (headers, listings)
        participant: 0             # index into --with (wraps around: one given runs every step)
        instruction: |-            # the text sent; {task} and {steps.NAME} (an earlier step's
          Propose ... {task}       # answer) are filled in, any other braces are left as they are

A step may only use the outputs of steps before it, so a file that names a later or
unknown step is refused when it is read, not half-way through a run.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from importlib import resources
from pathlib import Path

import yaml

from caod.profiles.bounded_yaml import TooBig, load

NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_-]{0,63}$")
PLACEHOLDER = re.compile(r"\{(task|steps\.([A-Za-z0-9][A-Za-z0-9_-]*))\}")
MAX_STEPS = 50
MAX_FILE = 256 * 1024


class WorkflowError(ValueError):
    """A workflow file that cannot be used; the message is one line."""


@dataclass(frozen=True)
class Step:
    name: str
    role: str
    participant: int
    instruction: str


@dataclass(frozen=True)
class Workflow:
    name: str
    description: str
    steps: tuple[Step, ...]
    source: str  # "builtin" or the file's path

    @property
    def participants(self) -> int:
        """How many distinct participants the steps name (1 + the highest index)."""
        return 1 + max(s.participant for s in self.steps)

    def to_data(self) -> dict:
        return {"name": self.name, "description": self.description,
                "steps": [{"name": s.name, "role": s.role, "participant": s.participant,
                           "instruction": s.instruction} for s in self.steps]}


def render(template: str, task: str, outputs: dict[str, str]) -> str:
    """The instruction with {task} and {steps.NAME} filled in (in one pass: an answer that
    itself holds "{task}" is not expanded again)."""
    def fill(m: re.Match) -> str:
        return task if m.group(1) == "task" else outputs.get(m.group(2), "")
    return PLACEHOLDER.sub(fill, template)


def parse(data: object, default_name: str, source: str) -> Workflow:
    """A Workflow from loaded YAML data, or WorkflowError naming what is wrong."""
    if not isinstance(data, dict):
        raise WorkflowError(f"{source}: a workflow is a mapping with `steps`")
    unknown = set(data) - {"name", "description", "steps"}
    if unknown:
        raise WorkflowError(f"{source}: unknown keys {sorted(unknown)} (use name, description, steps)")
    name = data.get("name", default_name)
    if not isinstance(name, str) or not NAME.fullmatch(name):
        raise WorkflowError(f"{source}: bad workflow name {name!r}: use letters, digits, '_', '-'")
    description = data.get("description", "")
    if not isinstance(description, str):
        raise WorkflowError(f"{source}: description must be text")
    raw_steps = data.get("steps")
    if not isinstance(raw_steps, list) or not raw_steps:
        raise WorkflowError(f"{source}: `steps` must be a non-empty list")
    if len(raw_steps) > MAX_STEPS:
        raise WorkflowError(f"{source}: at most {MAX_STEPS} steps")
    steps: list[Step] = []
    for n, raw in enumerate(raw_steps, 1):
        where = f"{source}: step {n}"
        if not isinstance(raw, dict):
            raise WorkflowError(f"{where}: a step is a mapping (name, role, participant, instruction)")
        extra = set(raw) - {"name", "role", "participant", "instruction"}
        if extra:
            raise WorkflowError(f"{where}: unknown keys {sorted(extra)}")
        step_name, role = raw.get("name"), raw.get("role", raw.get("name"))
        participant, instruction = raw.get("participant", 0), raw.get("instruction")
        if not isinstance(step_name, str) or not NAME.fullmatch(step_name):
            raise WorkflowError(f"{where}: bad step name {step_name!r}: use letters, digits, '_', '-'")
        if any(s.name == step_name for s in steps):
            raise WorkflowError(f"{where}: the step name {step_name!r} is used twice")
        if not isinstance(role, str) or not role.strip():
            raise WorkflowError(f"{where}: role must be text")
        if not isinstance(participant, int) or isinstance(participant, bool) or not 0 <= participant < 16:
            raise WorkflowError(f"{where}: participant must be an index from 0 to 15")
        if not isinstance(instruction, str) or not instruction.strip():
            raise WorkflowError(f"{where}: instruction must be non-empty text")
        for m in PLACEHOLDER.finditer(instruction):
            used = m.group(2)
            if used is not None and not any(s.name == used for s in steps):
                raise WorkflowError(f"{where}: {{steps.{used}}} is not an earlier step")
        steps.append(Step(step_name, role.strip(), participant, instruction))
    return Workflow(name, description, tuple(steps), source)


def read(path: Path, source: str | None = None) -> Workflow:
    try:
        text = path.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as e:
        raise WorkflowError(f"{path}: cannot read: {e}") from None
    if len(text) > MAX_FILE:
        raise WorkflowError(f"{path}: larger than {MAX_FILE // 1024} KiB")
    try:
        data = load(text)
    except TooBig as e:
        raise WorkflowError(f"{path}: {e.problem}") from None
    except yaml.YAMLError as e:
        raise WorkflowError(f"{path}: not valid YAML: {str(e).splitlines()[0]}") from None
    return parse(data, path.name.removesuffix(".yaml"), source or str(path))


def builtin_files() -> dict[str, Path]:
    folder = Path(str(resources.files("caod.workflows") / "builtin"))
    return {p.name.removesuffix(".yaml"): p for p in sorted(folder.glob("*.yaml"))}


class WorkflowStore:
    """The built-in workflows and the user's own (<home>/workflows/*.yaml)."""

    def __init__(self, home: Path):
        self.folder = home / "workflows"

    def _files(self) -> dict[str, tuple[Path, str]]:
        files = {name: (path, "builtin") for name, path in builtin_files().items()}
        if self.folder.is_dir():
            for path in sorted(self.folder.glob("*.yaml")):
                files[path.name.removesuffix(".yaml")] = (path, str(path))
        return files

    def scan(self) -> tuple[list[Workflow], list[str]]:
        """Every workflow that reads, and a line for each file that does not."""
        found, problems = [], []
        for path, source in self._files().values():
            try:
                found.append(read(path, source))
            except WorkflowError as e:
                problems.append(str(e))
        return found, problems

    def get(self, name: str) -> Workflow | None:
        """The workflow NAME, None if there is none; WorkflowError if its file is broken."""
        entry = self._files().get(name)
        if entry is None:
            return None
        return read(*entry)
