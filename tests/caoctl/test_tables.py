"""caoctl's tables: padded by display width, and nothing in a cell can act on the terminal."""

from __future__ import annotations

from wcwidth import wcswidth


def column_starts(text: str, value: str, header: str) -> set[int]:
    """The display column where `header` starts, and where `value` starts on each row holding it."""
    lines = text.splitlines()
    starts = {wcswidth(lines[0][: lines[0].index(header)])}
    starts |= {wcswidth(line[: line.index(value)]) for line in lines[1:] if value in line}
    return starts


def test_an_escape_code_in_a_name_is_refused_in_one_line(daemon, caoctl, one_line_error):
    r = caoctl(daemon, "spawn", "-p", "scripted", "--name", "evil\x1b[31mred")
    one_line_error(r, 1, "bad agent name 'evil\\x1b[31mred'")
    assert "\x1b" not in r.stderr and "\x1b" not in r.stdout
    assert caoctl(daemon, "ls").stdout.strip() == "no agents"


def test_wide_names_line_up_and_a_hostile_folder_name_is_shown_escaped(daemon, caoctl, tmp_path):
    folder = tmp_path / "dir\x1b[31mred\x07"  # the daemon takes any folder; caoctl must not paint with it
    folder.mkdir()
    for name in ("開発者", "dev", "レビュー担当者です"):
        r = caoctl(daemon, "spawn", "-p", "scripted", "--name", name, "--cwd", str(folder))
        assert r.returncode == 0, r.stderr
    for args, header in ((["ls"], "PROVIDER"), (["watch", "--once"], "PROVIDER")):
        out = caoctl(daemon, *args).stdout
        assert "\x1b" not in out and "\x07" not in out, out
        assert len(out.splitlines()) == 4, out
        assert len(column_starts(out, "scripted", header)) == 1, out  # one column, whatever the names' widths
    ls = caoctl(daemon, "ls").stdout
    assert ls.count("dir\\x1b[31mred\\x07") == 3, ls  # shown, escaped
    status = caoctl(daemon, "status", "開発者").stdout
    assert "\x1b" not in status and "cwd:      " + str(tmp_path / "dir\\x1b[31mred\\x07") in status, status
