"""provider.list: the daemon's own view of its providers (its PATH, its provider files)."""

from __future__ import annotations

import os

from caod.protocol import ProviderChecks
from caod.provider_checks import find_command, not_found


def test_provider_list_reports_the_daemons_path_and_provider_files(daemon_factory, tmp_path):
    bin_dir, files = tmp_path / "bin", tmp_path / "providers"
    bin_dir.mkdir()
    files.mkdir()
    (bin_dir / "mycli").write_text("#!/bin/sh\n")
    (bin_dir / "mycli").chmod(0o755)
    (files / "mine.toml").write_text('name = "mine"\ndescription = "mine"\ncommand = ["mycli"]\n'
                                     '[[patterns]]\nstatus = "idle"\nregex = "> "\n')
    (files / "broken.toml").write_text("name = [\n")
    d = daemon_factory.new(start=False)
    d.env.update({"PATH": f"{bin_dir}{os.pathsep}{d.env.get('PATH', '')}", "CAOD_PROVIDERS_DIR": str(files)})
    d.start()
    result = d.client().call("provider.list")
    assert isinstance(result, ProviderChecks)
    assert result.path == d.env["PATH"] and result.providers_dir == str(files)
    by_name = {p.name: p for p in result.providers}
    assert by_name["mine"].source == "user" and by_name["mine"].found == str(bin_dir / "mycli")
    assert by_name["broken"].error and str(files / "broken.toml") in by_name["broken"].error
    assert by_name["scripted"].found is not None and by_name["scripted"].source == "builtin"


def test_find_command_and_the_message(tmp_path):
    exe = tmp_path / "tool"
    exe.write_text("#!/bin/sh\n")
    plain = tmp_path / "plain"
    plain.write_text("")
    exe.chmod(0o755)
    assert find_command("tool", f"/no/where{os.pathsep}{tmp_path}") == str(exe)
    assert find_command("plain", str(tmp_path)) is None  # not executable
    assert find_command(str(exe), "") == str(exe) and find_command(str(tmp_path / "nope"), str(tmp_path)) is None
    missing = tmp_path / "nope"
    assert not_found(str(missing), "/bin", False) == f"{missing} does not exist or is not executable"
