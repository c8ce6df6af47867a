"""A scripted fake model server for end-to-end tests of real agent CLIs (see fakemodel.server).

On its own, for a person trying a real CLI offline: `python -m tests.fakemodel` (see __main__.py);
what each CLI needs to use it is in fakemodel.clis.
"""

from .server import EMPTY_TEXT, SIDE_TEXT, Fail, FakeModel, Reply, Request, ToolCall

__all__ = ["FakeModel", "Reply", "ToolCall", "Fail", "Request", "SIDE_TEXT", "EMPTY_TEXT"]
