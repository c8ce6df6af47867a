"""caod: one asyncio daemon that owns every agent CLI's pseudo-terminal."""

__version__ = "0.1.0"
