"""Params and results of notify.*: notification sinks (webhook, desktop, command) and plugins."""

from __future__ import annotations

from typing import Literal

from caod.protocol.wire import Params, Result

SinkKind = Literal["webhook", "desktop", "command"]
WebhookFormat = Literal["json", "slack", "discord"]


class NotifyAddParams(Params):
    """Add a sink: webhook (url, secret, format), desktop, or command (argv, timeout); events: the filter terms."""

    kind: SinkKind
    events: list[str] = []  # empty: the default filter (caod.notify.filters.DEFAULT)
    url: str | None = None
    secret: str | None = None  # webhook: the HMAC key; none given: the daemon makes one and returns it once
    format: WebhookFormat = "json"
    argv: list[str] = []
    timeout: float = 30.0  # command: seconds before it is killed


class NotifyRef(Params):
    """One sink, by its id."""

    id: int


class SinkInfo(Result):
    id: int
    kind: SinkKind
    target: str  # the URL, "desktop", or the command line
    events: list[str]
    created_at: float
    format: WebhookFormat | None = None
    fingerprint: str | None = None  # of the webhook secret (sha256, first 12 hex digits)
    queued: int = 0  # events not sent yet
    failures: int = 0  # failed attempts in a row (0: the last one succeeded)
    last_error: str | None = None
    last_error_at: float | None = None
    last_sent_at: float | None = None
    retry_at: float | None = None  # when the next attempt is due while failing


class PluginInfo(Result):
    name: str  # the entry point's name
    value: str  # module:object
    loaded: bool
    error: str | None = None  # why it did not load, or its latest failure (raised, timed out)
    failures: int = 0  # calls that raised or timed out since the daemon started
    dropped: int = 0  # events skipped while it was stuck or its queue was full


class NotifyAdded(Result):
    sink: SinkInfo
    secret: str | None = None  # only when the daemon made it: shown this once


class NotifyList(Result):
    sinks: list[SinkInfo]
    plugins: list[PluginInfo]


class NotifyTested(Result):
    sink: SinkInfo
    outbox_id: int  # the test event's row; it goes out like any other (X-Caod-Delivery on a webhook)
