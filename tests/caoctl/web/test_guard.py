"""caoctl web's gate, over real HTTP on 127.0.0.1: the token cookie, the Host, the Origin."""

from __future__ import annotations

import json
import re
import shutil
import subprocess

import pytest


def test_the_printed_url_sets_an_httponly_strict_cookie_and_redirects_to_the_clean_url(web):
    assert web.url.startswith(f"http://127.0.0.1:{web.port}/?token=") and len(web.token) >= 32
    r = web.request("GET", f"/?token={web.token}", cookie=False)
    assert r.status == 303 and r.headers["Location"] == "/"
    cookie = r.headers["Set-Cookie"]
    assert cookie.startswith(f"caod_web={web.token};") and "HttpOnly" in cookie and "SameSite=Strict" in cookie
    page = web.request("GET", "/", headers={"Cookie": cookie.split(";")[0]}, cookie=False)
    assert page.status == 200 and b"/static/app.js" in page.body
    csp = page.headers["Content-Security-Policy"]
    assert "script-src 'self'" in csp and "default-src 'none'" in csp and "frame-ancestors 'none'" in csp


def test_a_redirect_never_leaves_the_dashboard(web):
    r = web.request("GET", f"//elsewhere.example/?token={web.token}", cookie=False)
    assert r.status == 303 and r.headers["Location"] == "/"


def test_requests_without_the_cookie_or_with_a_wrong_token_are_refused(web):
    for path in ("/", "/static/app.js", "/api/overview", "/api/stream/events"):
        assert web.request("GET", path, cookie=False).status == 401, path
        assert web.request("GET", path, headers={"Cookie": "caod_web=guess"}, cookie=False).status == 401, path
    assert web.request("GET", "/?token=guess", cookie=False).status == 403
    assert web.request("GET", "/api/overview").status == 200  # the same request with the cookie


def test_a_foreign_host_header_is_refused_even_with_the_cookie(web):
    # DNS rebinding: a page on attacker.example whose name now points at 127.0.0.1
    for host in (f"attacker.example:{web.port}", "127.0.0.1", f"127.0.0.1:{web.port + 1}"):
        assert web.request("GET", "/api/overview", headers={"Host": host}).status == 421, host
    assert web.request("GET", "/api/overview", headers={"Host": f"localhost:{web.port}"}).status == 200


def test_posts_need_this_dashboards_origin(web, client, ready_agent):
    a = ready_agent(client)
    body = json.dumps({"text": "hello from the page"}).encode()
    path = f"/api/agents/{a.id}/message"
    json_type = {"Content-Type": "application/json"}
    assert web.request("POST", path, headers=json_type, body=body).status == 403  # no Origin
    assert web.request("POST", path, headers={**json_type, "Origin": "http://attacker.example"}, body=body).status == 403
    assert web.request("POST", path, headers={**json_type, "Origin": "null"}, body=body).status == 403
    # a plain form (what a cross-site page could send without asking) is not JSON
    form = web.request("POST", path, headers={"Origin": web.origin, "Content-Type": "text/plain"}, body=body)
    assert form.status == 415
    assert client.call("inbox.list", {"agent": a.id}).messages == []  # none of those got through
    ok = web.request("POST", path, headers={**json_type, "Origin": web.origin}, body=body)
    assert ok.status == 200, ok.body
    messages = client.call("inbox.list", {"agent": a.id}).messages
    assert [m.id for m in messages] == [ok.json()["id"]] and messages[0].sender == "user"


def test_the_event_stream_refuses_another_sites_origin(web):
    assert web.request("GET", "/api/stream/events", headers={"Origin": "http://attacker.example"}).status == 403
    assert web.request("GET", "/api/stream/events", headers={"Sec-Fetch-Site": "cross-site"}).status == 403
    s = web.stream("/api/stream/events", headers={"Origin": web.origin, "Sec-Fetch-Site": "same-origin"})
    try:
        assert s.status == 200 and s.response.headers["Content-Type"].startswith("text/event-stream")
        assert s.next_event()[0] == "hello"
    finally:
        s.close()


def test_no_token_serves_without_the_cookie_but_still_checks_host_and_origin(daemon, web_factory):
    w = web_factory(daemon, "--no-token")
    assert w.token is None and w.url == f"http://127.0.0.1:{w.port}/"
    assert w.request("GET", "/api/overview").status == 200
    assert w.request("GET", "/api/overview", headers={"Host": f"attacker.example:{w.port}"}).status == 421
    assert w.request("POST", "/api/agents/x/message", headers={"Origin": "http://attacker.example"}).status == 403


def test_a_host_other_than_loopback_needs_the_explicit_flag(daemon, caoctl, one_line_error):
    one_line_error(caoctl(daemon, "web", "--host", "0.0.0.0", "--port", "0"), 1, "not a loopback address")


def test_without_a_daemon_it_says_so_in_one_line(daemon, caoctl, one_line_error):
    daemon.stop()
    one_line_error(caoctl(daemon, "web", "--port", "0"), 69, "no daemon answers")


def test_the_page_never_puts_text_in_as_html():
    """Agent output, names and messages reach the DOM only as text: no HTML sinks in the script."""
    from importlib import resources

    script = resources.files("caoctl.web").joinpath("static", "app.js").read_text()
    assert "textContent" in script
    for sink in ("innerHTML", "outerHTML", "insertAdjacentHTML", "document.write", "eval(", "new Function"):
        assert sink not in script, sink
    page = resources.files("caoctl.web").joinpath("static", "index.html").read_text()
    assert "<script>" not in page and not re.search(r"\son[a-z]+\s*=", page)  # no inline script, no handlers


@pytest.mark.skipif(shutil.which("node") is None, reason="no node to parse the script with")
def test_the_pages_script_parses():
    from importlib import resources

    with resources.as_file(resources.files("caoctl.web").joinpath("static", "app.js")) as path:
        r = subprocess.run(["node", "--check", str(path)], capture_output=True, text=True, timeout=30)
    assert r.returncode == 0, r.stderr


def test_a_port_in_use_is_one_clear_line(daemon, web, caoctl, one_line_error):
    one_line_error(caoctl(daemon, "web", "--port", str(web.port)), 1, f"cannot listen on 127.0.0.1:{web.port}")
