"""Frozen dataclasses <-> plain data (dicts, lists, numbers) with errors that name the field.

Shared by the spec and the configs: nested dataclasses, ``tuple[T, ...]``, fixed tuples,
optionals and primitives; unknown or missing fields and wrong types raise the given error
class with the dotted path of the field.
"""

from __future__ import annotations

import dataclasses
import types
import typing
from typing import Any


class ConfigError(ValueError):
    """A config or spec field is missing or invalid; the message names the field."""


def to_plain(obj: Any) -> Any:
    if dataclasses.is_dataclass(obj):
        return {f.name: to_plain(getattr(obj, f.name)) for f in dataclasses.fields(obj)}
    if isinstance(obj, tuple | list):
        return [to_plain(v) for v in obj]
    return obj


def from_plain(cls: type, data: Any, error: type[ConfigError] = ConfigError) -> Any:
    """Build dataclass ``cls`` from plain data; validation errors are re-raised as ``error``."""
    return _Builder(error).build(cls, data, "")


def _join(prefix: str, name: str) -> str:
    return f"{prefix}.{name}" if prefix else name


class _Builder:
    def __init__(self, error: type[ConfigError]) -> None:
        self.error = error

    def build(self, cls: type, data: Any, path: str) -> Any:
        err = self.error
        if not isinstance(data, dict):
            raise err(f"{path or cls.__name__}: expected a mapping, got {type(data).__name__}")
        hints = typing.get_type_hints(cls)
        fields = {f.name: f for f in dataclasses.fields(cls)}
        unknown = sorted(set(data) - set(fields))
        if unknown:
            raise err(f"{_join(path, unknown[0])}: unknown field (expected one of {list(fields)})")
        kwargs = {}
        for name, f in fields.items():
            if name not in data:
                no_default = f.default is dataclasses.MISSING
                if no_default and f.default_factory is dataclasses.MISSING:
                    raise err(f"{_join(path, name)}: required field is missing")
                continue
            kwargs[name] = self.coerce(hints[name], data[name], _join(path, name))
        try:
            return cls(**kwargs)
        except ValueError as e:  # __post_init__ validation names the field relative to cls
            raise err(_join(path, str(e)) if path else str(e)) from e

    def coerce(self, tp: Any, value: Any, path: str) -> Any:
        err = self.error
        origin = typing.get_origin(tp)
        if origin in (typing.Union, types.UnionType):
            args = typing.get_args(tp)
            if value is None and type(None) in args:
                return None
            (inner,) = [a for a in args if a is not type(None)]
            return self.coerce(inner, value, path)
        if dataclasses.is_dataclass(tp):
            return self.build(tp, value, path)
        if origin is tuple:
            if not isinstance(value, list | tuple):
                raise err(f"{path}: expected a list, got {type(value).__name__}")
            args = typing.get_args(tp)
            if len(args) == 2 and args[1] is Ellipsis:
                return tuple(self.coerce(args[0], v, f"{path}[{i}]") for i, v in enumerate(value))
            if len(value) != len(args):
                raise err(f"{path}: expected {len(args)} values, got {len(value)}")
            pairs = enumerate(zip(args, value, strict=True))
            return tuple(self.coerce(a, v, f"{path}[{i}]") for i, (a, v) in pairs)
        if tp is bool:
            if not isinstance(value, bool):
                raise err(f"{path}: expected true or false, got {value!r}")
            return value
        if tp is float:
            if isinstance(value, str):  # PyYAML reads 3e-4 (no dot) as a string
                try:
                    return float(value)
                except ValueError:
                    pass
            if isinstance(value, bool) or not isinstance(value, int | float):
                raise err(f"{path}: expected a number, got {value!r}")
            return float(value)
        if tp is int:
            if isinstance(value, bool) or not isinstance(value, int):
                raise err(f"{path}: expected an integer, got {value!r}")
            return value
        if tp is str:
            if not isinstance(value, str):
                raise err(f"{path}: expected a string, got {value!r}")
            return value
        return value
