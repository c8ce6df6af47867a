"""daemon.*: liveness, status, shutdown."""

from __future__ import annotations

import os
import time

from caod import __version__
from caod.protocol import DaemonStatus, Empty, Ok
from caod.rpc import Context


async def status(ctx: Context, _p: Empty) -> DaemonStatus:
    d = ctx.daemon
    agents = d.agents.agents.values()
    return DaemonStatus(
        version=__version__,
        pid=os.getpid(),
        socket=str(d.socket_path),
        home=str(d.home),
        started_at=d.started_at,
        uptime_s=time.time() - d.started_at,
        agents=len(agents),
        agents_live=sum(1 for a in agents if a.status.live),
        connections=len(d.server.open),
        calls=sum(conn.calls for conn in d.server.open),
    )


async def shutdown(ctx: Context, _p: Empty) -> Ok:
    ctx.after_reply.append(ctx.daemon.request_stop)
    return Ok()


HANDLERS = {"daemon.ping": status, "daemon.status": status, "daemon.shutdown": shutdown}
