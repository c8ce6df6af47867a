"""Whether each provider's CLI can be started: its command looked up on a given PATH.

The daemon answers provider.list with its own PATH (the one agents inherit), so
`caoctl doctor` and `caoctl provider list` report what `spawn` will find, not
what the caller's shell finds. With no daemon, caoctl runs the same check on
its own PATH and says so.
"""

from __future__ import annotations

import os

from caod.protocol.providers import ProviderCheck

ENV_PATH_HINT = "--env PATH=..."


def find_command(command: str, path: str) -> str | None:
    """Where an agent's exec finds `command` on `path` (a name with a slash is taken as is)."""
    if not command:
        return None
    if os.sep in command:
        return command if os.path.isfile(command) and os.access(command, os.X_OK) else None
    for folder in path.split(os.pathsep):
        candidate = os.path.join(folder or ".", command)
        if os.path.isfile(candidate) and os.access(candidate, os.X_OK):
            return candidate
    return None


def not_found(command: str, path: str, path_given: bool) -> str:
    """Why `command` cannot start, in one line that says what to do."""
    if os.sep in command:
        return f"{command} does not exist or is not executable"
    if path_given:
        return f"`{command}` is not on the PATH given with --env ({path})"
    return (f"`{command}` is not on the daemon's PATH ({path}); restart it with a PATH that has it "
            f"(caoctl daemon stop; caoctl daemon start, from a shell that finds {command}), or pass {ENV_PATH_HINT}")


def check_providers(path: str) -> list[ProviderCheck]:
    """Every provider this process knows (built in, and the provider files it reads)."""
    import providers

    user = providers.user_files()
    checks = []
    for name in providers.names():
        source = "user" if name in user else "builtin"
        try:
            spec = providers.get(name).spec
        except (providers.BadProvider, providers.UnknownProvider) as e:
            checks.append(ProviderCheck(name=name, source=source, error=str(e)))
            continue
        except Exception as e:  # noqa: BLE001 - a broken built-in module must not hide the others
            checks.append(ProviderCheck(name=name, source=source, error=f"cannot load provider {name!r}: {e}"))
            continue
        binary = spec.command[0] if spec.command else ""
        checks.append(ProviderCheck(name=name, source=source, verified=spec.verified, description=spec.description,
                                    binary=binary, found=find_command(binary, path)))
    return checks
