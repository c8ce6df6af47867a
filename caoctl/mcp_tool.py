"""An MCP tool of the bridge: its arguments and result shape as JSON Schema, and its arguments checked.

The schemas are written the way the MCP SDK (pydantic) rendered them while the bridge
ran on it, so the CLIs' models see the same tools: a title per property, optional
values as `anyOf [T, null]`, a `$defs` entry for a nested shape. Arguments are checked
leniently as pydantic did (an integer may come as "600" or 600.0), and a bad one is a
tool error that names the argument.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Callable

STRING = {"type": "string"}
INTEGER = {"type": "integer"}
NUMBER = {"type": "number"}
BOOLEAN = {"type": "boolean"}
REQUIRED = object()  # an argument without a default


class ToolError(Exception):
    """A tool call that failed: its message goes back to the model as the tool's error text."""


def nullable(schema: dict) -> dict:
    return {"anyOf": [schema, {"type": "null"}]}


def array(schema: dict) -> dict:
    return {"items": schema, "type": "array"}


def one_of(*values: str) -> dict:
    """A string that must be one of `values` (as pydantic rendered a Literal)."""
    return {"enum": list(values), "type": "string"}


def _title(name: str) -> str:
    return " ".join(word.capitalize() for word in name.split("_"))


@dataclass(frozen=True)
class Arg:
    """One argument of a tool."""

    name: str
    schema: dict
    description: str
    default: Any = REQUIRED
    minimum: int | None = None

    def json_schema(self) -> dict:
        out: dict[str, Any] = {}
        if self.default is not REQUIRED:
            out["default"] = self.default
        out["description"] = self.description
        if self.minimum is not None:
            out["minimum"] = self.minimum
        out["title"] = _title(self.name)
        return {**out, **self.schema}


@dataclass(frozen=True)
class Shape:
    """A tool's structured result: fields (name -> schema) and which may be left out."""

    title: str
    fields: dict[str, dict]
    optional: frozenset[str] = frozenset()

    def json_schema(self) -> dict:
        return {"properties": {k: {"title": _title(k), **v} for k, v in self.fields.items()},
                "required": [k for k in self.fields if k not in self.optional],
                "type": "object", "title": self.title}

    def ref(self) -> dict:
        return {"$ref": f"#/$defs/{self.title}"}


@dataclass(frozen=True)
class Tool:
    """A tool: what tools/list shows of it, and `run(call, **arguments) -> dict` for tools/call."""

    name: str
    description: str
    title: str
    args: list[Arg]
    output: Shape
    run: Callable[..., dict]
    read_only: bool = False
    nested: list[Shape] = field(default_factory=list)  # shapes the output refers to ($defs)

    def listing(self) -> dict:
        annotations: dict[str, Any] = {"title": self.title}
        if self.read_only:
            annotations["readOnlyHint"] = True
        inputs: dict[str, Any] = {"properties": {a.name: a.json_schema() for a in self.args}}
        required = [a.name for a in self.args if a.default is REQUIRED]
        if required:
            inputs["required"] = required
        inputs.update(type="object", title=f"{self.name}Arguments")
        output = self.output.json_schema()
        if self.nested:
            output["$defs"] = {s.title: s.json_schema() for s in self.nested}
        return {"annotations": annotations, "description": self.description, "inputSchema": inputs,
                "name": self.name, "outputSchema": output}

    def arguments(self, given: Any) -> dict[str, Any]:
        """The call's arguments checked and completed with defaults; ToolError names a bad one."""
        if given is None:
            given = {}
        if not isinstance(given, dict):
            raise ToolError(f"invalid arguments for {self.name}: expected an object")
        out, problems = {}, []
        for arg in self.args:
            if arg.name not in given:
                if arg.default is REQUIRED:
                    problems.append(f"{arg.name}: field required")
                else:
                    out[arg.name] = arg.default
                continue
            try:
                out[arg.name] = _check(given[arg.name], arg.schema, arg.minimum)
            except ValueError as e:
                problems.append(f"{arg.name}: {e}")
        if problems:
            raise ToolError(f"invalid arguments for {self.name}: " + "; ".join(problems))
        return out


_TRUE = {"true", "1", "yes", "on", "t", "y"}
_FALSE = {"false", "0", "no", "off", "f", "n"}


def _check(value: Any, schema: dict, minimum: int | None) -> Any:
    """`value` as `schema` wants it (pydantic's lax conversions), or ValueError."""
    if "anyOf" in schema:  # only ever [T, null]
        return None if value is None else _check(value, schema["anyOf"][0], minimum)
    kind = schema["type"]
    if kind == "string":
        if not isinstance(value, str):
            raise ValueError(f"expected a string, got {value!r}")
        if "enum" in schema and value not in schema["enum"]:
            raise ValueError(f"expected one of {', '.join(schema['enum'])}, got {value!r}")
        return value
    if kind == "array":
        if not isinstance(value, list):
            raise ValueError(f"expected a list, got {value!r}")
        return [_check(item, schema["items"], minimum) for item in value]
    if kind == "boolean":
        if isinstance(value, bool):
            return value
        if isinstance(value, int) and value in (0, 1):
            return bool(value)
        if isinstance(value, str) and value.strip().lower() in _TRUE | _FALSE:
            return value.strip().lower() in _TRUE
        raise ValueError(f"expected a boolean, got {value!r}")
    if kind == "integer":
        number = _integer(value)
        if minimum is not None and number < minimum:
            raise ValueError(f"must be at least {minimum}, got {number}")
        return number
    raise ValueError(f"cannot check a {kind}")  # no tool takes another kind


def _integer(value: Any) -> int:
    if isinstance(value, bool):
        raise ValueError(f"expected an integer, got {value!r}")
    if isinstance(value, int):
        return value
    if isinstance(value, float) and value.is_integer():
        return int(value)
    if isinstance(value, str):
        try:
            return int(value.strip())
        except ValueError:
            pass
    raise ValueError(f"expected an integer, got {value!r}")
