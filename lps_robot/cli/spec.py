"""`lps spec`: robot specs from model files and from foreign datasets."""

from __future__ import annotations

import argparse
import sys

from lps_robot.cli.common import parse_map


def _init(args: argparse.Namespace) -> int:
    from lps_robot.data.reader import DataError
    from lps_robot.robot_model import spec_from_model, write_spec
    from lps_robot.spec import Spec, SpecError

    source = args.mjcf or args.urdf or args.from_dataset
    joints = [j for j in args.joints.split(",") if j] if args.joints else None
    try:
        if args.from_dataset:
            from lps_robot.data.propose import ESTIMATED, propose_spec

            data, fmt = propose_spec(args.from_dataset, parse_map(args.map), args.rate)
            if args.name:
                data["robot"]["name"] = args.name
            Spec.from_dict(data)  # what the importer will load
            todo = write_spec(data, args.output, source, extra=ESTIMATED)
            maps = " ".join(f"--map {m}" for m in args.map or [])
            print(f"import with: lps data import {source} --format {fmt} --spec "
                  f"{args.output} {maps}".rstrip(), file=sys.stderr)  # fmt: skip
        else:
            rate = 20.0 if args.rate is None else args.rate
            data = spec_from_model(source, args.name, rate, joints, args.image_size)
            todo = write_spec(data, args.output, source)
    except (SpecError, DataError, OSError, ValueError) as e:
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
    spec = sub.add_parser(
        "spec", help="robot specs from model files (MJCF, URDF) or foreign datasets"
    )
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
    src.add_argument(
        "--from-dataset",
        metavar="PATH",
        help="a robomimic HDF5 file or a LeRobot v3 dataset: keys, sizes and rate from it; "
        "limits estimated from the data (marked for checking)",
    )
    p.add_argument(
        "--map",
        action="append",
        metavar="SRC=DST",
        help="--from-dataset: name the dataset's key SRC as DST in the spec (repeatable; "
        "give the same to lps data import)",
    )
    p.add_argument("-o", "--output", required=True, help="spec YAML to write")
    p.add_argument("--name", default="", help="robot name (default: the model's)")
    p.add_argument(
        "--rate",
        type=float,
        default=None,
        help="control rate (Hz; default: the dataset's, else 20)",
    )
    p.add_argument("--joints", default="", help="commanded joints, comma-separated (default: "
                   "the actuated ones)")  # fmt: skip
    p.add_argument("--image-size", type=int, default=128, help="camera resolution (px, square)")
    p.set_defaults(func=_init)
