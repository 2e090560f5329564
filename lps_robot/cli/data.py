"""`lps data`: inspect, validate, recover, generate, merge, view/video, import, export."""

from __future__ import annotations

import argparse
import json
import sys

from lps_robot.cli.common import add_mistake_rate, parse_map

DATASET = "dataset: an .h5 file or a directory of episode files"


def _data_inspect(args: argparse.Namespace) -> int:
    from lps_robot.data.reader import DataError, summarize

    try:
        info = summarize(args.path)
    except DataError as e:
        print(f"lps data inspect: {e}", file=sys.stderr)
        return 1
    if args.json:
        print(json.dumps(info))
        return 0
    rate = info["measured_rate_hz"]
    print(f"{info['path']}: {info['episodes']} episodes, {info['steps']} steps")
    if info["success_rate"] is not None:
        print(f"success rate {info['success_rate']:.2f}")
    print(f"measured control rate {rate:.2f} Hz" if rate else "measured control rate n/a")
    for p in info["partial_files"]:
        print(f"unfinished (partial) episode file: {p}")
    print("keys:")
    for k, (shape, dtype) in info["keys"].items():
        print(f"  {k:<28} {dtype:<8} {shape}")
    print("episodes:")
    for e in info["per_episode"]:
        r = e["measured_rate_hz"]
        print(
            f"  {e['episode']}  len={e['length']}  success={e['success']}"
            f"  rate={f'{r:.2f}' if r else 'n/a'} Hz{'  PARTIAL' if e['partial'] else ''}"
        )
    return 0


def _data_validate(args: argparse.Namespace) -> int:
    from lps_robot.data.reader import validate

    problems = validate(args.path, quick=args.quick)
    for p in problems:
        print(f"invalid: {p}", file=sys.stderr)
    if problems:
        print(f"lps data validate: {len(problems)} problem(s) in {args.path}", file=sys.stderr)
        return 1
    print(f"{args.path}: valid")
    return 0


def _data_recover(args: argparse.Namespace) -> int:
    from lps_robot.data.reader import partial_files
    from lps_robot.data.writer import recover_partial

    rc = 0
    for p in partial_files(args.path):
        try:
            print(f"recovered {p} -> {recover_partial(p)}")
        except (OSError, KeyError, ValueError) as e:
            print(f"cannot recover {p}: {e}", file=sys.stderr)
            rc = 1
    return rc


def _data_generate(args: argparse.Namespace) -> int:
    import shutil
    import tempfile
    from pathlib import Path

    from lps_robot.data.robomimic import merge
    from lps_robot.sim.generate import generate

    out = Path(args.output)
    single = out.suffix == ".h5"
    out.parent.mkdir(parents=True, exist_ok=True)
    target = Path(tempfile.mkdtemp(prefix="episodes_", dir=out.parent)) if single else out
    try:
        result = generate(
            target,
            args.sim,
            seed=args.seed,
            noise=args.noise,
            failure_rate=args.failure_rate,
            mistake_rate=args.mistake_rate,
            max_steps=args.max_steps,
            progress=not args.json,
            workers=args.workers,
        )
        if single:
            merge(target, out)
            result["path"] = str(out)
    finally:
        if single:
            shutil.rmtree(target, ignore_errors=True)
    print(json.dumps(result))
    return 0


def _data_merge(args: argparse.Namespace) -> int:
    from lps_robot.data.robomimic import merge

    print(f"merged into {merge(args.path, args.output)}")
    return 0


def _data_import(args: argparse.Namespace) -> int:
    from lps_robot.data.reader import DataError
    from lps_robot.data.robomimic import import_robomimic
    from lps_robot.spec import Spec, SpecError

    try:
        spec = Spec.load(args.spec)
        if args.format == "robomimic":
            files = import_robomimic(
                args.path, spec, args.output, args.filter_key, parse_map(args.map)
            )
        elif args.format == "lerobot":
            from lps_robot.data.lerobot import import_lerobot

            files = import_lerobot(
                args.path,
                spec,
                args.output,
                args.assume_success,
                parse_map(args.map),
                resample=args.resample,
            )
        else:
            from lps_robot.data.rosbag import import_rosbag

            path, skipped = import_rosbag(
                args.path,
                spec,
                args.output,
                joint_topic=args.joint_topic,
                action_topic=args.action_topic,
                success=not args.failure,
            )
            files = [path]
            if skipped:
                print(f"skipped ticks with a stale stream: {skipped}", file=sys.stderr)
    except (DataError, SpecError, OSError, ValueError) as e:
        print(f"lps data import: {e}", file=sys.stderr)
        return 1
    print(f"imported {len(files)} episode(s) into {args.output}")
    return 0


def _data_export(args: argparse.Namespace) -> int:
    from lps_robot.data.lerobot import export_lerobot
    from lps_robot.data.reader import DataError

    try:
        result = export_lerobot(args.path, args.output, task=args.task)
    except (DataError, OSError) as e:
        print(f"lps data export: {e}", file=sys.stderr)
        return 1
    print(f"exported {result['episodes']} episode(s), {result['frames']} frames to {args.output}")
    return 0


