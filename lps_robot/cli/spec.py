"""`lps spec`: robot specs from model files."""

from __future__ import annotations

import argparse
import sys


def _init(args: argparse.Namespace) -> int:
    from lps_robot.robot_model import spec_from_model, write_spec
    from lps_robot.spec import SpecError

    source = args.mjcf or args.urdf
    joints = [j for j in args.joints.split(",") if j] if args.joints else None
    try:
        data = spec_from_model(source, args.name, args.rate, joints, args.image_size)
        todo = write_spec(data, args.output, source)
    except (SpecError, OSError) as e:
        print(f"lps spec init: {e}", file=sys.stderr)
        return 1
    robot = data["robot"]
    print(f"{args.output}: {robot['name']}, {len(robot['joint_names'])} joints, "
          f"{len(data['cameras'])} cameras")  # fmt: skip
    for field in todo:
        print(f"fill in: {field}", file=sys.stderr)
    return 0


def add(sub: argparse._SubParsersAction) -> None:
    """The ``spec`` command group."""
    spec = sub.add_parser("spec", help="robot specs from model files (MJCF, URDF)")
    ssub = spec.add_subparsers(dest="spec_command", required=True, metavar="ACTION")
    p = ssub.add_parser(
        "init",
        help="write a spec YAML from a robot model: joints, limits, cameras",
        description="Joints are those the model's actuators drive (all hinge and slide joints "
        "without actuators), limits their ranges; velocity limits come from a URDF's <limit "
        "velocity>; an MJCF has none, so they are left empty and the spec is refused, naming "
        "the joint, until you fill them in.",
    )
    src = p.add_mutually_exclusive_group(required=True)
    src.add_argument("--mjcf", help="MuJoCo MJCF model file")
    src.add_argument("--urdf", help="URDF model file")
    p.add_argument("-o", "--output", required=True, help="spec YAML to write")
    p.add_argument("--name", default="", help="robot name (default: the model's)")
    p.add_argument("--rate", type=float, default=20.0, help="control rate (Hz)")
    p.add_argument("--joints", default="", help="commanded joints, comma-separated (default: "
                   "the actuated ones)")  # fmt: skip
    p.add_argument("--image-size", type=int, default=128, help="camera resolution (px, square)")
    p.set_defaults(func=_init)
