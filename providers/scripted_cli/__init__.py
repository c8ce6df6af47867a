"""A fake TUI coding CLI ("scripted agent") that caod's tests, demo and
benchmarks drive instead of a real agent CLI.  Run it with
``python -m providers.scripted_cli --help``."""
