"""`lps bench`: benchmarks; each prints one JSON object last."""

from __future__ import annotations

import argparse
import json

from lps_robot.cli.common import print_table
from lps_robot.runtime.ahead import INFERENCE_MODES

ALWAYS_JSON = "(always JSON; accepted for symmetry)"


def _bench_io(args: argparse.Namespace) -> int:
    from lps_robot.bench.io_bench import run

    result = run(seconds=args.seconds, compression=None if args.compression == "none" else "lzf")
    if not args.json:
        print_table(result)
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

    result = run(
        args.seconds,
        args.rate,
        args.swaps,
        args.gil_switch_ms,
        args.pad_mb,
        args.thread_priority,
        args.preset,
        args.inference,
        args.threads,
        args.warmup_latency_fraction,
    )
    print(json.dumps(result))
    return 0


def _bench_train(args: argparse.Namespace) -> int:
    from lps_robot.bench.train_speed import run

    print(json.dumps(run(args.steps, compiled=not args.no_compile)))
    return 0


def _bench_stream(args: argparse.Namespace) -> int:
    from lps_robot.bench.stream import run

    result = run(
        args.out_dir,
        args.cap_mb,
        args.base_episodes,
        args.copies,
        args.steps,
        args.workers,
        frame_cache=args.frame_cache,
    )
    print(json.dumps(result))
    return 0


def _bench_closed_loop(args: argparse.Namespace) -> int:
    from lps_robot.bench.closed_loop import run

    result = run(
        args.run_dir,
        args.episodes,
        tuple(args.inference),
        args.seed,
        stepped_episodes=args.stepped_episodes,
    )
    print(json.dumps(result))
    return 0


def add(sub: argparse._SubParsersAction) -> None:
    """The ``bench`` command group."""
    bench = sub.add_parser("bench", help="benchmarks; each prints one JSON object last")
    bsub = bench.add_subparsers(dest="bench_command", required=True, metavar="BENCH")
    p = bsub.add_parser("io", help="HDF5 write throughput for a 30 Hz 640x480 + 16-joint stream")
    p.add_argument("--seconds", type=float, default=20.0, help="stream length to write")
    p.add_argument(
        "--compression", choices=("none", "lzf"), default="none", help="image compression"
    )
    p.add_argument("--json", action="store_true", help="print only the JSON line")
    p.set_defaults(func=_bench_io)
    p = bsub.add_parser("toy", help="MeanFlow on 8 Gaussians + multimodal bandit (LPS vs BC)")
    p.add_argument("--mf-steps", type=int, default=3000, help="MeanFlow training steps")
    p.add_argument("--bandit-steps", type=int, default=2000, help="bandit training steps")
    p.add_argument("--seed", type=int, default=0, help="seed of data and training")
    p.add_argument("--json", action="store_true", help=ALWAYS_JSON)
    p.set_defaults(func=_bench_toy)
    _add_ogbench(bsub)
    p = bsub.add_parser("inference", help="single-sample policy latency, ONNX vs torch, 1 thread")
    p.add_argument("--iters", type=int, default=2000, help="timed inferences per preset")
    p.add_argument("--json", action="store_true", help=ALWAYS_JSON)
    p.set_defaults(func=_bench_inference)
    _add_loop(bsub)
    p = bsub.add_parser("train", help="LPS update steps/s at batch 256 (state, image) + memory")
    p.add_argument("--steps", type=int, default=30, help="timed updates per preset")
    p.add_argument("--no-compile", action="store_true", help="skip the compiled rows")
    p.add_argument("--json", action="store_true", help=ALWAYS_JSON)
    p.set_defaults(func=_bench_train)
    _add_stream(bsub)


def _add_stream(bsub: argparse._SubParsersAction) -> None:
    p = bsub.add_parser(
        "stream", help="training on data bigger than a memory cap: in RAM vs streamed"
    )
    p.add_argument("--out_dir", default="runs/bench_stream", help="datasets and runs go here")
    p.add_argument("--cap_mb", type=float, default=1024, help="the big run's data_memory_mb")
    p.add_argument("--base_episodes", type=int, default=590, help="sim episodes recorded")
    p.add_argument(
        "--copies", type=int, default=16, help="shards in the big dataset (the base merged)"
    )
    p.add_argument("--steps", type=int, default=1500, help="training steps per run")
    p.add_argument("--workers", type=int, default=0, help="reader worker processes")
    p.add_argument(
        "--frame_cache", default="", help="the runs' frame_cache ('none': read episode files)"
    )
    p.add_argument("--json", action="store_true", help=ALWAYS_JSON)
    p.set_defaults(func=_bench_stream)
    p = bsub.add_parser(
        "closed-loop", help="the demo's ROS closed loop rerun on its policies per inference mode"
    )
    p.add_argument("--run_dir", default="runs/demo", help="a finished `lps demo` directory")
    p.add_argument("--episodes", type=int, default=40, help="ROS episodes per mode")
    p.add_argument(
        "--inference", nargs="+", choices=INFERENCE_MODES, default=list(INFERENCE_MODES),
        help="the controller's inference modes, run in this order",
    )  # fmt: skip
    p.add_argument("--seed", type=int, default=7, help="the sim's seed (the same starts)")
    p.add_argument(
        "--stepped_episodes", type=int, default=200, help="stepped episodes per policy and mode"
    )
    p.add_argument("--json", action="store_true", help=ALWAYS_JSON)
    p.set_defaults(func=_bench_closed_loop)


def _add_ogbench(bsub: argparse._SubParsersAction) -> None:
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


def _add_loop(bsub: argparse._SubParsersAction) -> None:
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
    p.add_argument(
        "--thread-priority",
        type=int,
        default=0,
        help="the node's thread_priority (SCHED_FIFO of the control thread; 0: normal)",
    )
    p.add_argument(
        "--preset",
        choices=("cpu", "robot"),
        default="cpu",
        help="the policy: cpu (one 64 px camera) or robot (two 224 px cameras)",
    )
    p.add_argument(
        "--inference", choices=INFERENCE_MODES, default="tick", help="the node's inference"
    )
    p.add_argument("--threads", type=int, default=1, help="the node's onnxruntime threads")
    p.add_argument(
        "--warmup-latency-fraction",
        type=float,
        default=0.5,
        help="the node's warmup_latency_fraction (its default: 0.5 of the period; ahead: of "
        "chunk_length - 1 periods)",
    )
    p.add_argument("--json", action="store_true", help=ALWAYS_JSON)
    p.set_defaults(func=_bench_loop)
