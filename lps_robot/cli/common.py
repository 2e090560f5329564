"""Helpers shared by the command groups: result tables and flags generated from dataclasses."""

from __future__ import annotations

import argparse
import dataclasses
import signal
import sys
import typing
from collections.abc import Callable


def print_table(result: dict) -> None:
    """One ``key: value`` line per entry, keys right-aligned."""
    for k, v in result.items():
        print(f"{k:>24}: {v}")


def add_dataclass_flags(parser: argparse.ArgumentParser, cls: type, prefix: str = "") -> None:
    """One --flag per dataclass field (nested as --agent.lr), help from the field metadata."""
    hints = typing.get_type_hints(cls)
    for f in dataclasses.fields(cls):
        name, tp = prefix + f.name, hints[f.name]
        if dataclasses.is_dataclass(tp):
            add_dataclass_flags(parser, tp, f"{name}.")
            continue
        default = f.default if f.default is not dataclasses.MISSING else f.default_factory()
        auto = tp == bool | None  # an optional bool: None is "auto"
        parser.add_argument(
            f"--{name}",
            dest=name,
            type=flag_parser(tp),
            default=argparse.SUPPRESS,
            metavar="BOOL|AUTO" if auto else type(default).__name__.upper(),
            help=f"{f.metadata.get('help', '')} (default: {'auto' if auto else default})",
        )


BOOLS = {"true": True, "1": True, "yes": True, "false": False, "0": False, "no": False}


def flag_parser(tp: object) -> Callable[[str], object]:
    """The argparse ``type`` for a field type: comma lists for tuples, true/false for bools.
    Its name is what argparse's error shows ("invalid comma-separated int list value")."""
    if typing.get_origin(tp) is tuple:
        (inner, *_) = typing.get_args(tp)

        def parse_list(s: str) -> list:
            return [inner(x) for x in s.split(",") if x]

        parse_list.__name__ = f"comma-separated {inner.__name__} list"
        return parse_list
    if tp is bool or tp == bool | None:
        auto = tp is not bool

        def parse_bool(s: str) -> bool | None:
            if auto and s.lower() == "auto":
                return None
            if s.lower() not in BOOLS:
                raise ValueError(s)
            return BOOLS[s.lower()]

        parse_bool.__name__ = "true/false/auto" if auto else "true/false"
        return parse_bool
    return tp  # type: ignore[return-value]


MISTAKE_HELP = "chance of a hasty grasp or release at each decision point"


def add_mistake_rate(parser: argparse.ArgumentParser, note: str = "") -> None:
    """The scripted operator's --mistake-rate (recording commands share it)."""
    help_ = f"{MISTAKE_HELP} {note}" if note else MISTAKE_HELP
    parser.add_argument("--mistake-rate", type=float, default=0.35, help=help_)


def options(args: argparse.Namespace, skip: set[str]) -> dict:
    """The parsed flags of a dataclass-backed command, without argparse's own entries."""
    return {k: v for k, v in vars(args).items() if k not in skip}


def parse_map(items: list[str] | None) -> dict[str, str]:
    """``--map SRC=DST`` pairs (the dataset's key -> the spec's)."""
    out = {}
    for item in items or []:
        src, sep, dst = item.partition("=")
        if not sep or not src or not dst.isidentifier():
            raise ValueError(f"--map: expected SOURCE_KEY=SPEC_KEY (an identifier), got {item!r}")
        out[src] = dst
    return out


def exit_on_sigterm() -> None:
    """SIGTERM ends this job as Ctrl-C does, through its ``finally`` blocks, so the nodes and
    workers it started are stopped with it (by default the process dies at once and they
    run on)."""

    def _exit(signum: int, frame: object) -> None:
        sys.exit(128 + signum)

    signal.signal(signal.SIGTERM, _exit)
