"""caoctl: the thin client for caod. Every command is one or a few JSON-RPC calls."""
