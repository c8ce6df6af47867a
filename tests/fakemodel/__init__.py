"""A scripted fake model server for end-to-end tests of real agent CLIs (see fakemodel.server)."""

from .server import EMPTY_TEXT, SIDE_TEXT, Fail, FakeModel, Reply, Request, ToolCall

__all__ = ["FakeModel", "Reply", "ToolCall", "Fail", "Request", "SIDE_TEXT", "EMPTY_TEXT"]
