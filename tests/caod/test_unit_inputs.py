"""inputs.sanitize / encode_input: message text can never act as keys."""

from __future__ import annotations

import pytest

from caod.inputs import PASTE_BEGIN, PASTE_END, encode_input, sanitize


@pytest.mark.parametrize(
    "raw, clean",
    [
        ("plain text", "plain text"),
        ("tabs\tand\nnewlines", "tabs\tand\nnewlines"),
        ("crlf\r\nline\rend", "crlf\nline\nend"),
        ("a\x1b[201~b", "ab"),  # paste end marker
        ("a\x1b[200~b", "ab"),  # paste begin marker
        ("a[201~b", "ab"),  # the marker without its ESC is removed too
        ("red\x1b[31mtext", "red[31mtext"),  # ESC removed, the rest is plain text
        ("up\x1b[Aarrow", "up[Aarrow"),
        ("ctrl\x03c\x04d\x1az", "ctrlcdz"),
        ("nul\x00bs\x08del\x7f", "nulbsdel"),
        ("c1\x9bcsi\x85nel\x80x\x9f", "c1csinelx"),
        ("unicode ✓ ● 日本 stays", "unicode ✓ ● 日本 stays"),
        ("\xa0nbsp is not C1", "\xa0nbsp is not C1"),
    ],
)
def test_sanitize(raw, clean):
    assert sanitize(raw) == clean


@pytest.mark.parametrize(
    "sneaky",
    [
        "\x1b[20\x001~",  # removing the NUL would assemble a marker
        "\x1b[2\x030\x041~",
        "\x1b\x1b[201~[201~",
        "\x1b[\x1b[201~201~",  # removing the inner marker assembles an outer one
        "[20[201~1~",
    ],
)
def test_sanitize_cannot_assemble_markers(sneaky):
    out = sanitize(sneaky)
    assert "\x1b" not in out
    assert "[201~" not in out and "[200~" not in out


def test_sanitize_result_has_no_controls():
    every = "".join(chr(i) for i in range(0, 0xA0)) + "\x1b[201~tail"
    out = sanitize(every)
    assert all(c in "\n\t" or 0x20 <= ord(c) < 0x7F for c in out)
    assert out.endswith("tail")


def test_sanitize_is_idempotent():
    text = "x\x1b[201~\x1b[31m\r\n\x03y[200~"
    assert sanitize(sanitize(text)) == sanitize(text)


def test_encode_bracketed():
    data = encode_input("line1\nline2\x1b[201~\x03", bracketed=True)
    assert data == (PASTE_BEGIN + "line1\nline2" + PASTE_END).encode()
    # exactly one begin and one end marker: the paste cannot be closed early
    assert data.count(b"\x1b") == 2
    assert data.count(PASTE_END.encode()) == 1


def test_encode_unbracketed_folds_newlines():
    data = encode_input("a\nb\r\nc\x1b[Ad", bracketed=False)
    assert data == b"a b c[Ad"
    assert b"\x1b" not in data and b"\n" not in data and b"\r" not in data


def test_encode_is_utf8():
    assert encode_input("é✓", bracketed=False) == "é✓".encode()
    assert encode_input("é✓", bracketed=True) == (PASTE_BEGIN + "é✓" + PASTE_END).encode()
