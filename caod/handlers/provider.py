"""provider.*: the CLIs this daemon can start, looked up on its own PATH."""

from __future__ import annotations

import os

import providers
from caod.protocol import ProviderChecks, ProviderListParams
from caod.provider_checks import check_providers
from caod.rpc import Context


async def list_providers(_ctx: Context, _p: ProviderListParams) -> ProviderChecks:
    path = os.environ.get("PATH", os.defpath)  # what agents inherit (prepare_launch copies os.environ)
    return ProviderChecks(path=path, providers_dir=str(providers.user_dir()), providers=check_providers(path))


HANDLERS = {"provider.list": list_providers}
