"""Notifications and plugins: events that reach people and other programs.

The Notifier subscribes to the event bus. For each event it builds one payload, and for
every sink whose filter (caod.notify.filters) it passes, queues an outbox row in SQLite
and wakes that sink's worker (caod.notify.outbox), which sends it with retries. It hands
the typed event to each plugin's own queue (caod.notify.plugins). Nothing here runs
inside publish() beyond queueing, so no sink or plugin can delay the daemon.
"""

from __future__ import annotations

import json
import secrets
import time
from typing import TYPE_CHECKING, Any

import msgspec

from caod.logs import log
from caod.notify import filters, http, plugins, sinks
from caod.notify.outbox import KEEP_SENT_S, SinkWorker
from caod.notify.sinks import Sink
from caod.protocol import ErrorCode, Event, NotifyAdded, NotifyAddParams, NotifyList, NotifyTested, SinkInfo
from caod.rpc import RpcError
from caod.status import EventKind

if TYPE_CHECKING:
    from caod.daemon import Daemon



class Notifier:
    def __init__(self, daemon: "Daemon"):
        self._d = daemon
        self.workers: dict[int, SinkWorker] = {}
        self.plugins: list[plugins.Plugin] = []
        self._token: int | None = None
        self._next_row = 0
        self._next_sink = 0

    async def load(self) -> None:
        """Sinks and their unsent rows from SQLite, plugins from their entry points; then listen."""
        store = self._d.store
        await store.commit("DELETE FROM notify_outbox WHERE sent_at IS NOT NULL AND sent_at < ?",
                           (time.time() - KEEP_SENT_S,))
        # rows of a sink removed just before a crash (its row went first): never sent, and not a new sink's
        await store.commit("DELETE FROM notify_outbox WHERE sink NOT IN (SELECT id FROM notify_sinks)")
        self._next_row = (await store.fetchone("SELECT COALESCE(MAX(id), 0) FROM notify_outbox"))[0]
        counts = dict(await store.fetchall(
            "SELECT sink, COUNT(*) FROM notify_outbox WHERE sent_at IS NULL GROUP BY sink"))
        rows = await store.fetchall(
            "SELECT id, kind, config, secret, events, created_at, failures, last_error, last_error_at, last_sent_at "
            "FROM notify_sinks ORDER BY id")
        self._next_sink = max((r[0] for r in rows), default=0)
        for r in rows:
            sink = Sink(r[0], r[1], json.loads(r[2]), r[3], json.loads(r[4]), r[5], r[6], r[7], r[8], r[9])
            self.workers[sink.id] = SinkWorker(store, sink, counts.get(sink.id, 0))
        self.plugins = await plugins.load()
        self._token = self._d.bus.subscribe(self._on_event)
        for worker in self.workers.values():
            worker.start()  # one with rows left from the last run sends them now
        for plugin in self.plugins:
            plugin.start()
        if self.workers or self.plugins:
            log.info("notify ready", sinks=len(self.workers), queued=sum(w.queued for w in self.workers.values()),
                     plugins=len(self.plugins))

    def stop(self) -> None:
        if self._token is not None:
            self._d.bus.unsubscribe(self._token)
            self._token = None
        for worker in self.workers.values():
            worker.stop()
        for plugin in self.plugins:
            plugin.stop()

    # ------------------------------------------------------------ events

    def _on_event(self, event: Event) -> None:
        if self.workers:
            payload = self._payload(event)
            for worker in self.workers.values():
                if filters.matches(worker.sink.events, payload):
                    self._queue(worker, payload)
        for plugin in self.plugins:
            plugin.offer(event)

    def _payload(self, event: Event) -> dict[str, Any]:
        payload = msgspec.to_builtins(event)
        agent = self._d.agents.agents.get(event.agent)
        if agent is not None:
            payload.update(agent_name=agent.name, session=agent.session, profile=agent.profile)
            if event.kind is EventKind.STATUS and agent.reason:
                payload["reason"] = agent.reason  # the question while waiting, the error shown
        payload["text"] = sinks.summary(payload)
        return payload

    def _queue(self, worker: SinkWorker, payload: dict[str, Any]) -> int:
        self._next_row += 1
        # A record: committed with the next batch (kept and retried if the disk fails), before the worker reads it.
        self._d.store.write("INSERT INTO notify_outbox (id, sink, payload, created_at) VALUES (?,?,?,?)",
                            (self._next_row, worker.sink.id, json.dumps(payload, ensure_ascii=False), time.time()))
        worker.added()
        return self._next_row

    # ------------------------------------------------------------ calls

    def info(self, worker: SinkWorker) -> SinkInfo:
        s = worker.sink
        return SinkInfo(id=s.id, kind=s.kind, target=s.target, events=s.events,  # type: ignore[arg-type]
                        created_at=s.created_at,
                        format=s.config.get("format") if s.kind == "webhook" else None, fingerprint=s.fingerprint,
                        queued=worker.queued, failures=s.failures, last_error=s.last_error,
                        last_error_at=s.last_error_at, last_sent_at=s.last_sent_at, retry_at=worker.retry_at)

    def list(self) -> NotifyList:
        return NotifyList(sinks=[self.info(w) for w in self.workers.values()],
                          plugins=[p.info() for p in self.plugins])

    def worker(self, sink_id: int) -> SinkWorker:
        worker = self.workers.get(sink_id)
        if worker is None:
            raise RpcError(ErrorCode.NO_SUCH_SINK, f"no notification sink {sink_id} (see: caoctl notify list)")
        return worker

    async def add(self, p: NotifyAddParams) -> NotifyAdded:
        try:
            events = filters.parse(p.events)
        except filters.BadFilter as e:
            raise RpcError(ErrorCode.INVALID_PARAMS, str(e)) from None
        made_secret = None
        secret = None
        if p.kind == "webhook":
            if not p.url:
                raise RpcError(ErrorCode.INVALID_SINK, "a webhook needs --url")
            try:
                http.check_url(p.url)
            except ValueError as e:
                raise RpcError(ErrorCode.INVALID_SINK, str(e)) from None
            secret = p.secret or None
            if secret is None:
                secret = made_secret = secrets.token_hex(32)
            config: dict[str, Any] = {"url": p.url, "format": p.format}
        elif p.kind == "desktop":
            if sinks.desktop_program() is None:
                raise RpcError(ErrorCode.INVALID_SINK, "no desktop notifier: neither notify-send (libnotify) nor "
                               "osascript (macOS) is on the daemon's PATH")
            config = {}
        else:
            why = sinks.check_command(p.argv)
            if why:
                raise RpcError(ErrorCode.INVALID_SINK, why)
            if not p.timeout > 0:
                raise RpcError(ErrorCode.INVALID_PARAMS, "--timeout must be more than 0 seconds")
            config = {"argv": p.argv, "timeout": p.timeout}
        self._next_sink += 1  # taken before any await: two adds at once get two ids
        sink = Sink(self._next_sink, p.kind, config, secret, events, time.time())
        await self._d.store.commit(
            "INSERT INTO notify_sinks (id, kind, config, secret, events, created_at) VALUES (?,?,?,?,?,?)",
            (sink.id, sink.kind, json.dumps(config), secret, json.dumps(events), sink.created_at))
        worker = SinkWorker(self._d.store, sink, 0)
        self.workers[sink.id] = worker
        worker.start()
        log.info("notify sink added", sink=sink.id, kind=sink.kind, events=events)
        return NotifyAdded(sink=self.info(worker), secret=made_secret)

    async def remove(self, sink_id: int) -> None:
        worker = self.worker(sink_id)
        await self._d.store.commit("DELETE FROM notify_sinks WHERE id=?", (sink_id,))
        self.workers.pop(sink_id, None)
        worker.stop()
        self._d.store.write("DELETE FROM notify_outbox WHERE sink=?", (sink_id,))
        log.info("notify sink removed", sink=sink_id, unsent=worker.queued)

    async def test(self, sink_id: int) -> NotifyTested:
        """Queue one `test` event for the sink (whatever its filter) and retry it now if it was backing off."""
        worker = self.worker(sink_id)
        payload: dict[str, Any] = {"seq": 0, "ts": time.time(), "kind": "test", "agent": "",
                                   "detail": {"sink": sink_id}}
        payload["text"] = sinks.summary(payload)
        row = self._queue(worker, payload)
        worker.retry_now()
        return NotifyTested(sink=self.info(worker), outbox_id=row)
