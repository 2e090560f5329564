"""`lps demo`: the main job end to end on the simulated arm; flags from DemoConfig."""

from __future__ import annotations

import argparse
import json
import sys

from lps_robot.cli.common import add_dataclass_flags, exit_on_sigterm, options


def _demo(args: argparse.Namespace) -> int:
    from lps_robot import lone_job_spin

    lone_job_spin()  # the demo's steps run one at a time: nothing shares the cores
    exit_on_sigterm()
    from lps_robot.dcio import ConfigError, from_plain
    from lps_robot.demo import DemoConfig, run
    from lps_robot.demo.config import DEMO_PRESETS

    given = options(args, {"command", "func"})  # only the flags given (argparse.SUPPRESS)
    preset = DEMO_PRESETS.get(given.get("robot", "sim_arm6"), {})
    try:
        cfg = from_plain(DemoConfig, {**preset, **given})
    except ConfigError as e:  # a bad flag: one line, before anything runs
        print(f"lps demo: {e}", file=sys.stderr)
        return 2
    print(json.dumps(run(cfg)))
    return 0


def add(sub: argparse._SubParsersAction) -> None:
    """The ``demo`` command."""
    from lps_robot.demo import DemoConfig

    p = sub.add_parser("demo", help="the main job end to end on the simulated arm")
    add_dataclass_flags(p, DemoConfig)
    p.set_defaults(func=_demo)
