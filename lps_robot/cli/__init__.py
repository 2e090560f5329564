"""The `lps` command: record, teleop, data, train, export, eval, node, spec, bench, demo.

Each command group lives in its own module, which owns its flags, help and handler; this
module only assembles them. Handlers import their heavy dependencies lazily, so `lps --help`
and the deploy-side commands never import torch.
"""

from __future__ import annotations

import argparse
import os
import sys
from collections.abc import Callable, Sequence

from lps_robot.cli import bench, calibrate, data, demo, learn, ros, spec
from lps_robot.cli.ros import NODES

__all__ = ["NODES", "build_parser", "main"]


def _add_completion(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser(
        "completion",
        help='print a shell completion script: eval "$(lps completion bash)" in ~/.bashrc',
    )
    p.add_argument("shell", choices=("bash", "zsh", "tcsh"))
    p.set_defaults(func=_completion)


def _completion(args: argparse.Namespace) -> int:
    import shtab

    print(shtab.complete(build_parser(), shell=args.shell))
    return 0


# the order `lps --help` lists the commands in
COMMANDS: tuple[Callable[[argparse._SubParsersAction], None], ...] = (
    data.add,
    bench.add,
    learn.add_export,
    ros.add_record,
    calibrate.add,
    _add_completion,
    learn.add_eval,
    demo.add,
    ros.add_node,
    learn.add_train,
    ros.add_teleop,
    spec.add,
)


def build_parser() -> argparse.ArgumentParser:
    """The whole `lps` parser, every command group registered."""
    from lps_robot import __version__

    parser = argparse.ArgumentParser(prog="lps", description=__doc__.splitlines()[0])
    parser.add_argument("--version", action="version", version=f"lps_robot {__version__}")
    sub = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")
    for add in COMMANDS:
        add(sub)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    """Parse ``argv`` and run the chosen command; its exit status."""
    args, extra = build_parser().parse_known_args(argv)
    if args.command in ("node", "record", "teleop"):
        args.ros_args = extra  # e.g. --ros-args -p policy_path:=x.onnx
    elif extra:
        build_parser().parse_args(argv)  # let argparse report the unknown arguments
    try:
        return int(args.func(args) or 0)
    except BrokenPipeError:  # `lps ... | head`: the reader left; no traceback
        devnull = os.open(os.devnull, os.O_WRONLY)
        os.dup2(devnull, sys.stdout.fileno())
        return 0
