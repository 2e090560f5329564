"""The `lps` command: record, data, train, export, eval, node, calibrate, bench, demo.

Each subcommand imports its heavy dependencies lazily, so `lps --help` and the deploy-side
commands never import torch.
"""

from __future__ import annotations

import argparse
import json
import sys
from collections.abc import Callable, Sequence


def _print_table(result: dict) -> None:
    for k, v in result.items():
        print(f"{k:>24}: {v}")


# --- data -------------------------------------------------------------------------------------


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


# --- train ------------------------------------------------------------------------------------


def _add_dataclass_flags(parser: argparse.ArgumentParser, cls: type, prefix: str = "") -> None:
    """One --flag per dataclass field (nested as --agent.lr), help from the field metadata."""
    import dataclasses
    import typing

    hints = typing.get_type_hints(cls)
    for f in dataclasses.fields(cls):
        name, tp = prefix + f.name, hints[f.name]
        if dataclasses.is_dataclass(tp):
            _add_dataclass_flags(parser, tp, f"{name}.")
            continue
        default = f.default if f.default is not dataclasses.MISSING else f.default_factory()
        parser.add_argument(
            f"--{name}",
            dest=name,
            type=_flag_parser(tp),
            default=argparse.SUPPRESS,
            metavar=type(default).__name__.upper(),
            help=f"{f.metadata.get('help', '')} (default: {default})",
        )


def _flag_parser(tp: object) -> Callable[[str], object]:
    import typing

    if typing.get_origin(tp) is tuple:
        (inner, *_) = typing.get_args(tp)
        return lambda s: [inner(x) for x in s.split(",") if x]
    if tp is bool:
        return lambda s: {"true": True, "1": True, "false": False, "0": False}[s.lower()]
    return tp  # type: ignore[return-value]


def _train(args: argparse.Namespace) -> int:
    from lps_robot.configs import make_config
    from lps_robot.dcio import ConfigError
    from lps_robot.train import train_from_dataset

    skip = {"command", "func", "config"}
    overrides = {k: v for k, v in vars(args).items() if k not in skip}
    try:
        cfg = make_config(args.config, overrides)
        _, rows = train_from_dataset(cfg)
    except (ConfigError, ValueError, FileNotFoundError) as e:
        print(f"lps train: {e}", file=sys.stderr)
        return 1
    print(json.dumps({"out_dir": cfg.out_dir, **(rows[-1] if rows else {})}))
    return 0


def _export(args: argparse.Namespace) -> int:
    from lps_robot.checkpoint import load_checkpoint
    from lps_robot.dcio import ConfigError
    from lps_robot.export import ExportError, export

    try:
        agent, ckpt = load_checkpoint(args.checkpoint)
        real = _real_inputs(ckpt, args.real_inputs)
        manifest = export(
            agent,
            args.output,
            algo=ckpt.get("algo", "lps"),
            train_config=ckpt.get("train_config"),
            dataset_fingerprint=ckpt.get("dataset_fingerprint", ""),
            real_inputs=real,
        )
    except (ConfigError, ExportError, OSError) as e:
        print(f"lps export: {e}", file=sys.stderr)
        return 1
    print(
        json.dumps(
            {
                "output": args.output,
                "algo": manifest["algo"],
                "content_hash": manifest["content_hash"],
                "parity_max_abs_diff": manifest["parity_max_abs_diff"],
                "real_inputs": len(real),
            }
        )
    )
    return 0


def _real_inputs(ckpt: dict, n: int) -> list[dict]:
    """A few real observations from the training dataset, when it is still there."""
    from pathlib import Path

    path = (ckpt.get("train_config") or {}).get("dataset", "")
    if n <= 0 or not path or not Path(path).exists():
        return []
    import numpy as np

    from lps_robot.data.dataset import ChunkDataset

    data = ChunkDataset(path)
    rng = np.random.default_rng(0)
    out = []
    for i in rng.choice(len(data.obs[next(iter(data.obs))]), size=n):
        out.append({k: v[i : i + 1] for k, v in data.obs.items()})
    return out


# --- node -------------------------------------------------------------------------------------

NODES = {
    "policy": "lps_robot.ros.controller_node",
    "fake-robot": "lps_robot.ros.fake_robot",
    "sim": "lps_robot.ros.sim_node",
    "camera": "lps_robot.ros.camera_node",
    "recorder": "lps_robot.ros.recorder_node",
}


