"""profile.*: list, show and install agent profiles."""

from __future__ import annotations

from pathlib import Path

from caod.logs import log
from caod.profiles import NoSuchProfile, ProfileError, ProfileExists, ProfileStore
from caod.protocol import Empty, ErrorCode, InstallParams, ProfileInfo, ProfileList, ProfileRef
from caod.rpc import Context, RpcError

_stores: dict[Path, ProfileStore] = {}


def store_for(ctx: Context) -> ProfileStore:
    """The daemon's profile store (`daemon.profiles` or `daemon.sessions.profiles` when wired), else one per home.

    Stores hold no state of their own (user files are read on every call), so
    two instances on the same home always agree.
    """
    for owner in (ctx.daemon, getattr(ctx.daemon, "sessions", None)):
        store = getattr(owner, "profiles", None)
        if isinstance(store, ProfileStore):
            return store
    home = Path(ctx.daemon.home)
    if home not in _stores:
        _stores[home] = ProfileStore(home)
    return _stores[home]


def rpc_error(e: Exception) -> RpcError:
    """The wire error for a profile problem."""
    if isinstance(e, NoSuchProfile):
        return RpcError(ErrorCode.NO_SUCH_PROFILE, e.message, {"name": e.name})
    if isinstance(e, ProfileExists):
        return RpcError(ErrorCode.NAME_TAKEN, e.message)
    if isinstance(e, ProfileError):
        return RpcError(ErrorCode.INVALID_PROFILE, e.message)
    if isinstance(e, OSError):
        where = f" {e.filename}" if e.filename else ""
        return RpcError(ErrorCode.INTERNAL_ERROR, f"cannot write the profile{where}: {e.strerror or e}")
    raise TypeError(f"not a profile error: {e!r}")


async def list_profiles(ctx: Context, p: Empty) -> ProfileList:
    profiles, problems = store_for(ctx).scan()
    for problem in problems:
        log.warning("skipping a broken profile", error=problem.message)
    return ProfileList(profiles=[profile.to_info(with_prompt=False) for profile in profiles])


async def get(ctx: Context, p: ProfileRef) -> ProfileInfo:
    try:
        return store_for(ctx).get(p.name).to_info(with_prompt=True)
    except (NoSuchProfile, ProfileError) as e:
        raise rpc_error(e) from None


async def install(ctx: Context, p: InstallParams) -> ProfileInfo:
    if (p.text is None) == (p.builtin is None):
        raise RpcError(ErrorCode.INVALID_PARAMS, "profile.install takes exactly one of 'text' or 'builtin'")
    store = store_for(ctx)
    try:
        if p.builtin is not None:
            profile = store.install_builtin(p.builtin, force=p.force)
        else:
            assert p.text is not None
            profile = store.install(p.text, p.source or "<text>", force=p.force)
    except (NoSuchProfile, ProfileError, OSError) as e:
        raise rpc_error(e) from None
    log.info("profile installed", profile=profile.name, role=profile.role, path=profile.path)
    return profile.to_info(with_prompt=False)


HANDLERS = {"profile.list": list_profiles, "profile.get": get, "profile.install": install}
