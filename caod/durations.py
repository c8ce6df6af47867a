"""Durations as people type them (90, 90s, 15m, 12h, 7d, 2w), for caod and caoctl alike."""

from __future__ import annotations

import argparse
import re

UNITS = {"s": 1, "m": 60, "h": 3600, "d": 86400, "w": 7 * 86400}
_DURATION = re.compile(r"^\s*(\d+(?:\.\d+)?)\s*([smhdw]?)\s*$")


def parse_duration(text: str) -> float:
    """Seconds in `text`: a number with an optional unit s, m, h, d or w."""
    found = _DURATION.match(text.lower())
    if found is None:
        raise ValueError(f"bad duration {text!r}: use a number with s, m, h, d or w (e.g. 30m, 12h, 7d)")
    return float(found.group(1)) * UNITS[found.group(2) or "s"]


def format_duration(seconds: float) -> str:
    """The largest whole unit that fits: 7d, 12h, 90s."""
    for unit in ("w", "d", "h", "m"):
        if seconds >= UNITS[unit] and seconds % UNITS[unit] == 0:
            return f"{int(seconds // UNITS[unit])}{unit}"
    return f"{seconds:g}s"


def retention_limit(text: str) -> float | None:
    """argparse type of `caod --keep-exited`: seconds, or None for 0/off (keep for ever)."""
    if text.strip().lower() in ("0", "off", "never"):
        return None
    try:
        seconds = parse_duration(text)
    except ValueError as e:
        raise argparse.ArgumentTypeError(str(e)) from None
    return seconds or None


def stall_limit(text: str) -> float | None:
    """argparse type of `caod --stall-after`: seconds, or None for 0/off (never stalled)."""
    return retention_limit(text)