def _node(args: argparse.Namespace) -> int:
    import importlib

    ros_args = ["--ros-args"]
    if args.params_file:
        ros_args += ["--params-file", args.params_file]
    extra = [a for a in args.ros_args if a != "--ros-args"]
    module = importlib.import_module(NODES[args.node])
    return int(module.main(["lps", *ros_args, *extra]) or 0)


def _data_generate(args: argparse.Namespace) -> int:
    import shutil
    import tempfile
    from pathlib import Path

    from lps_robot.data.writer import merge
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
    from lps_robot.data.writer import merge

    print(f"merged into {merge(args.path, args.output)}")
    return 0


def _data_import(args: argparse.Namespace) -> int:
    from lps_robot.data.reader import DataError
    from lps_robot.data.robomimic import import_robomimic
    from lps_robot.spec import Spec, SpecError

    try:
        spec = Spec.load(args.spec)
        if args.format == "robomimic":
            files = import_robomimic(args.path, spec, args.output)
        elif args.format == "lerobot":
            from lps_robot.data.lerobot import import_lerobot

            files = import_lerobot(args.path, spec, args.output, args.assume_success)
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
    except (DataError, SpecError, OSError) as e:
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


def _completion(args: argparse.Namespace) -> int:
    import shtab

    print(shtab.complete(build_parser(), shell=args.shell))
    return 0


def _record(args: argparse.Namespace) -> int:
    if args.sim:
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
    # a real robot: the recorder node alone; episodes are driven through its services
    args.node = "recorder"
    return _node(args)


def _calibrate_camera(args: argparse.Namespace) -> int:
    from pathlib import Path

    import cv2

    from lps_robot.calib.camera_info import save_camera_info
    from lps_robot.calib.intrinsics import calibrate

    files = sorted(
        p for p in Path(args.images).iterdir() if p.suffix.lower() in (".png", ".jpg", ".jpeg")
    )
    images = [cv2.imread(str(p), cv2.IMREAD_GRAYSCALE) for p in files]
    try:
        cols, rows = (int(x) for x in args.board.lower().split("x"))
        cal, rms, used = calibrate(images, cols, rows, args.square)
    except ValueError as e:
        print(f"lps calibrate camera: {e}", file=sys.stderr)
        return 1
    out = args.output or f"calibration/{args.name}.yaml"
    save_camera_info(out, cal, args.name, rms)
    print(
        json.dumps(
            {
                "output": out,
                "reprojection_error_px": round(rms, 4),
                "images_used": used,
                "images": len(files),
                "camera_matrix": cal.camera_matrix,
                "distortion": cal.distortion,
            }
        )
    )
    return 0


def _eval(args: argparse.Namespace) -> int:
    from lps_robot.runtime.manifest import PolicyRejected
    from lps_robot.sim.evaluate import evaluate_policy

    try:
        result = evaluate_policy(
            args.policy, args.episodes, args.seed, args.max_steps, args.execution, args.video
        )
    except PolicyRejected as e:
        print(f"lps eval: {e}", file=sys.stderr)
        return 1
    print(json.dumps(result))
    return 0


def _demo(args: argparse.Namespace) -> int:
    from lps_robot.dcio import from_plain
    from lps_robot.demo import DemoConfig, run

    skip = {"command", "func"}
    cfg = from_plain(DemoConfig, {k: v for k, v in vars(args).items() if k not in skip})
    print(json.dumps(run(cfg)))
    return 0


# --- bench ------------------------------------------------------------------------------------


def _bench_io(args: argparse.Namespace) -> int:
    from lps_robot.bench.io_bench import run

    result = run(seconds=args.seconds, compression=None if args.compression == "none" else "lzf")
    if not args.json:
        _print_table(result)
    print(json.dumps(result))
    return 0


def _bench_toy(args: argparse.Namespace) -> int:
    from lps_robot.bench.toy import run

    print(json.dumps(run(args.mf_steps, args.bandit_steps, args.seed)))
    return 0


def _bench_ogbench(args: argparse.Namespace) -> int:
    from lps_robot.bench.ogbench_run import run

    overrides = {"threads": args.threads} if args.threads else {}
    if args.preset:
        overrides["preset"] = args.preset
    result = run(
        args.env,
        args.steps,
        seeds=tuple(args.seeds),
        dataset=args.dataset,
        data_episodes=args.data_episodes,
        data_seed=args.data_seed,
        eval_episodes=args.eval_episodes,
        eval_every=args.eval_every,
        out_dir=args.out_dir,
        overrides=overrides,
        progress=not args.json,
        normalize_obs=not args.raw_obs,
        parallel=args.parallel,
    )
    print(json.dumps(result))
    return 0


