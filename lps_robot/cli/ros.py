"""`lps node`, `lps record`: ROS 2 nodes started as plain Python processes."""

from __future__ import annotations

import argparse
import json

from lps_robot.cli.common import add_mistake_rate
from lps_robot.data.schema import DEFAULT_TASK
from lps_robot.ros.teleop_params import DEVICE_INPUT, INPUTS

NODES = {
    "policy": "lps_robot.ros.controller_node",
    "fake-robot": "lps_robot.ros.fake_robot",
    "sim": "lps_robot.ros.sim_node",
    "camera": "lps_robot.ros.camera_node",
    "recorder": "lps_robot.ros.recorder_node",
    "teleop": "lps_robot.ros.teleop_node",
}


def _node(args: argparse.Namespace) -> int:
    import importlib

    ros_args = ["--ros-args"]
    if args.params_file:
        ros_args += ["--params-file", args.params_file]
    extra = [a for a in args.ros_args if a != "--ros-args"]
    module = importlib.import_module(NODES[args.node])
    return int(module.main(["lps", *ros_args, *extra]) or 0)


def _record(args: argparse.Namespace) -> int:
    if args.sim > 0 and not args.teleop:
        from lps_robot.ros.record_sim import record_sim

        result = record_sim(
            args.sim,
            args.output,
            seed=args.seed,
            failure_rate=args.failure_rate,
            mistake_rate=args.mistake_rate,
            progress=not args.json,
        )
        print(json.dumps(result))
        return 0
    if args.no_session or (not _interactive() and not args.teleop):
        # the recorder node alone (launch files, scripts): episodes through its services
        args.node = "recorder"
        return _node(args)
    from lps_robot.ros.record_session import run_session

    return run_session(
        args.output, args.task, sim=args.sim != 0, teleop=args.teleop, params_file=args.params_file
    )


def _interactive() -> bool:
    import os

    return os.isatty(0)


def add_node(sub: argparse._SubParsersAction) -> None:
    """``node``: any of NODES; arguments after --ros-args go to rclpy."""
    p = sub.add_parser("node", help="start a ROS 2 node as a plain Python process")
    p.add_argument("node", choices=sorted(NODES), help="which node")
    p.add_argument("--params-file", default=None, help="ROS parameters YAML (config/*.yaml)")
    p.set_defaults(func=_node, ros_args=[])


def _teleop(args: argparse.Namespace) -> int:
    if args.input:  # else the parameters file's (or the node's default, joy)
        args.ros_args = ["--ros-args", "-p", f"input:={args.input}", *args.ros_args]
    args.node = "teleop"
    return _node(args)


def add_teleop(sub: argparse._SubParsersAction) -> None:
    """``teleop``: drive the arm from a gamepad, a SpaceMouse, the keyboard or a leader arm."""
    p = sub.add_parser(
        "teleop",
        help="drive the arm: gamepad (Joy), SpaceMouse (TwistStamped), keyboard or leader arm",
        description="The teleop node: device -> differential IK -> safe joint targets on "
        "/teleop/joint_command. Gamepad: hold LB (the deadman) and use the sticks; A closes "
        "the gripper, B opens it. Keyboard: " + _keyboard_help() + ". Parameters: "
        "--ros-args -p name:=value (see config/teleop.yaml).",
    )
    p.add_argument("--input", choices=INPUTS, default=None, help="the device (default joy)")
    p.add_argument("--params-file", default=None, help="teleop node parameters YAML")
    p.set_defaults(func=_teleop, ros_args=[])


def _keyboard_help() -> str:
    from lps_robot.teleop.keyboard import HELP

    return HELP


def add_record(sub: argparse._SubParsersAction) -> None:
    """``record``: the recorder node on a robot, or N scripted sim episodes end to end."""
    p = sub.add_parser(
        "record",
        help="record teleop demonstrations over ROS 2: a session in this terminal, or --sim N "
        "scripted episodes end to end",
        description="A recording session: the recorder node (and with --teleop the teleop node, "
        "with --sim the sim robot) started beside a screen that shows the episode, its rate "
        "and drops; space starts, y/n stop as success/failure, x discards, b re-records the "
        "last, Esc quits (gamepad: Start, Y, X, Back). Without a terminal, or with "
        "--no-session, the recorder node alone.",
    )
    p.add_argument(
        "--sim",
        type=int,
        nargs="?",
        const=-1,
        default=0,
        metavar="N",
        help="the sim robot: N scripted-teleop episodes (the script works a virtual gamepad "
        "through the teleop node), or, with --teleop and no N, driven by you",
    )
    p.add_argument("-o", "--output", default="runs/recordings", help="episode directory")
    p.add_argument(
        "--teleop",
        choices=tuple(DEVICE_INPUT),
        default=None,
        help="start the teleop node too: keyboard (this terminal), joy (a gamepad's joy "
        "node) or spacemouse (the spacenav node)",
    )
    p.add_argument("--task", default=DEFAULT_TASK, help="the task text stored with every episode")
    p.add_argument(
        "--no-session",
        action="store_true",
        help="the recorder node alone, driven through its services (scripts, launch files)",
    )
    p.add_argument("--seed", type=int, default=0, help="seed of the scripted episodes (--sim N)")
    p.add_argument("--failure-rate", type=float, default=0.0, help="scripted failures (--sim)")
    add_mistake_rate(p, "(--sim)")
    p.add_argument(
        "--params-file",
        default=None,
        help="parameters of the recorder and teleop nodes (sections lps_recorder, lps_teleop)",
    )
    p.add_argument("--json", action="store_true", help="no progress bar (--sim N)")
    p.set_defaults(func=_record, ros_args=[])
