"""Plugins found by the real importlib.metadata discovery: a dist-info folder on the daemon's PYTHONPATH.

One plugin records each event it gets (typed: a caod.protocol.Event); the others hang
(sync and async) or raise. Status events must reach a subscriber as fast as on a daemon
without plugins: measured turn by turn, the two daemons interleaved.
"""

from __future__ import annotations

import json
import statistics
import time
from pathlib import Path

from caod.status import Status

TURN = {"rules": [{"match": ".", "reply": "ok {text}", "think": 0.1}]}

PLUGIN = '''
import asyncio, json, os, time

OUT = os.environ["CAOD_TEST_PLUGIN_OUT"]


class Recorder:
    def on_event(self, event):
        with open(OUT, "a") as fh:
            fh.write(json.dumps({"type": type(event).__module__ + "." + type(event).__qualname__,
                                 "kind": event.kind.value, "new": event.new.value if event.new else None,
                                 "agent": event.agent, "seq": event.seq}) + "\\n")


def hang_sync(event):
    time.sleep(3600)


async def hang_async(event):
    await asyncio.Event().wait()


async def boom(event):
    raise RuntimeError("plugin bug")
'''

ENTRY_POINTS = """[caod.plugins]
recorder = caod_test_plugin:Recorder
hang_sync = caod_test_plugin:hang_sync
hang_async = caod_test_plugin:hang_async
boom = caod_test_plugin:boom
missing = caod_test_plugin:no_such_thing
"""


def install_plugin(site: Path) -> None:
    """What pip would leave: the module and a dist-info folder with its entry points."""
    site.mkdir(parents=True)
    (site / "caod_test_plugin.py").write_text(PLUGIN)
    info = site / "caod_test_plugin-1.0.dist-info"
    info.mkdir()
    (info / "METADATA").write_text("Metadata-Version: 2.1\nName: caod-test-plugin\nVersion: 1.0\n")
    (info / "entry_points.txt").write_text(ENTRY_POINTS)


def turn_time(client, watcher, agent_id, text, events_until) -> float:
    """Seconds from sending a task to its `completed` event reaching a subscriber."""
    start = time.monotonic()
    client.call("agent.send", {"agent": agent_id, "text": text})
    events_until(watcher, lambda e: e.agent == agent_id and e.new is Status.COMPLETED, timeout=30)
    return time.monotonic() - start


def test_hanging_and_raising_plugins_do_not_delay_status_events(daemon_factory, tmp_path, ready_agent,
                                                                events_until, wait_for):
    site = tmp_path / "site"
    install_plugin(site)
    out = tmp_path / "events.jsonl"
    with_plugins = daemon_factory.new(start=False)
    with_plugins.env.update(PYTHONPATH=str(site), CAOD_TEST_PLUGIN_OUT=str(out), CAOD_PLUGIN_TIMEOUT_S="2")
    with_plugins.start()
    baseline = daemon_factory.new()
    runs = {}
    for name, d in (("plugins", with_plugins), ("baseline", baseline)):
        c = d.client()
        watcher = d.client()
        agent = ready_agent(c, TURN)
        watcher.call("events.subscribe", {"agent": agent.id})
        runs[name] = (c, watcher, agent.id, [])
    for i in range(6):  # interleaved, so both see the same load
        for name, (c, watcher, agent_id, times) in runs.items():
            times.append(turn_time(c, watcher, agent_id, f"task {i}", events_until))
    print("turn to completed event, s: plugins", runs["plugins"][3], "baseline", runs["baseline"][3])
    with_median = statistics.median(runs["plugins"][3])
    base_median = statistics.median(runs["baseline"][3])
    # A plugin holding the bus up would cost its call timeout (2 s) per event, or stop events altogether.
    assert with_median < base_median * 2 + 0.5, (runs["plugins"][3], runs["baseline"][3])
    assert max(runs["plugins"][3]) < 2.0 + base_median, runs["plugins"][3]
    # the recorder got the typed events, in order, the hung ones did not stop it
    c, _, agent_id, _ = runs["plugins"]
    wait_for(out.exists, "the recorder's file")
    got = wait_for(lambda: (g := [json.loads(ln) for ln in out.read_text().splitlines()])
                   and sum(e["new"] == "completed" and e["agent"] == agent_id for e in g) == 6 and g,
                   "six completed events recorded")
    assert {e["type"] for e in got} == {"caod.protocol.wire.Event"}
    assert [e["seq"] for e in got] == sorted(e["seq"] for e in got)
    # notify list reports each plugin: the failing ones with their error
    plugins = wait_for(lambda: {p.name: p for p in c.call("notify.list", {}).plugins}
                       if all(p.failures or p.name in ("recorder", "missing")
                              for p in c.call("notify.list", {}).plugins) else None,
                       "the plugins' failures reported")
    assert set(plugins) == {"recorder", "hang_sync", "hang_async", "boom", "missing"}
    assert plugins["recorder"].loaded and plugins["recorder"].failures == 0 and plugins["recorder"].dropped == 0
    assert "did not return within 2s" in plugins["hang_async"].error
    assert "did not return within 2s" in plugins["hang_sync"].error
    assert plugins["hang_sync"].dropped > 0  # its thread is still stuck: later events skip it
    assert "RuntimeError('plugin bug')" in plugins["boom"].error and plugins["boom"].failures >= 6
    assert not plugins["missing"].loaded and "no_such_thing" in plugins["missing"].error
    log = [json.loads(ln) for ln in (with_plugins.home / "caod.log").read_text().splitlines()]
    assert {e.get("plugin") for e in log if e["event"] == "plugin failed"} == {"hang_sync", "hang_async", "boom"}
    assert [e.get("plugin") for e in log if e["event"] == "plugin not loaded"] == ["missing"]
    # the daemon still stops cleanly with a plugin thread stuck (the fixture checks exit 0, no traceback)
    assert with_plugins.stop() == 0
