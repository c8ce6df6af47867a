"""Who owes its parent a report, kept in SQLite so a daemon restart does not forget it.

A worker owes a report from the moment its parent's message to it is queued until it
sends its parent a message (or caod forwards its answer for it). Its error, exit and
silence are news to the parent only while it owes one. `turn_from` is the sender of
the message the worker's current turn took: only a turn started by the parent's own
message ends in an `unreported` notice.

Rows are records (`Store.write`): kept and retried, one per worker, gone with its exit.
"""

from __future__ import annotations

from caod.store import Store


class OwedReports:
    def __init__(self, store: Store):
        self._store = store
        self._owes: set[str] = set()
        self._turn_from: dict[str, str] = {}

    async def load(self) -> None:
        """What the previous daemon knew (before any agent is relaunched)."""
        for worker, owes, turn_from in await self._store.fetchall(
                "SELECT worker, owes, turn_from FROM owed_reports"):
            if owes:
                self._owes.add(worker)
            if turn_from is not None:
                self._turn_from[worker] = turn_from

    def owes(self, worker: str) -> bool:
        return worker in self._owes

    def owing(self) -> set[str]:
        return set(self._owes)

    def turn_from(self, worker: str) -> str | None:
        return self._turn_from.get(worker)

    def owe(self, worker: str) -> None:
        if worker not in self._owes:
            self._owes.add(worker)
            self._save(worker)

    def settle(self, worker: str) -> None:
        if worker in self._owes:
            self._owes.discard(worker)
            self._save(worker)

    def took_from(self, worker: str, sender: str) -> None:
        if self._turn_from.get(worker) != sender:
            self._turn_from[worker] = sender
            self._save(worker)

    def forget(self, worker: str) -> None:
        """The worker exited: nothing is owed by it any more."""
        if worker in self._owes or worker in self._turn_from:
            self._owes.discard(worker)
            self._turn_from.pop(worker, None)
            self._store.write("DELETE FROM owed_reports WHERE worker = ?", (worker,))

    def _save(self, worker: str) -> None:
        self._store.write(
            "INSERT INTO owed_reports (worker, owes, turn_from) VALUES (?,?,?) ON CONFLICT(worker)"
            " DO UPDATE SET owes=excluded.owes, turn_from=excluded.turn_from",
            (worker, int(worker in self._owes), self._turn_from.get(worker)))
