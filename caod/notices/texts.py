"""The words of each notice. Every one starts with PREFIX, which caod alone writes: an
agent's message reaches its receiver as `[message from <id>] ...` (caod.inbox), so a
worker cannot make its words look like a notice."""

from __future__ import annotations

import re
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from caod.agent import Agent

PREFIX = "[caod notice about worker {id} ({profile})] "
MAX_SHOWN = 2000  # characters of screen text in one notice

# A numbered choice as prompts draw them: `❯ 1. Yes`, `  2. No`, `● 1. Allow once`, `› 3) Skip`.
_OPTION = re.compile(r"^\s*(?:[❯›>▸▶➤→●◉○◯•*]\s*)?(\d{1,2}[.)]\s+\S.*?)\s*$")


def prefix(worker: "Agent") -> str:
    return PREFIX.format(id=worker.id, profile=worker.profile or worker.provider.name)


def options(question: str) -> list[str]:
    """The numbered options a question draws (`1. Yes`, `2. No`), in order; [] if none."""
    return [m.group(1) for line in question.splitlines() if (m := _OPTION.match(line))]


def _shown(text: str | None) -> str:
    text = (text or "").strip() or "(nothing readable on its screen)"
    return text if len(text) <= MAX_SHOWN else "…" + text[-MAX_SHOWN:]


def waiting(worker: "Agent", question: str | None) -> str:
    choices = options(question or "")
    how = f'call the answer_user_prompt tool with agent_id="{worker.id}" and '
    if choices:
        first = re.match(r"\d+", choices[0]).group()  # type: ignore[union-attr]
        how += f'answer set to the number of your choice (e.g. "{first}")'
    else:
        how += "the answer the prompt asks for"
    return (f"{prefix(worker)}it is waiting for an answer (status waiting_user_answer). Its screen asks:\n"
            f"{_shown(question)}\n"
            f"Options: {' | '.join(choices) if choices else 'none drawn as a numbered list'}\n"
            f"To answer, {how}.")


def error(worker: "Agent", shown: str | None) -> str:
    return (f"{prefix(worker)}it is in error before it reported back to you. Its screen shows:\n"
            f"{_shown(shown)}\n"
            f'You may send it a message with send_message (receiver_id="{worker.id}") or start another worker.')


def exited(worker: "Agent", shown: str | None) -> str:
    how = f"signal {worker.exit_signal}" if worker.exit_signal is not None else f"exit code {worker.exit_code}"
    return (f"{prefix(worker)}it exited ({how}) before it reported back to you. Its screen showed last:\n"
            f"{_shown(shown)}\n"
            "It is gone: start another worker if the work is still needed.")


def unreported(worker: "Agent", answer: str | None) -> str:
    return (f"{prefix(worker)}it finished its turn without calling send_message to you. "
            "caod forwards its last answer, as drawn on its screen:\n"
            f"{_shown(answer)}")


def stalled(worker: "Agent", seconds: float, shown: str | None) -> str:
    return (f"{prefix(worker)}it is stalled: busy with no output at all for {seconds:g} s. Its screen shows:\n"
            f"{_shown(shown)}\n"
            f'You may wait, send it a message (receiver_id="{worker.id}"), or check it with list_agents.')


def restarted(worker: "Agent") -> str:
    return (f"{prefix(worker)}caod was restarted and started it again (same id; its conversation "
            "resumed where its CLI keeps one). The turn it was on for you may not have finished and "
            "it has not reported back: check it with get_result or list_agents, or send the task again "
            f'with send_message (receiver_id="{worker.id}").')
