"""One worker per sink: sends its outbox rows in order, with retries and exponential backoff.

SQLite is the queue (notify_outbox): a matching event is a row before anything is sent,
and a row is marked sent only after its sink took it, so a restart resumes where the last
run stopped (a row sent just before a crash may go out twice: webhooks carry
X-Caod-Delivery, the row id, to tell). The worker sleeps on an asyncio.Event, woken by a
new row or by a one-shot backoff timer; nothing polls. While a sink fails, rows wait
behind the oldest one, so they arrive in order once it is back.
"""

from __future__ import annotations

import asyncio
import json
import os
import time
from typing import TYPE_CHECKING

from caod.logs import log
from caod.notify import sinks
from caod.notify.sinks import DeliveryFailed, Sink

if TYPE_CHECKING:
    from caod.store import Store

BATCH = 50
KEEP_SENT_S = 7 * 86400
PRUNE_EVERY = 500  # sends between two deletions of old sent rows
# Backoff after each failure in a row: FIRST, 2*FIRST, 4*FIRST ... up to MAX seconds.
RETRY_FIRST_S = float(os.environ.get("CAOD_NOTIFY_RETRY_FIRST_S", "1"))
RETRY_MAX_S = float(os.environ.get("CAOD_NOTIFY_RETRY_MAX_S", "300"))


def backoff(failures: int) -> float:
    return min(RETRY_MAX_S, RETRY_FIRST_S * 2 ** max(0, failures - 1))


class SinkWorker:
    def __init__(self, store: "Store", sink: Sink, queued: int):
        self.store = store
        self.sink = sink
        self.queued = queued  # rows not sent yet
        self.retry_at: float | None = None  # wall clock, while backing off
        self._wake = asyncio.Event()
        self._timer: asyncio.TimerHandle | None = None
        self._task: asyncio.Task | None = None
        self._sent_count = 0

    def start(self) -> None:
        self._task = asyncio.get_running_loop().create_task(self._run(), name=f"notify-sink-{self.sink.id}")
        if self.queued:
            self._wake.set()

    def stop(self) -> None:
        if self._timer is not None:
            self._timer.cancel()
        if self._task is not None:
            self._task.cancel()

    def added(self) -> None:
        """A row was queued: send it now unless the sink is backing off (then it waits its turn)."""
        self.queued += 1
        if self._timer is None:
            self._wake.set()

    def retry_now(self) -> None:
        """Cut a backoff short (notify test)."""
        if self._timer is not None:
            self._timer.cancel()
            self._timer = None
            self.retry_at = None
        self._wake.set()

    async def _run(self) -> None:
        while True:
            await self._wake.wait()
            self._wake.clear()
            try:
                await self._send_due()
            except asyncio.CancelledError:
                raise
            except Exception as e:  # a read failed (storage): try again after a backoff
                log.error("notify worker failed", sink=self.sink.id, error=repr(e))
                self._failed(f"internal error: {e!r}")

    async def _send_due(self) -> None:
        while self._timer is None:
            await self.store.flush()  # rows queued with store.write are committed: read them
            rows = await self.store.fetchall(
                "SELECT id, payload FROM notify_outbox WHERE sink=? AND sent_at IS NULL ORDER BY id LIMIT ?",
                (self.sink.id, BATCH))
            if not rows:
                return
            for row_id, payload in rows:
                try:
                    await sinks.deliver(self.sink, json.loads(payload), row_id)
                except DeliveryFailed as e:
                    self._failed(str(e))
                    return
                except Exception as e:  # a bug or an odd config: report it like a failed send
                    log.error("notify delivery raised", sink=self.sink.id, error=repr(e))
                    self._failed(f"internal error: {e!r}")
                    return
                self._sent(row_id)

    def _sent(self, row_id: int) -> None:
        now = time.time()
        self.queued = max(0, self.queued - 1)
        self.store.write("UPDATE notify_outbox SET sent_at=? WHERE id=?", (now, row_id))
        self._sent_count += 1
        if self._sent_count % PRUNE_EVERY == 0:  # sent rows are kept a while to look at, not for ever
            self.store.write("DELETE FROM notify_outbox WHERE sink=? AND sent_at < ?",
                             (self.sink.id, now - KEEP_SENT_S))
        if self.sink.failures:
            log.info("notify sink is back", sink=self.sink.id, after_failures=self.sink.failures)
        self.sink.failures = 0
        self.sink.last_sent_at = now
        self.store.write("UPDATE notify_sinks SET failures=0, last_sent_at=? WHERE id=?", (now, self.sink.id))

    def _failed(self, error: str) -> None:
        s = self.sink
        s.failures += 1
        s.last_error, s.last_error_at = error, time.time()
        self.store.write("UPDATE notify_sinks SET failures=?, last_error=?, last_error_at=? WHERE id=?",
                         (s.failures, error, s.last_error_at, s.id))
        delay = backoff(s.failures)
        self.retry_at = time.time() + delay
        log.warning("notify delivery failed", sink=s.id, kind=s.kind, failures=s.failures, retry_in_s=delay,
                    error=error)
        self._timer = asyncio.get_running_loop().call_later(delay, self._retry)

    def _retry(self) -> None:
        self._timer = None
        self.retry_at = None
        self._wake.set()
