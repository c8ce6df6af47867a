import time, json
from fakemodel.server import Reply
from test_real_clis import CLIS, start, turn, screen, wait_for, reap_orphans, binary, statuses
import pytest

@pytest.mark.parametrize("prov", ["qwen_code"])
def test_diag(prov, daemon_factory, real_daemon, model_server, workdir):
    cli = [c for c in CLIS if c.provider == prov][0]
    c = real_daemon.client()
    launched = c.call("session.launch", {"profile": "developer", "provider": cli.provider, "session": "resume",
                                         "cwd": str(workdir)}, timeout=30)
    agent = launched.supervisor.id
    wait_for(c, agent, "idle")
    model_server.script(Reply("NOTED-APPLE-9"))
    assert turn(c, agent, "Remember the word APPLE-9.").answer == "NOTED-APPLE-9"
    print("BEFORE", statuses(c, agent))
    real_daemon.kill()
    reap_orphans(real_daemon)
    again = daemon_factory.same(real_daemon, start=False)
    again.env = dict(real_daemon.env)
    again.start()
    c = again.client()
    deadline = time.monotonic() + 30
    while not any(a.id == agent and a.status.live for a in c.call("agent.list", {}).agents):
        time.sleep(0.1)
    wait_for(c, agent, "idle")
    print("HIST1", c.call("agent.output", {"agent": agent, "mode": "history"}).text)
    model_server.script(Reply("IT-WAS-APPLE-9"))
    done = turn(c, agent, "Which word?")
    print("DONE", done.answer)
    print("HIST2", c.call("agent.output", {"agent": agent, "mode": "history"}).text)
    print("AFTER", [(e.new.value, e.signal.value, e.detail) for e in c.call("events.list", {"agent": agent, "limit": 1000}).events if e.kind.value == "status"])
