"""The wire: JSON-RPC 2.0 envelopes and every method's params and result.

One module, imported by the daemon and by caoctl, so the two can never disagree.
Frames are NDJSON: one JSON object per line, at most MAX_FRAME bytes.
"""

from __future__ import annotations

from typing import Any

import msgspec

from caod.protocol.agents import (
    AgentList, AgentRef, AttachParams, DaemonStatus, Empty, EventList, EventsParams, GcAgent, GcParams, GcResult,
    HookParams, HookResult, KillParams, ListParams, Ok, OutputMode, OutputParams, OutputResult, ResizeParams, SendParams, SendResult,
    SpawnParams, SubscribeParams, Subscribed, WaitParams,
)
from caod.protocol.memory import (
    MemoryImported, MemoryImportParams, MemoryInfo, MemoryKeyParams, MemoryList, MemoryListParams,
    MemoryRecallParams, MemoryStoreParams,
)
from caod.protocol.notify import NotifyAdded, NotifyAddParams, NotifyList, NotifyRef, NotifyTested, PluginInfo, SinkInfo
from caod.protocol.flows import (
    FlowAddParams, FlowHistory, FlowHistoryParams, FlowInfo, FlowList, FlowListParams, FlowRef, FlowRun,
)
from caod.protocol.providers import ProviderCheck, ProviderChecks, ProviderListParams
from caod.protocol.results import EndWorkerParams, GetResultParams, TeamAgent, TeamList, WorkerResult
from caod.protocol.teams import (
    AnswerParams, AssignParams, AssignResult, HandoffParams, HandoffResult, InboxListParams, InboxSendParams,
    InstallParams, LaunchParams, LaunchResult, MessageInfo, MessageList, ProfileInfo, ProfileList, ProfileRef,
    SendMessageParams, SessionExport, SessionInfo, SessionList, SessionListParams, SessionRef, SessionSendParams,
    ShutdownParams, ShutdownResult, TokenParams,
)
from caod.protocol.worktrees import (
    CleanResult, DiffResult, MergeResult, OrchDiffParams, OrchMergeParams, WorktreeCleanParams, WorktreeDiffParams,
    WorktreeInfo, WorktreeList, WorktreeListParams, WorktreeMergeParams,
)
from caod.protocol.workflows import (
    RunInfo, RunList, RunListParams, RunRef, RunWaitParams, StepRecord, WorkflowInfo, WorkflowList, WorkflowRef,
    WorkflowRunParams, WorkflowStepInfo,
)
from caod.protocol.wire import (
    AgentInfo, ErrorCode, ErrorObject, Event, JSONRPC, MAX_FRAME, Notification, Params, Request, Response,
    Result, UNSET,
)

EVENT_NOTIFICATION = "event"