def _data_video(args: argparse.Namespace) -> int:
    from lps_robot.data.reader import DataError
    from lps_robot.data.video import episode_video, episode_view

    make = episode_view if args.data_command == "view" else episode_video
    try:
        n = make(args.path, args.episode, args.camera, args.output)
    except DataError as e:
        print(f"lps data video: {e}", file=sys.stderr)
        return 1
    print(f"{args.output}: {n} frames")
    return 0


def add(sub: argparse._SubParsersAction) -> None:
    """The ``data`` command group."""
    data = sub.add_parser("data", help="inspect, validate and repair HDF5 episode datasets")
    dsub = data.add_subparsers(dest="data_command", required=True, metavar="ACTION")
    p = dsub.add_parser("inspect", help="episodes, lengths, keys, success rate, control rate")
    p.add_argument("path", help=DATASET)
    p.add_argument("--json", action="store_true", help="print one JSON object")
    p.set_defaults(func=_data_inspect)
    p = dsub.add_parser(
        "validate",
        help="check a dataset against its schema, reading back every chunk (checksums); "
        "exit 1 if invalid",
    )
    p.add_argument("path", help=DATASET)
    p.add_argument(
        "--quick", action="store_true", help="read only the last frame of each image stream"
    )
    p.set_defaults(func=_data_validate)
    p = dsub.add_parser("recover", help="salvage unfinished (*.partial) episodes of a directory")
    p.add_argument("path", help="dataset directory")
    p.set_defaults(func=_data_recover)
    _add_generate(dsub)
    p = dsub.add_parser("merge", help="merge an episode directory into one .h5 file")
    p.add_argument("path", help="episode directory")
    p.add_argument("-o", "--output", required=True, help="output .h5 file")
    p.set_defaults(func=_data_merge)
    for name, what in (
        ("view", "one episode as an MP4: camera beside a joint plot"),
        ("video", "one recorded episode's camera stream as an MP4"),
    ):
        p = dsub.add_parser(name, help=what)
        p.add_argument("path", help=DATASET)
        p.add_argument("--episode", type=int, default=0, help="episode number (inspect lists)")
        p.add_argument("--camera", default="front", help="camera key")
        p.add_argument("-o", "--output", required=True, help="output .mp4")
        p.set_defaults(func=_data_video)
    _add_import(dsub)
    p = dsub.add_parser("export", help="write lps_robot episodes in a foreign layout")
    p.add_argument("path", help=DATASET)
    p.add_argument("--format", choices=("lerobot",), required=True, help="layout (LeRobot v3)")
    p.add_argument("--task", default="pick the cube and place it on the target", help="task text")
    p.add_argument("-o", "--output", required=True, help="new directory to write")
    p.set_defaults(func=_data_export)


def _add_generate(dsub: argparse._SubParsersAction) -> None:
    p = dsub.add_parser("generate", help="record scripted-teleop sim episodes (no ROS)")
    p.add_argument("--sim", type=int, required=True, metavar="N", help="episodes to record")
    p.add_argument(
        "-o",
        "--output",
        required=True,
        help="FILE.h5 (one robomimic file) or a directory (one file per episode)",
    )
    p.add_argument("--seed", type=int, default=0, help="seed of the scenes and the operator")
    p.add_argument("--noise", type=float, default=0.01, help="teleop noise (m / rad)")
    p.add_argument("--failure-rate", type=float, default=0.0, help="share of injected failures")
    add_mistake_rate(p)
    p.add_argument("--max-steps", type=int, default=200, help="episode timeout in steps")
    p.add_argument(
        "--workers", type=int, default=1, help="processes recording at once (the same data)"
    )
    p.add_argument("--json", action="store_true", help="no progress bar")
    p.set_defaults(func=_data_generate)


def _add_import(dsub: argparse._SubParsersAction) -> None:
    p = dsub.add_parser("import", help="turn a foreign dataset into lps_robot episodes")
    p.add_argument(
        "path",
        help="the foreign dataset (robomimic: one .hdf5 file; rosbag2: a bag directory; "
        "lerobot: a v3 dataset directory)",
    )
    p.add_argument(
        "--format", choices=("robomimic", "rosbag2", "lerobot"), required=True, help="layout"
    )
    p.add_argument(
        "--assume-success",
        action="store_true",
        help="lerobot: episodes without a success label count as successes",
    )
    p.add_argument(
        "--resample",
        action="store_true",
        help="lerobot: a dataset fps other than the spec's rate is resampled (the latest "
        "frame at or before each tick) instead of refused",
    )
    p.add_argument("--joint-topic", default="/joint_states", help="rosbag2: joint states")
    p.add_argument(
        "--action-topic", default="/teleop/joint_command", help="rosbag2: operator command"
    )
    p.add_argument("--failure", action="store_true", help="rosbag2: label the episode failed")
    p.add_argument(
        "--filter-key", default="", help="robomimic: import only the demos mask/<KEY> lists"
    )
    p.add_argument(
        "--map",
        action="append",
        metavar="SRC=DST",
        help="robomimic, lerobot: the dataset's key SRC is the spec's DST (as given to lps spec "
        "init --from-dataset; repeatable)",
    )
    p.add_argument("--spec", required=True, help="robot spec YAML (what the file lacks)")
    p.add_argument("-o", "--output", required=True, help="episode directory to write")
    p.set_defaults(func=_data_import)
