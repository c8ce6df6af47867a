"""caoctl web: a dashboard in the browser, served by its own process on 127.0.0.1.

The daemon keeps no TCP listener: this process is one more client of its Unix
socket (caoctl.client.Client) and serves HTTP to the browser. Only
`caoctl web` imports this package, so the other commands stay light.

- guard.py: who may talk to it (the token cookie, the Host, the Origin).
- link.py: the daemon side (calls in threads, the event stream into asyncio).
- overview.py: sessions as trees, and who needs a person.
- app.py: the routes (pages, JSON, Server-Sent Events).
- static/: the page itself (hand-written HTML, JS, CSS; nothing to build).
"""