# method -> (params type, result type). The daemon registers a handler for each;
# the client decodes results with the same types.
METHODS: dict[str, tuple[type[Params], type[Result]]] = {
    "daemon.ping": (Empty, DaemonStatus),
    "daemon.status": (Empty, DaemonStatus),
    "daemon.shutdown": (Empty, Ok),
    "agent.spawn": (SpawnParams, AgentInfo),
    "agent.list": (ListParams, AgentList),
    "agent.get": (AgentRef, AgentInfo),
    "agent.send": (SendParams, SendResult),
    "agent.wait": (WaitParams, AgentInfo),
    "agent.output": (OutputParams, OutputResult),
    "agent.kill": (KillParams, AgentInfo),
    "agent.resize": (ResizeParams, AgentInfo),
    "agent.attach": (AttachParams, AgentInfo),
    "agent.hook": (HookParams, HookResult),
    "agent.gc": (GcParams, GcResult),
    "events.subscribe": (SubscribeParams, Subscribed),
    "events.list": (EventsParams, EventList),
    "profile.list": (Empty, ProfileList),
    "profile.get": (ProfileRef, ProfileInfo),
    "profile.install": (InstallParams, ProfileInfo),
    "session.launch": (LaunchParams, LaunchResult),
    "session.list": (SessionListParams, SessionList),
    "session.get": (SessionRef, SessionInfo),
    "session.send": (SessionSendParams, SendResult),
    "session.shutdown": (ShutdownParams, ShutdownResult),
    "session.export": (SessionRef, SessionExport),
    "orch.handoff": (HandoffParams, HandoffResult),
    "orch.assign": (AssignParams, AssignResult),
    "orch.send_message": (SendMessageParams, MessageInfo),
    "orch.answer_user_prompt": (AnswerParams, AgentInfo),
    "orch.list_agents": (TokenParams, TeamList),
    "orch.get_result": (GetResultParams, WorkerResult),
    "orch.end_worker": (EndWorkerParams, AgentInfo),
    "inbox.send": (InboxSendParams, MessageInfo),
    "inbox.list": (InboxListParams, MessageList),
    "provider.list": (ProviderListParams, ProviderChecks),
    "worktree.list": (WorktreeListParams, WorktreeList),
    "worktree.diff": (WorktreeDiffParams, DiffResult),
    "worktree.merge": (WorktreeMergeParams, MergeResult),
    "worktree.clean": (WorktreeCleanParams, CleanResult),
    "orch.diff": (OrchDiffParams, DiffResult),
    "orch.merge": (OrchMergeParams, MergeResult),
    "memory.store": (MemoryStoreParams, MemoryInfo),
    "memory.recall": (MemoryRecallParams, MemoryList),
    "memory.list": (MemoryListParams, MemoryList),
    "memory.show": (MemoryKeyParams, MemoryInfo),
    "memory.forget": (MemoryKeyParams, MemoryList),
    "memory.import": (MemoryImportParams, MemoryImported),
    "notify.add": (NotifyAddParams, NotifyAdded),
    "notify.list": (Empty, NotifyList),
    "notify.remove": (NotifyRef, Ok),
    "notify.test": (NotifyRef, NotifyTested),
    "flow.add": (FlowAddParams, FlowInfo),
    "flow.list": (FlowListParams, FlowList),
    "flow.show": (FlowRef, FlowInfo),
    "flow.run": (FlowRef, FlowRun),
    "flow.enable": (FlowRef, FlowInfo),
    "flow.disable": (FlowRef, FlowInfo),
    "flow.remove": (FlowRef, FlowInfo),
    "flow.history": (FlowHistoryParams, FlowHistory),
    "workflow.list": (Empty, WorkflowList),
    "workflow.show": (WorkflowRef, WorkflowInfo),
    "workflow.run": (WorkflowRunParams, RunInfo),
    "workflow.resume": (RunRef, RunInfo),
    "workflow.runs": (RunListParams, RunList),
    "workflow.get_run": (RunRef, RunInfo),
    "workflow.wait": (RunWaitParams, RunInfo),
}

encoder = msgspec.json.Encoder()


def encode_line(msg: Any) -> bytes:
    return encoder.encode(msg) + b"\n"


__all__ = [
    "AgentInfo", "AgentList", "AgentRef", "AnswerParams", "AssignParams", "AssignResult", "AttachParams",
    "DaemonStatus", "EVENT_NOTIFICATION", "Empty", "EndWorkerParams", "GetResultParams", "TeamAgent", "TeamList",
    "WorkerResult", "ErrorCode", "ErrorObject", "Event", "EventList",
    "EventsParams", "GcAgent", "GcParams", "GcResult", "HandoffParams", "HandoffResult", "HookParams", "HookResult", "InboxListParams",
    "InboxSendParams", "InstallParams", "JSONRPC", "KillParams", "LaunchParams", "LaunchResult", "ListParams",
    "MAX_FRAME", "METHODS", "MessageInfo", "MessageList", "Notification", "Ok", "OutputMode", "OutputParams",
    "OutputResult", "Params", "ProfileInfo", "ProfileList", "ProfileRef", "ProviderCheck", "ProviderChecks",
    "ProviderListParams", "Request", "ResizeParams",
    "Response", "Result", "SendMessageParams", "SendParams", "SendResult", "SessionInfo", "SessionList",
    "SessionListParams", "SessionRef", "SessionSendParams", "ShutdownParams", "ShutdownResult", "SpawnParams",
    "SubscribeParams", "Subscribed", "TokenParams", "UNSET", "WaitParams", "encode_line", "encoder",
    "CleanResult", "DiffResult", "MergeResult", "OrchDiffParams", "OrchMergeParams", "WorktreeCleanParams",
    "WorktreeDiffParams", "WorktreeInfo", "WorktreeList", "WorktreeListParams", "WorktreeMergeParams",
    "MemoryImported", "MemoryImportParams", "MemoryInfo", "MemoryKeyParams", "MemoryList", "MemoryListParams",
    "MemoryRecallParams", "MemoryStoreParams",
    "NotifyAdded", "NotifyAddParams", "NotifyList", "NotifyRef", "NotifyTested", "PluginInfo", "SinkInfo",
    "FlowAddParams", "FlowHistory", "FlowHistoryParams", "FlowInfo", "FlowList", "FlowListParams", "FlowRef", "FlowRun",
    "SessionExport", "RunInfo", "RunList", "RunListParams", "RunRef", "RunWaitParams", "StepRecord", "WorkflowInfo", "WorkflowList",
    "WorkflowRef", "WorkflowRunParams", "WorkflowStepInfo",
]
