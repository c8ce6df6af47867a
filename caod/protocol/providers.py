"""Params and results of provider.*: the CLIs caod can run, as the daemon itself sees them."""

from __future__ import annotations

from caod.protocol.wire import Params, Result


class ProviderListParams(Params):
    """provider.list: every provider, its command looked up on the daemon's PATH."""


class ProviderCheck(Result):
    name: str
    source: str  # builtin | user
    verified: str = ""
    description: str = ""
    binary: str = ""  # the provider's command[0]
    found: str | None = None  # where that PATH finds it; None: not there
    error: str | None = None  # a provider file that does not load


class ProviderChecks(Result):
    path: str  # the PATH the daemon starts agents with (unless a spawn passes --env PATH=...)
    providers_dir: str  # where the daemon reads user provider files
    providers: list[ProviderCheck]
