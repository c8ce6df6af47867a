"""The closed taxonomy of agent states, the signals that change them, and event kinds.

Everything that talks about an agent's state (daemon, store, wire, client,
providers) uses these three enums; nothing else invents status strings.
"""

from __future__ import annotations

import enum


class Status(str, enum.Enum):
    STARTING = "starting"
    IDLE = "idle"
    PROCESSING = "processing"
    COMPLETED = "completed"  # idle again after answering a task
    WAITING = "waiting_user_answer"  # a permission or choice prompt is up
    ERROR = "error"  # the CLI shows an error screen; the process still runs
    EXITED = "exited"  # terminal: the process is gone (exit code/signal on the agent)

    @property
    def ready(self) -> bool:
        """True when the agent takes new input (a task or a message)."""
        return self in (Status.IDLE, Status.COMPLETED)

    @property
    def live(self) -> bool:
        return self is not Status.EXITED


class Signal(str, enum.Enum):
    """What produced a status change, most trustworthy first."""

    HOOK = "hook"  # the CLI told us itself (e.g. Claude Code Stop hook)
    SCREEN = "screen"  # provider patterns on the rendered screen at a frame boundary
    OUTPUT = "output"  # output rising after input: an early `processing`
    INPUT = "input"  # we delivered input (e.g. an answer to a prompt)
    PROCESS = "process"  # spawn, exit code, signal
    TIMEOUT = "timeout"  # input was not taken within the confirm window
    RECOVERY = "recovery"  # daemon restart found the agent's process gone


class EventKind(str, enum.Enum):
    SPAWNED = "spawned"
    STATUS = "status"
    MESSAGE = "message"
    STALLED = "stalled"  # busy with no output for the provider's stall time (caod.notices)
    SESSION = "session"  # a session launched or ended (detail: session, state); agent: its supervisor
    WORKFLOW = "workflow"  # a workflow run completed or stopped (detail: run, state, step, reason); agent: ""
    FLOW = "flow"  # a flow run's outcome (detail: flow, run, state, reason); agent: its supervisor, or ""


class FrameKind(str, enum.Enum):
    """How a frame boundary was found (recorded in screen events)."""

    SYNC = "sync"  # end of a DEC mode 2026 synchronized-output frame
    QUIET = "quiet"  # a short quiescence window after output
    ANSWER_WAIT = "answer_wait"  # the provider's answer_wait_ms ran out with no answer drawn


# Statuses a CLI's own hook may report (provider hook_events); the others come
# from the screen or the process alone.
HOOK_STATUSES = frozenset({Status.PROCESSING, Status.WAITING, Status.COMPLETED})

# Statuses a provider's screen pattern may report. `starting` reads "not ready yet" (a CLI
# that draws its input box while it still connects its MCP servers); `completed` and
# `exited` come from turns and the process, never from one screen.
SCREEN_STATUSES = frozenset({Status.STARTING, Status.IDLE, Status.PROCESSING, Status.WAITING, Status.ERROR})

# Statuses a `send --wait` ends on: the turn is over, one way or another.
TURN_OVER = frozenset({Status.COMPLETED, Status.WAITING, Status.ERROR, Status.EXITED})
