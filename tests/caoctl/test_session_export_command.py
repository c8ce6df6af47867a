"""caoctl session export NAME --markdown [-o FILE], against a real daemon with a scripted session."""

from __future__ import annotations


def test_export_to_a_file_and_to_stdout(daemon, caoctl, one_line_error, tmp_path, wait_status):
    client = daemon.client()
    r = client.call("session.launch", {"profile": "code_supervisor", "provider": "scripted", "session": "x1",
                                       "cwd": str(tmp_path), "task": "hello team"}, timeout=30)
    wait_status(client, r.supervisor.id, "completed", timeout=20)
    out = tmp_path / "x1.md"
    written = caoctl(daemon, "session", "export", "x1", "--markdown", "-o", str(out))
    assert written.returncode == 0 and written.stdout.strip() == f"wrote {out}", written.stderr
    text = out.read_text()
    assert text.startswith("# Session x1\n") and f"you → {r.supervisor.id} (code_supervisor)" in text
    assert "```text\nhello team" in text and "## Latest answers" in text
    printed = caoctl(daemon, "session", "export", "x1", "--markdown")
    assert printed.returncode == 0 and printed.stdout == text
    one_line_error(caoctl(daemon, "session", "export", "nope", "--markdown"), contains="no such session: nope")
    one_line_error(caoctl(daemon, "session", "export", "x1"), contains="--markdown")
