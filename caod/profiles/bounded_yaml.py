"""YAML for profile front matter, with limits checked before anything walks the data.

PyYAML gives every use of an alias the same node, so a few lines (the "billion
laughs") hold 10^9 values the moment something walks them (an error message's
repr, JSON, msgspec): the daemon's loop stalls for a minute and takes gigabytes.
Its composer also recurses once per nesting level, so a deeply nested value ends
in RecursionError. Both are refused here as problems with the file.
"""

from __future__ import annotations

from typing import Any

import yaml
from yaml.nodes import MappingNode, Node, SequenceNode

MAX_DEPTH = 32  # a real profile nests 5 deep (fields > mcpServers > server > env > value)
MAX_VALUES = 10_000  # keys and values, an alias counted each time it is used
MAX_TEXT = 256 * 1024  # characters of all scalars, likewise: without aliases, at most the file


_too_many = f"the front matter holds more than {MAX_VALUES} values (an alias *name counts each time it is used)"


class TooBig(Exception):
    """The front matter passes a limit; `mark` is where (a yaml Mark), when known."""

    def __init__(self, problem: str, mark: Any = None):
        super().__init__(problem)
        self.problem = problem
        self.mark = mark


class _Loader(yaml.SafeLoader):
    def __init__(self, stream: str):
        super().__init__(stream)
        self._depth = 0
        self._nodes = 0

    def compose_node(self, parent: Node | None, index: Any) -> Node:
        self._depth += 1
        self._nodes += 1
        try:
            if self._depth > MAX_DEPTH:
                raise TooBig(f"the front matter is nested more than {MAX_DEPTH} levels deep",
                             self.peek_event().start_mark)
            if self._nodes > MAX_VALUES:  # stop reading at once, not after the whole text
                raise TooBig(_too_many, self.peek_event().start_mark)
            return super().compose_node(parent, index)
        finally:
            self._depth -= 1

    def compose_document(self) -> Node:
        node = super().compose_document()
        _measure(node)
        return node


def _children(node: Node) -> list[Node]:
    if isinstance(node, SequenceNode):
        return list(node.value)
    if isinstance(node, MappingNode):
        return [part for pair in node.value for part in pair]
    return []


def _measure(root: Node) -> None:
    """Count what `root` holds with every alias expanded, without expanding anything:
    each distinct node is measured once and its figures reused for each use."""
    done: dict[int, tuple[int, int, int]] = {}  # id(node) -> (values, characters, height)
    open_nodes: set[int] = set()  # on the current path: meeting one again is a cycle

    def walk(node: Node, depth: int) -> tuple[int, int, int]:
        key = id(node)
        if key in open_nodes:
            raise TooBig("an alias (*name) in the front matter is used inside the value it names", node.start_mark)
        if key not in done:
            if depth > MAX_DEPTH:
                raise TooBig(f"the front matter is nested more than {MAX_DEPTH} levels deep once its aliases "
                             "(*name) are expanded", node.start_mark)
            open_nodes.add(key)
            values, text, height = 1, len(node.value) if isinstance(node.value, str) else 0, 0
            for child in _children(node):
                child_values, child_text, child_height = walk(child, depth + 1)
                values, text, height = values + child_values, text + child_text, max(height, child_height + 1)
                if values > MAX_VALUES:
                    raise TooBig(_too_many, node.start_mark)
                if text > MAX_TEXT:
                    raise TooBig(f"the front matter holds more than {MAX_TEXT // 1024} KiB of text (an alias *name "
                                 "counts each time it is used)", node.start_mark)
            open_nodes.discard(key)
            done[key] = (values, text, height)
        figures = done[key]
        if depth + figures[2] > MAX_DEPTH:
            raise TooBig(f"the front matter is nested more than {MAX_DEPTH} levels deep once its aliases "
                         "(*name) are expanded", node.start_mark)
        return figures

    walk(root, 1)


def load(text: str) -> Any:
    """yaml.safe_load within the limits above; raises TooBig, or yaml.YAMLError for bad YAML."""
    return yaml.load(text, Loader=_Loader)  # noqa: S506 - a SafeLoader subclass
