"""Typed, validated node parameters: one table per node, no ROS needed to check a value.

A `Param` knows its type, default, description, allowed values (range or enum) and whether it
may change at run time. The ROS node turns each into a ``ParameterDescriptor`` (so ``ros2 param
describe`` shows the same facts) and refuses to start, or refuses a set, with the reason
`Param.check` gives. Validation lives here so tests can exercise it without DDS.
"""

from __future__ import annotations

import math
from dataclasses import KW_ONLY, dataclass
from typing import Any


class ParameterError(ValueError):
    """A parameter value is invalid; the message names the parameter and what was expected."""


@dataclass(frozen=True)
class Param:
    """One parameter: its type is the type of ``default`` (bool, int, float or str)."""

    name: str
    default: bool | int | float | str
    description: str
    _: KW_ONLY
    choices: tuple[str, ...] | None = None  # allowed values of a string enum
    low: float | None = None  # lowest allowed value (inclusive unless low_open)
    high: float | None = None  # highest allowed value (inclusive)
    low_open: bool = False  # True: the value must be strictly greater than `low`
    zero_ok: bool = False  # 0 is also allowed (means "use the default source")
    read_only: bool = True  # False: may be set while the node runs

    @property
    def kind(self) -> type:
        return type(self.default)

    def check(self, value: Any) -> str | None:
        """None when ``value`` is allowed, else the reason (naming the parameter)."""
        want = self.kind
        if want is float and isinstance(value, int) and not isinstance(value, bool):
            value = float(value)
        if not isinstance(value, want) or (want is int and isinstance(value, bool)):
            return f"{self.name}: expected a {want.__name__}, got {type(value).__name__} {value!r}"
        if self.choices is not None and value not in self.choices:
            return f"{self.name}: expected one of {list(self.choices)}, got {value!r}"
        if want in (int, float):
            if not math.isfinite(value):
                return f"{self.name}: expected a finite number, got {value}"
            if self.zero_ok and value == 0:
                return None
            if self.low is not None and (
                value < self.low or (self.low_open and value == self.low)
            ):
                op = ">" if self.low_open else ">="
                extra = " (or 0)" if self.zero_ok else ""
                return f"{self.name}: expected {op} {self.low:g}{extra}, got {value}"
            if self.high is not None and value > self.high:
                return f"{self.name}: expected <= {self.high:g}, got {value}"
        return None


# Parameters every rclpy node has; a parameter file may set them for any node.
STANDARD = ("use_sim_time", "start_type_description_service")


def params_files(argv: list[str]) -> list[str]:
    """The ``--params-file`` paths among ROS arguments."""
    return [argv[i + 1] for i, a in enumerate(argv[:-1]) if a == "--params-file"]


def load_params_file(path: str) -> dict:
    """A ROS 2 parameter file as a dict; `ParameterError` in one line if it cannot be read
    or is not a mapping of node names to ``ros__parameters``."""
    import yaml

    try:
        with open(path) as f:
            data = yaml.safe_load(f)
    except OSError as e:
        raise ParameterError(f"{path}: cannot read parameter file ({e.strerror})") from None
    except yaml.YAMLError as e:
        where = getattr(e, "problem_mark", None)
        at = f" at line {where.line + 1}, column {where.column + 1}" if where else ""
        what = getattr(e, "problem", None) or type(e).__name__
        raise ParameterError(f"{path}: not valid YAML{at}: {what}") from None
    if not isinstance(data, dict) or not all(
        isinstance(v, dict) and "ros__parameters" in v for v in data.values()
    ):
        raise ParameterError(
            f"{path}: expected '<node name>: {{ros__parameters: {{...}}}}' sections"
        )
    return data


def _node_key_matches(key: str, fqn: str) -> bool:
    """Whether a parameter file's top-level key addresses the node ``fqn`` ('/ns/name'),
    with ROS 2's wildcards: '*' one token, '**' any number of them."""
    import re

    key = key if key.startswith("/") else "/" + key
    if "/" not in key[1:] and "*" not in key:  # a bare node name matches in any namespace
        return fqn.rsplit("/", 1)[-1] == key[1:]
    parts = []
    for token in key.strip("/").split("/"):
        parts.append("(/[^/]+)*" if token == "**" else "/" + token.replace("*", "[^/]+"))
    return re.fullmatch("".join(parts), fqn) is not None


def _flatten(params: dict, prefix: str = "") -> list[str]:
    names = []
    for k, v in params.items():
        name = f"{prefix}{k}"
        names += _flatten(v, name + ".") if isinstance(v, dict) else [name]
    return names


def check_params_file(path: str, fqn: str, known: tuple[str, ...]) -> None:
    """Refuse, in one line, a parameter file that has no section for the node ``fqn`` or
    sets a parameter the node does not have (with the closest known name)."""
    import difflib

    data = load_params_file(path)
    mine = [k for k in data if _node_key_matches(str(k), fqn)]
    if not mine:
        raise ParameterError(
            f"{path}: no section for this node ({fqn}); it has {sorted(map(str, data))} "
            "(key it by the node name or '/**')"
        )
    for key in mine:
        for name in _flatten(data[key]["ros__parameters"] or {}):
            if name in known or name in STANDARD or name.startswith("qos_overrides."):
                continue
            close = difflib.get_close_matches(name, known, n=1)
            hint = f" (did you mean '{close[0]}'?)" if close else ""
            raise ParameterError(f"{path}: unknown parameter '{name}' for {fqn}{hint}")