def _bench_inference(args: argparse.Namespace) -> int:
    from lps_robot.bench.inference import run

    print(json.dumps(run(args.iters)))
    return 0


def _bench_loop(args: argparse.Namespace) -> int:
    from lps_robot.bench.loop import run

    print(json.dumps(run(args.seconds, args.rate, args.swaps, args.gil_switch_ms, args.pad_mb)))
    return 0


def _bench_train(args: argparse.Namespace) -> int:
    from lps_robot.bench.train_speed import run

    print(json.dumps(run(args.steps)))
    return 0


# --- parser -----------------------------------------------------------------------------------


def build_parser() -> argparse.ArgumentParser:
    from lps_robot import __version__

    parser = argparse.ArgumentParser(prog="lps", description=__doc__.splitlines()[0])
    parser.add_argument("--version", action="version", version=f"lps_robot {__version__}")
    sub = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")

    data = sub.add_parser("data", help="inspect, validate and repair HDF5 episode datasets")
    dsub = data.add_subparsers(dest="data_command", required=True, metavar="ACTION")
    p = dsub.add_parser("inspect", help="episodes, lengths, keys, success rate, control rate")
    p.add_argument("path", help="dataset: an .h5 file or a directory of episode files")
    p.add_argument("--json", action="store_true", help="print one JSON object")
    p.set_defaults(func=_data_inspect)
    p = dsub.add_parser(
        "validate",
        help="check a dataset against its schema, reading back every chunk (checksums); "
        "exit 1 if invalid",
    )
    p.add_argument("path", help="dataset: an .h5 file or a directory of episode files")
    p.add_argument(
        "--quick", action="store_true", help="read only the last frame of each image stream"
    )
    p.set_defaults(func=_data_validate)
    p = dsub.add_parser("recover", help="salvage unfinished (*.partial) episodes of a directory")
    p.add_argument("path", help="dataset directory")
    p.set_defaults(func=_data_recover)

    p = dsub.add_parser("generate", help="record scripted-teleop sim episodes (no ROS)")
    p.add_argument("--sim", type=int, required=True, metavar="N", help="episodes to record")
    p.add_argument(
        "-o",
        "--output",
        required=True,
        help="FILE.h5 (one robomimic file) or a directory (one file per episode)",
    )
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--noise", type=float, default=0.01, help="teleop noise (m / rad)")
    p.add_argument("--failure-rate", type=float, default=0.0, help="share of injected failures")
    p.add_argument(
        "--mistake-rate",
        type=float,
        default=0.35,
        help="chance of a hasty grasp or release at each decision point",
    )
    p.add_argument("--max-steps", type=int, default=200, help="episode timeout in steps")
    p.add_argument("--json", action="store_true", help="no progress bar")
    p.set_defaults(func=_data_generate)
    p = dsub.add_parser("merge", help="merge an episode directory into one .h5 file")
    p.add_argument("path", help="episode directory")
    p.add_argument("-o", "--output", required=True, help="output .h5 file")
    p.set_defaults(func=_data_merge)
    for name, what in (
        ("view", "one episode as an MP4: camera beside a joint plot"),
        ("video", "one recorded episode's camera stream as an MP4"),
    ):
        p = dsub.add_parser(name, help=what)
        p.add_argument("path", help="dataset: an .h5 file or a directory of episode files")
        p.add_argument("--episode", type=int, default=0, help="episode number (inspect lists)")
        p.add_argument("--camera", default="front", help="camera key")
        p.add_argument("-o", "--output", required=True, help="output .mp4")
        p.set_defaults(func=_data_video)
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
    p.add_argument("--joint-topic", default="/joint_states", help="rosbag2: joint states")
    p.add_argument(
        "--action-topic", default="/teleop/joint_command", help="rosbag2: operator command"
    )
    p.add_argument("--failure", action="store_true", help="rosbag2: label the episode failed")
    p.add_argument("--spec", required=True, help="robot spec YAML (what the file lacks)")
    p.add_argument("-o", "--output", required=True, help="episode directory to write")
    p.set_defaults(func=_data_import)
    p = dsub.add_parser("export", help="write lps_robot episodes in a foreign layout")
    p.add_argument("path", help="dataset: an .h5 file or a directory of episode files")
    p.add_argument("--format", choices=("lerobot",), required=True, help="layout (LeRobot v3)")
    p.add_argument("--task", default="pick the cube and place it on the target", help="task text")
    p.add_argument("-o", "--output", required=True, help="new directory to write")
    p.set_defaults(func=_data_export)

    bench = sub.add_parser("bench", help="benchmarks; each prints one JSON object last")
    bsub = bench.add_subparsers(dest="bench_command", required=True, metavar="BENCH")
    p = bsub.add_parser("io", help="HDF5 write throughput for a 30 Hz 640x480 + 16-joint stream")
    p.add_argument("--seconds", type=float, default=20.0, help="stream length to write")
    p.add_argument("--compression", choices=("none", "lzf"), default="none")
    p.add_argument("--json", action="store_true", help="print only the JSON line")
    p.set_defaults(func=_bench_io)

    p = bsub.add_parser("toy", help="MeanFlow on 8 Gaussians + multimodal bandit (LPS vs BC)")
    p.add_argument("--mf-steps", type=int, default=3000, help="MeanFlow training steps")
    p.add_argument("--bandit-steps", type=int, default=2000, help="bandit training steps")
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--json", action="store_true", help="(always JSON; accepted for symmetry)")
    p.set_defaults(func=_bench_toy)
    p = bsub.add_parser("ogbench", help="LPS vs MF-BC on an OGBench state single task")
    p.add_argument("--env", default="cube-single-play-singletask-task1-v0", help="task name")
    p.add_argument("--steps", type=int, default=5000, help="training steps per algorithm")
    p.add_argument("--dataset", default=None, help="official-layout npz; generated if omitted")
    p.add_argument("--data-episodes", type=int, default=100, help="episodes to generate")
    p.add_argument("--eval-episodes", type=int, default=50, help="episodes per evaluation")
    p.add_argument(
        "--eval-every", type=int, default=0, help="steps between evaluations (0: end only)"
    )
    p.add_argument("--seeds", type=int, nargs="+", default=[0], help="training seeds")
    p.add_argument("--data-seed", type=int, default=0, help="seed of the generated dataset")
    p.add_argument("--preset", default="", help="network sizes (default: the reference's)")
    p.add_argument(
        "--raw-obs",
        action="store_true",
        help="feed observations raw, as the reference does (default: mean/std-normalised)",
    )
    p.add_argument("--parallel", action="store_true", help="seeds side by side, one thread each")
    p.add_argument("--out-dir", default="runs/ogbench", help="data, checkpoints, logs")
    p.add_argument("--threads", type=int, default=0, help="torch CPU threads; 0: default")
    p.add_argument("--json", action="store_true", help="no progress bars; JSON line only")
    p.set_defaults(func=_bench_ogbench)
    p = bsub.add_parser("inference", help="single-sample policy latency, ONNX vs torch, 1 thread")
    p.add_argument("--iters", type=int, default=2000, help="timed inferences per preset")
    p.add_argument("--json", action="store_true", help="(always JSON; accepted for symmetry)")
    p.set_defaults(func=_bench_inference)
    p = bsub.add_parser("loop", help="controller over DDS with hot-swaps: rate, jitter, latency")
    p.add_argument("--seconds", type=float, default=60.0, help="measured run length")
    p.add_argument("--rate", type=float, default=50.0, help="control rate (Hz)")
    p.add_argument("--swaps", type=int, default=10, help="hot-swaps during the run")
    p.add_argument(
        "--gil-switch-ms",
        type=float,
        default=0.5,
        help="the node's gil_switch_interval_ms (0: Python's 5 ms default)",
    )
    p.add_argument(
        "--pad-mb",
        type=float,
        default=0.0,
        help="grow both policies by this many MB (216: the robot preset's size) to measure "
        "what swapping a large model costs the loop",
    )
    p.add_argument("--json", action="store_true", help="(always JSON; accepted for symmetry)")
    p.set_defaults(func=_bench_loop)
    p = bsub.add_parser("train", help="LPS update steps/s at batch 256 (state, image) + memory")
    p.add_argument("--steps", type=int, default=30, help="timed updates per preset")
    p.add_argument("--json", action="store_true", help="(always JSON; accepted for symmetry)")
    p.set_defaults(func=_bench_train)

    p = sub.add_parser("export", help="export a checkpoint to ONNX with its manifest + parity")
    p.add_argument("checkpoint", help="checkpoint (.safetensors) written by lps train")
    p.add_argument("-o", "--output", required=True, help="e.g. policies/NAME.onnx")
    p.add_argument(
        "--real-inputs",
        type=int,
        default=8,
        help="real observations from the training dataset for the parity check",
    )
    p.set_defaults(func=_export)

    p = sub.add_parser(
        "record",
        help="record teleop demonstrations over ROS 2 (recorder node, or --sim N end to end)",
    )
    p.add_argument(
        "--sim",
        type=int,
        default=0,
        metavar="N",
        help="record N scripted-teleop episodes from the sim robot node",
    )
    p.add_argument("-o", "--output", default="runs/recordings", help="episode directory (--sim)")
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--failure-rate", type=float, default=0.0, help="scripted failures (--sim)")
    p.add_argument(
        "--mistake-rate",
        type=float,
        default=0.35,
        help="chance of a hasty grasp or release at each decision point (--sim)",
    )
    p.add_argument("--params-file", default=None, help="recorder node parameters (robot)")
    p.add_argument("--json", action="store_true", help="no progress bar")
    p.set_defaults(func=_record, ros_args=[])
    cal = sub.add_parser("calibrate", help="camera calibration with OpenCV -> calibration/*.yaml")
    csub = cal.add_subparsers(dest="calibrate_command", required=True, metavar="WHAT")
    p = csub.add_parser("camera", help="intrinsics from checkerboard images")
    p.add_argument("--images", required=True, help="directory of .png/.jpg checkerboard views")
    p.add_argument("--board", default="9x6", help="inner corners, COLSxROWS")
    p.add_argument("--square", type=float, default=0.025, help="square size in metres")
    p.add_argument("--name", default="front", help="camera name (and calibration id)")
    p.add_argument("-o", "--output", default=None, help="default calibration/<name>.yaml")
    p.set_defaults(func=_calibrate_camera)
    p = sub.add_parser(
        "completion",
        help='print a shell completion script: eval "$(lps completion bash)" in ~/.bashrc',
    )
    p.add_argument("shell", choices=("bash", "zsh", "tcsh"))
    p.set_defaults(func=_completion)
    p = sub.add_parser("eval", help="closed-loop success rate of an ONNX policy on the sim task")
    p.add_argument("policy", help="exported .onnx policy")
    p.add_argument("--episodes", type=int, default=50)
    p.add_argument("--seed", type=int, default=10_000, help="first episode seed")
    p.add_argument("--max-steps", type=int, default=200, help="episode timeout in steps")
    p.add_argument("--execution", default="open_loop", choices=("open_loop", "temporal_ensemble"))
    p.add_argument("--video", default=None, help="write the first episode's camera as MP4")
    p.add_argument("--json", action="store_true", help="(always JSON; accepted for symmetry)")
    p.set_defaults(func=_eval)
    from lps_robot.demo import DemoConfig

    p = sub.add_parser("demo", help="the main job end to end on the simulated arm")
    _add_dataclass_flags(p, DemoConfig)
    p.set_defaults(func=_demo)
    p = sub.add_parser("node", help="start a ROS 2 node as a plain Python process")
    p.add_argument("node", choices=sorted(NODES), help="which node")
    p.add_argument("--params-file", default=None, help="ROS parameters YAML (config/*.yaml)")
    p.set_defaults(func=_node, ros_args=[])

    from lps_robot.configs import TrainConfig

    p = sub.add_parser(
        "train",
        help="train LPS (or the MF-BC baseline) offline from HDF5 episodes",
        description="Offline training. Precedence: defaults < --preset < --config YAML < flags.",
    )
    p.add_argument("--config", default=None, help="YAML file with TrainConfig fields")
    _add_dataclass_flags(p, TrainConfig)
    p.set_defaults(func=_train)

    return parser


def main(argv: Sequence[str] | None = None) -> int:
    args, extra = build_parser().parse_known_args(argv)
    if args.command in ("node", "record"):
        args.ros_args = extra  # e.g. --ros-args -p policy_path:=x.onnx
    elif extra:
        build_parser().parse_args(argv)  # let argparse report the unknown arguments
    return int(args.func(args) or 0)


if __name__ == "__main__":
    sys.exit(main())
