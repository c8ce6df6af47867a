"""What each real agent CLI needs to talk to the fake model instead of its vendor's API.

The one table of it: `python -m tests.fakemodel` prints it for a person, and
the real-CLI tests (tests/e2e/realclis.py) build their agents' environment
from it. Everything points at 127.0.0.1: the fake model's URL, or DEAD where a
CLI would otherwise fetch something (OpenCode's plugin install from npm).
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from typing import Callable

DEAD = "http://127.0.0.1:9"  # nothing listens there: a request to it fails at once
ANTHROPIC_KEY = "sk-ant-e2e-fake-key-0123456789abcdef"  # the shape Claude Code accepts
OPENAI_KEY = "sk-e2e-fake"
MODEL = "fake-model"


def _no_args(_url: str) -> list[str]:
    return []


def _no_files(_url: str) -> dict[str, str]:
    return {}


@dataclass(frozen=True)
class CliSetup:
    provider: str  # caod's provider name
    title: str
    binary: str
    api: str  # the fake model's name for the API this CLI speaks (see fakemodel.server)
    env: Callable[[str], dict[str, str]]  # the model's URL -> variables to set
    args: Callable[[str], list[str]] = _no_args  # the URL -> launch arguments
    files: Callable[[str], dict[str, str]] = _no_files  # the URL -> files for the working folder
    notes: tuple[str, ...] = field(default=())


def codex_args(url: str) -> list[str]:
    """Codex 0.169 reads no base-URL variable: a model provider on the command line."""
    provider = (f'{{name = "fakemodel", base_url = "{url}/v1", env_key = "OPENAI_API_KEY", '
                f'wire_api = "responses", request_max_retries = 0, stream_max_retries = 0}}')
    return ["-c", 'model_provider="fakemodel"', "-c", f"model_providers.fakemodel={provider}", "-m", MODEL]


def opencode_config(url: str) -> dict:
    """OpenCode's project config: the fake model as an OpenAI-compatible provider, bash asks first."""
    return {
        "$schema": "https://opencode.ai/config.json",
        "model": f"fake/{MODEL}",
        "small_model": f"fake/{MODEL}",
        "permission": {"bash": "ask"},
        "provider": {"fake": {
            "npm": "@ai-sdk/openai-compatible", "name": "Fake LLM",
            "options": {"baseURL": f"{url}/v1", "apiKey": "fake"},
            "models": {MODEL: {"name": "Fake Model", "limit": {"context": 128000, "output": 8192}}},
        }},
    }


SETUPS: dict[str, CliSetup] = {s.provider: s for s in (
    CliSetup("claude_code", "Claude Code", "claude", "anthropic",
             env=lambda url: {"ANTHROPIC_BASE_URL": url, "ANTHROPIC_API_KEY": ANTHROPIC_KEY}),
    CliSetup("codex", "Codex", "codex", "responses",
             env=lambda url: {"OPENAI_API_KEY": OPENAI_KEY}, args=codex_args,
             notes=("Codex takes the model's address as -c arguments, not from a variable.",)),
    CliSetup("gemini_cli", "Gemini CLI", "gemini", "gemini",
             env=lambda url: {"GEMINI_API_KEY": "e2e-fake", "GOOGLE_GEMINI_BASE_URL": url},
             args=lambda url: ["-m", "gemini-2.5-flash"]),
    CliSetup("qwen_code", "Qwen Code", "qwen", "chat",
             env=lambda url: {"OPENAI_BASE_URL": f"{url}/v1", "OPENAI_API_KEY": OPENAI_KEY, "OPENAI_MODEL": MODEL},
             notes=("Unset HTTPS_PROXY/HTTP_PROXY first: Qwen Code 0.15.10 sends 127.0.0.1 through "
                    "HTTPS_PROXY despite NO_PROXY.",)),
    CliSetup("opencode", "OpenCode", "opencode", "chat",
             # no models.dev download, no plugin install
             env=lambda url: {"OPENCODE_DISABLE_MODELS_FETCH": "true", "npm_config_registry": f"{DEAD}/"},
             files=lambda url: {"opencode.json": json.dumps(opencode_config(url), indent=2) + "\n"}),
)}


def all_env(url: str) -> dict[str, str]:
    """Every CLI's variables at once (they never disagree), for a daemon that runs them all."""
    env: dict[str, str] = {}
    for setup in SETUPS.values():
        for key, value in setup.env(url).items():
            if env.get(key, value) != value:
                raise ValueError(f"{setup.provider} wants {key}={value}, another CLI {env[key]}")
            env[key] = value
    return env
