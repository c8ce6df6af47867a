"""caoctl memory: store, recall, list, show, forget, and an export that round-trips
(JSON, and Markdown files people read and commit)."""

from __future__ import annotations

import json

import pytest


@pytest.fixture
def notes(daemon, caoctl_json, tmp_path):
    """Three memories in three places."""
    project = tmp_path / "proj"
    project.mkdir()
    made = [
        caoctl_json(daemon, "memory", "store", "the build is `make check-all`\nthen `make dist`", "--key", "build",
                    "--project", str(project), "--tag", "ci"),
        caoctl_json(daemon, "memory", "store", "our API keeps v1 routes until June", "--scope", "global",
                    "--key", "api-v1"),
        caoctl_json(daemon, "memory", "store", "developers write tests first", "--scope", "agent",
                    "--profile", "developer", "--key", "tests-first"),
    ]
    return project, made


def test_store_list_show_recall_forget(daemon, caoctl, caoctl_json, notes, one_line_error):
    project, made = notes
    assert [m["key"] for m in made] == ["build", "api-v1", "tests-first"]
    assert made[0]["owner"] == str(project) and made[0]["tags"] == ["ci"] and made[0]["source"] == "user"
    listed = caoctl_json(daemon, "memory", "list")
    assert sorted(m["key"] for m in listed) == ["api-v1", "build", "tests-first"]
    table = caoctl(daemon, "memory", "list").stdout
    assert "KEY" in table and "build" in table and "proj" in table

    shown = caoctl(daemon, "memory", "show", "build")
    assert shown.returncode == 0 and "make check-all`\nthen `make dist`" in shown.stdout
    # recall from the project: its notes and global ones, not a profile's unless named
    found = caoctl_json(daemon, "memory", "recall", "build routes tests", "--project", str(project))
    assert [m["key"] for m in found] == ["build", "api-v1"]
    found = caoctl_json(daemon, "memory", "recall", "tests", "--profile", "developer", "--project", str(project))
    assert [m["key"] for m in found] == ["tests-first"]
    assert caoctl_json(daemon, "memory", "recall", "tests", "--all")[0]["key"] == "tests-first"

    r = caoctl(daemon, "memory", "forget", "nope")
    one_line_error(r, code=1, contains="no memory with key 'nope'")
    gone = caoctl_json(daemon, "memory", "forget", "build")
    assert [m["key"] for m in gone] == ["build"]
    assert sorted(m["key"] for m in caoctl_json(daemon, "memory", "list")) == ["api-v1", "tests-first"]


def test_a_note_from_standard_input_and_bad_input(daemon, caoctl, one_line_error, tmp_path):
    r = caoctl(daemon, "memory", "store", "-", "--key", "piped", "--project", str(tmp_path),
               input="line one\nline two\n")
    assert r.returncode == 0 and "stored piped (project" in r.stdout, r.stderr
    one_line_error(caoctl(daemon, "memory", "store", "x", "--scope", "planet"), code=2)
    one_line_error(caoctl(daemon, "memory", "store", "x", "--scope", "session"), contains="not in a session")
    one_line_error(caoctl(daemon, "memory", "recall", "the"), contains="no words")


def test_an_ambiguous_key_asks_for_a_place(daemon, caoctl, caoctl_json, one_line_error, tmp_path):
    for folder in ("a", "b"):
        (tmp_path / folder).mkdir()
        caoctl_json(daemon, "memory", "store", f"note of {folder}", "--key", "same", "--project", str(tmp_path / folder))
    one_line_error(caoctl(daemon, "memory", "forget", "same"), contains="is in 2 places")
    gone = caoctl_json(daemon, "memory", "forget", "same", "--project", str(tmp_path / "b"))
    assert [m["content"] for m in gone] == ["note of b"]


def _comparable(memories):
    return sorted((m["scope"], m["owner"], m["key"], m["content"], m["tags"], m["source"],
                   m["created_at"], m["updated_at"]) for m in memories)


def test_markdown_export_round_trips(daemon, caoctl, caoctl_json, notes, tmp_path):
    before = caoctl_json(daemon, "memory", "list")
    folder = tmp_path / "exported"
    r = caoctl(daemon, "memory", "export", "--markdown", str(folder))
    assert r.returncode == 0, r.stderr
    files = sorted(p.name for p in folder.iterdir())
    assert files[0] == "agent-developer.md" and files[1] == "global.md" and files[2].startswith("project-proj-")
    text = (folder / "global.md").read_text()
    assert text.startswith("# caod memory: global\n") and "## api-v1\n" in text
    for m in before:
        caoctl_json(daemon, "memory", "forget", m["key"])
    assert caoctl_json(daemon, "memory", "list") == []
    assert caoctl_json(daemon, "memory", "import", str(folder)) == {"stored": 3}
    assert _comparable(caoctl_json(daemon, "memory", "list")) == _comparable(before)


def test_json_export_round_trips_and_bad_files_are_refused(daemon, caoctl, caoctl_json, notes, tmp_path,
                                                          one_line_error):
    r = caoctl(daemon, "memory", "export")
    before = json.loads(r.stdout)
    assert len(before) == 3
    dump = tmp_path / "memories.json"
    dump.write_text(r.stdout)
    for m in before:
        caoctl_json(daemon, "memory", "forget", m["key"])
    assert caoctl_json(daemon, "memory", "import", str(dump)) == {"stored": 3}
    assert _comparable(caoctl_json(daemon, "memory", "list")) == _comparable(before)
    bad = tmp_path / "bad.md"
    bad.write_text("# just some notes\n")
    one_line_error(caoctl(daemon, "memory", "import", str(bad)), contains="not a caod memory file")
