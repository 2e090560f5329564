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
