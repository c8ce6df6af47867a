"""One HTTP/1.1 POST on asyncio streams (http://, and https:// through an ssl context).

caod has no HTTP client of its own among its dependencies (httpx comes in only through
mcp, as a detail of that package), and a webhook needs little: send one request, read
the status line, close. Doing it here keeps it on the daemon's loop under one deadline.
The daemon only connects out; it never listens on TCP.
"""

from __future__ import annotations

import asyncio
import os
import ssl
from urllib.parse import urlsplit

from caod import __version__

TIMEOUT_S = 10.0


class HttpError(Exception):
    """The POST did not get a 2xx answer (or no answer): the message says which."""


def check_url(url: str) -> None:
    """Raise ValueError with a clear reason when `url` cannot be posted to."""
    parts = urlsplit(url)
    if parts.scheme not in ("http", "https"):
        raise ValueError(f"webhook URL {url!r}: only http:// and https:// are supported")
    if not parts.hostname:
        raise ValueError(f"webhook URL {url!r} names no host")
    try:
        parts.port
    except ValueError:
        raise ValueError(f"webhook URL {url!r} has a bad port") from None


async def post(url: str, body: bytes, headers: dict[str, str], timeout: float = TIMEOUT_S) -> int:
    """POST `body`; the status code when it is 2xx, else HttpError."""
    try:
        async with asyncio.timeout(timeout):
            return await _post(url, body, headers)
    except TimeoutError:
        raise HttpError(f"no answer from {_where(url)} within {timeout:g}s") from None
    except ssl.SSLError as e:
        raise HttpError(f"TLS with {_where(url)} failed: {e.reason or e}") from None
    except OSError as e:
        why = os.strerror(e.errno) if e.errno else str(e)
        raise HttpError(f"cannot reach {_where(url)}: {why}") from None


def _where(url: str) -> str:
    parts = urlsplit(url)
    return f"{parts.hostname}:{parts.port or (443 if parts.scheme == 'https' else 80)}"


async def _post(url: str, body: bytes, headers: dict[str, str]) -> int:
    parts = urlsplit(url)
    secure = parts.scheme == "https"
    port = parts.port or (443 if secure else 80)
    context = ssl.create_default_context() if secure else None
    reader, writer = await asyncio.open_connection(parts.hostname, port, ssl=context,
                                                   server_hostname=parts.hostname if secure else None)
    try:
        target = (parts.path or "/") + (f"?{parts.query}" if parts.query else "")
        host = parts.hostname if parts.port is None else f"{parts.hostname}:{parts.port}"
        lines = [f"POST {target} HTTP/1.1", f"Host: {host}", "Content-Type: application/json",
                 f"Content-Length: {len(body)}", "Connection: close", f"User-Agent: caod/{__version__}"]
        lines += [f"{k}: {v}" for k, v in headers.items()]
        writer.write(("\r\n".join(lines) + "\r\n\r\n").encode("latin-1") + body)
        await writer.drain()
        status_line = await reader.readline()
        if not status_line:
            raise HttpError(f"{_where(url)} closed the connection without an answer")
        fields = status_line.decode("latin-1").split(None, 2)
        if len(fields) < 2 or not fields[0].startswith("HTTP/") or not fields[1].isdigit():
            raise HttpError(f"{_where(url)} answered with something not HTTP: {status_line[:60]!r}")
        code = int(fields[1])
        if not 200 <= code < 300:
            reason = fields[2].strip() if len(fields) > 2 else ""
            raise HttpError(f"{_where(url)} answered HTTP {code}" + (f" {reason}" if reason else ""))
        return code
    finally:
        writer.close()
        try:
            await writer.wait_closed()
        except (OSError, ssl.SSLError):
            pass
