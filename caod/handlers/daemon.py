"""daemon.*: liveness, status, shutdown."""

from __future__ import annotations

import os
import time

from caod import __version__
from caod.protocol import DaemonStatus, Empty, Ok
from caod.rpc import Context


async def status(ctx: Context, _p: Empty) -> DaemonStatus:
    d = ctx.daemon
    known, live = await d.agents.counts()
    return DaemonStatus(
        version=__version__,
        pid=os.getpid(),
        socket=str(d.socket_path),
        home=str(d.home),
        started_at=d.started_at,
        uptime_s=time.time() - d.started_at,
        agents=known,
        agents_live=live,
        connections=len(d.server.open),
        calls=sum(conn.calls for conn in d.server.open),
    )


async def shutdown(ctx: Context, _p: Empty) -> Ok:
    ctx.after_reply.append(ctx.daemon.request_stop)
    return Ok()


HANDLERS = {"daemon.ping": status, "daemon.status": status, "daemon.shutdown": shutdown}
