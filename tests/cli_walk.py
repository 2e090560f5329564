"""Every `lps` command's --help, for comparing the command-line interface across changes."""

from __future__ import annotations

import argparse
import os


def _subcommands(parser: argparse.ArgumentParser) -> list[tuple[str, argparse.ArgumentParser]]:
    for action in parser._actions:
        if isinstance(action, argparse._SubParsersAction):
            return list(action.choices.items())
    return []


def all_help(parser: argparse.ArgumentParser, width: int = 100) -> str:
    """The --help of ``parser`` and of every command below it, in a fixed width."""
    old = os.environ.get("COLUMNS")
    os.environ["COLUMNS"] = str(width)
    try:
        out, todo = [], [parser]
        while todo:
            p = todo.pop(0)
            out.append(f"==== {p.prog}\n{p.format_help()}")
            todo.extend(child for _, child in _subcommands(p))
        return "\n".join(out)
    finally:
        if old is None:
            del os.environ["COLUMNS"]
        else:
            os.environ["COLUMNS"] = old
