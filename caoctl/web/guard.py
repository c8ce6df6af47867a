"""Who may talk to the dashboard: checked on every request before any route runs.

- Host: the bound address or localhost, with the port. A page on another site
  whose name was rebound to 127.0.0.1 (DNS rebinding) sends its own name and is
  refused.
- The token: `caoctl web` prints a URL with a random token; visiting it sets an
  HttpOnly, SameSite=Strict cookie and redirects to the clean URL, so the token
  leaves the address bar and history. Every other request needs the cookie
  (unless --no-token).
- Origin: a request that changes state (anything but GET/HEAD) must carry our
  own Origin; browsers always send it there. The event streams are GETs, and a
  browser sends no Origin on a same-origin GET, so for them a present Origin
  must be ours and a present Sec-Fetch-Site must be same-origin.
"""

from __future__ import annotations

import hmac
from http.cookies import SimpleCookie
from urllib.parse import parse_qs

COOKIE = "caod_web"
SAFE_METHODS = {"GET", "HEAD"}
STREAM_PREFIX = "/api/stream"  # the Server-Sent Events routes
# No inline script or style, nothing from elsewhere, never framed.
CSP = ("default-src 'none'; script-src 'self'; style-src 'self'; connect-src 'self'; img-src 'self'; "
       "base-uri 'none'; form-action 'self'; frame-ancestors 'none'")
SECURITY_HEADERS = [
    (b"content-security-policy", CSP.encode()),
    (b"x-content-type-options", b"nosniff"),
    (b"referrer-policy", b"no-referrer"),
    (b"x-frame-options", b"DENY"),
    (b"cache-control", b"no-store"),
]


class Guard:
    """ASGI middleware: Host, token cookie and Origin checks, and the security headers."""

    def __init__(self, app, host: str, port: int, token: str | None):
        self.app = app
        self.token = token
        names = {"127.0.0.1", "localhost", host}
        self.hosts = {f"{n}:{port}" for n in names}
        self.origins = {f"http://{h}" for h in self.hosts}

    async def __call__(self, scope, receive, send):
        if scope["type"] != "http":
            return await self.app(scope, receive, send)
        headers = {k.decode("latin-1").lower(): v.decode("latin-1") for k, v in scope["headers"]}
        method, path = scope["method"], scope["path"]
        if headers.get("host", "").lower() not in self.hosts:
            return await _refuse(send, 421, "this dashboard answers only to its own address")
        origin = headers.get("origin")
        if method not in SAFE_METHODS and origin not in self.origins:
            return await _refuse(send, 403, "refused: the request does not come from this dashboard's page")
        if path.startswith(STREAM_PREFIX) and (
                (origin is not None and origin not in self.origins)
                or headers.get("sec-fetch-site", "same-origin") != "same-origin"):
            return await _refuse(send, 403, "refused: the event stream is for this dashboard's page only")
        if self.token is not None:
            given = parse_qs(scope.get("query_string", b"").decode("latin-1")).get("token", [None])[0]
            if given is not None and method == "GET":
                if not hmac.compare_digest(given.encode(), self.token.encode()):
                    return await _refuse(send, 403, "wrong token: use the URL `caoctl web` printed")
                return await _set_cookie_and_redirect(send, self.token)
            if not self._has_cookie(headers.get("cookie", "")):
                return await _refuse(send, 401, "no token: open the URL `caoctl web` printed")

        async def send_with_headers(message):
            if message["type"] == "http.response.start":
                message = {**message, "headers": [*message.get("headers", []), *SECURITY_HEADERS]}
            await send(message)

        return await self.app(scope, receive, send_with_headers)

    def _has_cookie(self, header: str) -> bool:
        jar = SimpleCookie()
        try:
            jar.load(header)
        except Exception:  # a malformed Cookie header: no cookie
            return False
        morsel = jar.get(COOKIE)
        return morsel is not None and hmac.compare_digest(morsel.value.encode(), self.token.encode())


async def _refuse(send, status: int, text: str) -> None:
    await send({"type": "http.response.start", "status": status,
                "headers": [(b"content-type", b"text/plain; charset=utf-8"), *SECURITY_HEADERS]})
    await send({"type": "http.response.body", "body": (text + "\n").encode()})


async def _set_cookie_and_redirect(send, token: str) -> None:
    # Always to "/": a path taken from the request ("//elsewhere") would make an open redirect.
    cookie = f"{COOKIE}={token}; HttpOnly; SameSite=Strict; Path=/"
    await send({"type": "http.response.start", "status": 303,
                "headers": [(b"location", b"/"), (b"set-cookie", cookie.encode()),
                            *SECURITY_HEADERS]})
    await send({"type": "http.response.body", "body": b""})
