"""Service definitions for caod: a systemd user service + socket, a launchd agent.

The text lives here, once. `systemd/` in the repository holds the generic
rendering (ExecStart through /usr/bin/env); `caoctl daemon install-service`
writes a personal one (absolute path to this install's caod, your PATH).
"""

from __future__ import annotations

import os
import shutil
import sys
from pathlib import Path
from xml.sax.saxutils import escape

SOCKET_UNIT = """\
[Unit]
Description=caod control socket (orchestrator of AI coding CLIs)

[Socket]
ListenStream=%t/caod/caod.sock
SocketMode=0600
DirectoryMode=0700
RemoveOnStop=yes

[Install]
WantedBy=sockets.target
"""

SERVICE_UNIT = """\
[Unit]
Description=caod, the orchestrator of AI coding CLIs
Requires=caod.socket
After=caod.socket

[Service]
Type=notify
NotifyAccess=main
ExecStart={exec_start} --log-level info
{environment}Restart=on-failure
RestartSec=2
# caod stops its agents itself on SIGTERM; what is left after the timeout is killed.
KillMode=mixed
TimeoutStopSec=30
UMask=0077
# Hardening that fits a user service whose agents work in your files.
# NoNewPrivileges also means no sudo inside agents: remove it if they need that.
NoNewPrivileges=yes
LockPersonality=yes
RestrictRealtime=yes
RestrictSUIDSGID=yes
SystemCallArchitectures=native

[Install]
WantedBy=default.target
Also=caod.socket
"""

LAUNCHD_LABEL = "dev.caod"
LAUNCHD_PLIST = """\
<?xml version="1.0" encoding="UTF-8"?>
<!DOCTYPE plist PUBLIC "-//Apple//DTD PLIST 1.0//EN" "http://www.apple.com/DTDs/PropertyList-1.0.dtd">
<plist version="1.0">
<dict>
  <key>Label</key>
  <string>{label}</string>
  <key>ProgramArguments</key>
  <array>
    <string>{caod}</string>
    <string>--log-level</string>
    <string>info</string>
  </array>
  <key>EnvironmentVariables</key>
  <dict>
    <key>PATH</key>
    <string>{path}</string>
  </dict>
  <key>RunAtLoad</key>
  <true/>
  <key>KeepAlive</key>
  <dict>
    <key>SuccessfulExit</key>
    <false/>
  </dict>
  <key>ProcessType</key>
  <string>Background</string>
  <key>StandardErrorPath</key>
  <string>{log}</string>
</dict>
</plist>
"""


def caod_executable() -> str:
    """This install's caod: next to the running interpreter, else on PATH."""
    beside = Path(sys.executable).parent / "caod"
    if beside.is_file() and os.access(beside, os.X_OK):
        return str(beside)
    found = shutil.which("caod")
    if found:
        return found
    raise FileNotFoundError("cannot find the caod executable (is the package installed?)")


def systemd_units(generic: bool = False) -> dict[str, str]:
    """File name -> text. `generic`: what the repository's systemd/ folder holds."""
    if generic:
        exec_start, environment = "/usr/bin/env caod", ""
    else:
        exec_start = caod_executable()
        # A user manager starts services with a bare PATH; agents need yours to find their CLIs.
        environment = f"Environment=PATH={os.environ.get('PATH', os.defpath)}\n"
    return {
        "caod.socket": SOCKET_UNIT,
        "caod.service": SERVICE_UNIT.format(exec_start=exec_start, environment=environment),
    }


def launchd_plist(generic: bool = False) -> dict[str, str]:
    home = "~" if generic else str(Path.home())
    text = LAUNCHD_PLIST.format(
        label=LAUNCHD_LABEL,
        caod=escape("/usr/local/bin/caod" if generic else caod_executable()),
        path=escape("/usr/local/bin:/usr/bin:/bin" if generic else os.environ.get("PATH", os.defpath)),
        log=escape(f"{home}/Library/Logs/caod.log"),
    )
    return {f"{LAUNCHD_LABEL}.plist": text}


def systemd_dir() -> Path:
    config = os.environ.get("XDG_CONFIG_HOME") or str(Path.home() / ".config")
    return Path(config) / "systemd" / "user"


def launchd_dir() -> Path:
    return Path.home() / "Library" / "LaunchAgents"
