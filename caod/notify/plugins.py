"""Third-party plugins: objects named in the `caod.plugins` entry-point group get every event.

An entry point names an object: an `on_event(event)` method is called if it has one,
else the object itself (a class is made with no arguments first). `event` is a
caod.protocol.Event (seq, ts, kind, agent, old, new, signal, detail). `async def`
handlers run on the daemon's loop and must not block it; plain functions run on a thread
of the plugin's own. Each call has CALL_TIMEOUT_S: an async call is cancelled then, a
sync one is left to finish while the plugin's later events are dropped (counted). Events
reach a plugin through its own bounded queue, so a raising, slow or hung plugin never
delays the event bus, the sinks or another plugin; each failure is logged.
"""

from __future__ import annotations

import asyncio
import copy
import inspect
import os
import queue
import threading
from importlib import metadata
from typing import Any, Callable

from caod.logs import log
from caod.protocol import Event, PluginInfo

GROUP = "caod.plugins"
CALL_TIMEOUT_S = float(os.environ.get("CAOD_PLUGIN_TIMEOUT_S", "5"))
LOAD_TIMEOUT_S = 10.0
QUEUE_MAX = 1000


class Plugin:
    def __init__(self, name: str, value: str):
        self.name = name
        self.value = value
        self.handler: Callable[[Event], Any] | None = None
        self.is_async = False
        self.error: str | None = None
        self.failures = 0
        self.dropped = 0
        self._queue: asyncio.Queue[Event] = asyncio.Queue(QUEUE_MAX)
        self._task: asyncio.Task | None = None
        self._thread_calls: queue.SimpleQueue | None = None
        self._busy = False  # a sync call is still running on the plugin's thread

    def info(self) -> PluginInfo:
        return PluginInfo(name=self.name, value=self.value, loaded=self.handler is not None, error=self.error,
                          failures=self.failures, dropped=self.dropped)

    def offer(self, event: Event) -> None:
        """Called from the bus: never blocks."""
        if self.handler is None:
            return
        try:
            self._queue.put_nowait(event)
        except asyncio.QueueFull:
            self._drop("its queue is full")

    def start(self) -> None:
        if self.handler is None:
            return
        if not self.is_async:
            self._thread_calls = queue.SimpleQueue()
            threading.Thread(target=_thread_loop, args=(self._thread_calls,), daemon=True,
                             name=f"plugin-{self.name}").start()
        self._task = asyncio.get_running_loop().create_task(self._run(), name=f"plugin-{self.name}")

    def stop(self) -> None:
        if self._task is not None:
            self._task.cancel()
        if self._thread_calls is not None:
            self._thread_calls.put(None)

    def _drop(self, why: str) -> None:
        self.dropped += 1
        if self.dropped == 1 or self.dropped % 100 == 0:
            log.warning("plugin event dropped", plugin=self.name, why=why, dropped=self.dropped)

    def _failed(self, error: str) -> None:
        self.failures += 1
        self.error = error
        log.error("plugin failed", plugin=self.name, error=error, failures=self.failures)

    async def _run(self) -> None:
        loop = asyncio.get_running_loop()
        while True:
            event = await self._queue.get()
            if self._busy:
                self._drop("its previous call has not returned")
                continue
            event = copy.deepcopy(event)  # its own: a plugin that changes it changes nobody else's
            try:
                if self.is_async:
                    call = self.handler(event)  # type: ignore[misc]
                else:
                    done = loop.create_future()
                    self._busy = True
                    done.add_done_callback(self._returned)
                    self._thread_calls.put((self.handler, event, loop, done))  # type: ignore[union-attr]
                    call = asyncio.shield(done)
                async with asyncio.timeout(CALL_TIMEOUT_S):
                    await call
            except TimeoutError:
                self._failed(f"on_event did not return within {CALL_TIMEOUT_S:g}s (event {event.seq})")
            except asyncio.CancelledError:
                raise
            except Exception as e:
                self._failed(f"on_event raised {e!r} (event {event.seq})")

    def _returned(self, _done: asyncio.Future) -> None:
        self._busy = False


def _thread_loop(calls: queue.SimpleQueue) -> None:
    while (item := calls.get()) is not None:
        handler, event, loop, done = item
        try:
            result, error = handler(event), None
        except BaseException as e:  # reported on the loop; the thread goes on
            result, error = None, e
        try:
            loop.call_soon_threadsafe(_settle, done, result, error)
        except RuntimeError:  # the loop closed while the call ran
            return


def _settle(done: asyncio.Future, result: Any, error: BaseException | None) -> None:
    if done.done():
        return
    if error is not None:
        done.set_exception(error)
    else:
        done.set_result(result)


def _load_one(ep: metadata.EntryPoint) -> tuple[Callable[[Event], Any], bool]:
    obj = ep.load()
    if inspect.isclass(obj):
        obj = obj()
    handler = getattr(obj, "on_event", obj)
    if not callable(handler):
        raise TypeError(f"{ep.value} has no on_event and is not callable")
    is_async = inspect.iscoroutinefunction(handler) or inspect.iscoroutinefunction(getattr(handler, "__call__", None))
    return handler, is_async


async def load() -> list[Plugin]:
    """Every plugin of the group, loaded on a thread (an import that hangs cannot stop the daemon's start)."""
    loop = asyncio.get_running_loop()
    try:
        found = list(metadata.entry_points(group=GROUP))
    except Exception as e:
        log.error("plugin discovery failed", error=repr(e))
        return []
    plugins = []
    for ep in found:
        plugin = Plugin(ep.name, ep.value)
        plugins.append(plugin)
        done = loop.create_future()
        calls: queue.SimpleQueue = queue.SimpleQueue()
        threading.Thread(target=_thread_loop, args=(calls,), daemon=True, name=f"plugin-load-{ep.name}").start()
        calls.put((_load_one, ep, loop, done))
        calls.put(None)
        try:
            async with asyncio.timeout(LOAD_TIMEOUT_S):
                plugin.handler, plugin.is_async = await done
        except TimeoutError:
            plugin.error = f"loading did not finish within {LOAD_TIMEOUT_S:g}s"
        except Exception as e:
            plugin.error = f"cannot load {ep.value}: {e!r}"
        if plugin.error:
            log.error("plugin not loaded", plugin=ep.name, error=plugin.error)
        else:
            log.info("plugin loaded", plugin=ep.name, value=ep.value, is_async=plugin.is_async)
    return plugins
