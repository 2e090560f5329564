"""The `lps` command: record, data, train, export, eval, node, calibrate, bench, demo.

Each subcommand imports its heavy dependencies lazily, so `lps --help` and the deploy-side
commands never import torch.
"""

from __future__ import annotations

import argparse
import json
import sys
from collections.abc import Callable, Sequence

# Subcommands a later issue fills in; they say so and exit non-zero.
PENDING = {
    "record": "record teleop demonstrations over ROS 2 (issue: sim arm + recording)",
    "train": "train LPS offline from HDF5 episodes (issue: LPS in PyTorch)",
    "export": "export a checkpoint to ONNX with its manifest (issue: ONNX export + node)",
    "eval": "evaluate a policy on the simulated arm (issue: sim arm)",
    "node": "start a ROS 2 node as a plain Python process (issue: ONNX export + node)",
    "calibrate": "camera intrinsics from checkerboard images (issue: calibration)",
    "demo": "the main job end to end on the simulated robot (issue: make demo)",
}


def _not_implemented(name: str) -> Callable[[argparse.Namespace], int]:
    def run(args: argparse.Namespace) -> int:
        print(f"lps {name}: not implemented yet ({PENDING[name]})", file=sys.stderr)
        return 2

    return run


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

    problems = validate(args.path)
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


# --- bench ------------------------------------------------------------------------------------


def _bench_io(args: argparse.Namespace) -> int:
    from lps_robot.bench.io_bench import run

    result = run(seconds=args.seconds, compression=None if args.compression == "none" else "lzf")
    if not args.json:
        _print_table(result)
    print(json.dumps(result))
    return 0


# --- parser -----------------------------------------------------------------------------------


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="lps", description=__doc__.splitlines()[0])
    sub = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")

    data = sub.add_parser("data", help="inspect, validate and repair HDF5 episode datasets")
    dsub = data.add_subparsers(dest="data_command", required=True, metavar="ACTION")
    p = dsub.add_parser("inspect", help="episodes, lengths, keys, success rate, control rate")
    p.add_argument("path", help="dataset: an .h5 file or a directory of episode files")
    p.add_argument("--json", action="store_true", help="print one JSON object")
    p.set_defaults(func=_data_inspect)
    p = dsub.add_parser("validate", help="check a dataset against its schema; exit 1 if invalid")
    p.add_argument("path", help="dataset: an .h5 file or a directory of episode files")
    p.set_defaults(func=_data_validate)
    p = dsub.add_parser("recover", help="salvage unfinished (*.partial) episodes of a directory")
    p.add_argument("path", help="dataset directory")
    p.set_defaults(func=_data_recover)

    bench = sub.add_parser("bench", help="benchmarks; each prints one JSON object last")
    bsub = bench.add_subparsers(dest="bench_command", required=True, metavar="BENCH")
    p = bsub.add_parser("io", help="HDF5 write throughput for a 30 Hz 640x480 + 16-joint stream")
    p.add_argument("--seconds", type=float, default=20.0, help="stream length to write")
    p.add_argument("--compression", choices=("none", "lzf"), default="none")
    p.add_argument("--json", action="store_true", help="print only the JSON line")
    p.set_defaults(func=_bench_io)

    for name, text in PENDING.items():
        p = sub.add_parser(name, help=f"{text} [not implemented yet]")
        p.set_defaults(func=_not_implemented(name))
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    args, extra = build_parser().parse_known_args(argv)
    if extra and args.command not in PENDING:
        build_parser().parse_args(argv)  # let argparse report the unknown arguments
    return int(args.func(args) or 0)


if __name__ == "__main__":
    sys.exit(main())
