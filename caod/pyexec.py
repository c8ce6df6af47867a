"""The command lines caod and caoctl start their own Python children with.

`python -m pkg` puts the current folder first on sys.path, so a folder holding a
`caod/`, `caoctl/` or `providers/` folder (a clone of this project, worked on from
its parent) would shadow the installed packages in every child started there: the
daemon, an agent's MCP bridge and hooks, the scripted agent. `-P` (Python 3.11+)
leaves the current folder out; the children still see PYTHONPATH and site-packages.
"""

from __future__ import annotations

import sys

SAFE_PATH_FLAG = "-P"


def module_args(module: str, *args: str) -> list[str]:
    """The arguments after the interpreter that run `module` (e.g. a bridge's `args`)."""
    return [SAFE_PATH_FLAG, "-m", module, *args]


def module_argv(module: str, *args: str) -> list[str]:
    """This interpreter running `module`, never from the current folder."""
    return [sys.executable, *module_args(module, *args)]
