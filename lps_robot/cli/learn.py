"""`lps train`, `lps export`, `lps eval`: from episodes to a checked ONNX policy."""

from __future__ import annotations

import argparse
import json
import sys

from lps_robot.cli.common import add_dataclass_flags, options
from lps_robot.runtime.ahead import INFERENCE_MODES


def _train(args: argparse.Namespace) -> int:
    from lps_robot.configs import make_config
    from lps_robot.dcio import ConfigError
    from lps_robot.train import train_from_dataset

    overrides = options(args, {"command", "func", "config"})
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


def _eval(args: argparse.Namespace) -> int:
    from lps_robot.runtime.manifest import PolicyRejected
    from lps_robot.sim.evaluate import evaluate_policy

    try:
        result = evaluate_policy(
            args.policy,
            args.episodes,
            args.seed,
            args.max_steps,
            args.execution,
            args.video,
            args.inference,
        )
    except PolicyRejected as e:
        print(f"lps eval: {e}", file=sys.stderr)
        return 1
    print(json.dumps(result))
    return 0


def add_train(sub: argparse._SubParsersAction) -> None:
    """``train``: its flags are generated from TrainConfig."""
    from lps_robot.configs import TrainConfig

    p = sub.add_parser(
        "train",
        help="train LPS (or the MF-BC baseline) offline from HDF5 episodes",
        description="Offline training. Precedence: defaults < --preset < --config YAML < flags.",
    )
    p.add_argument("--config", default=None, help="YAML file with TrainConfig fields")
    add_dataclass_flags(p, TrainConfig)
    p.set_defaults(func=_train)


def add_export(sub: argparse._SubParsersAction) -> None:
    """``export``: checkpoint to ONNX with its manifest and parity check."""
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


def add_eval(sub: argparse._SubParsersAction) -> None:
    """``eval``: closed-loop success rate on the sim task."""
    p = sub.add_parser("eval", help="closed-loop success rate of an ONNX policy on the sim task")
    p.add_argument("policy", help="exported .onnx policy")
    p.add_argument("--episodes", type=int, default=50, help="closed-loop episodes to run")
    p.add_argument("--seed", type=int, default=10_000, help="first episode seed")
    p.add_argument("--max-steps", type=int, default=200, help="episode timeout in steps")
    p.add_argument(
        "--execution",
        default="open_loop",
        choices=("open_loop", "temporal_ensemble"),
        help="how chunks are executed: each chunk's steps in turn, or every step averaged over "
        "the chunks that cover it",
    )
    p.add_argument("--video", default=None, help="write the first episode's camera as MP4")
    p.add_argument(
        "--inference",
        default="tick",
        choices=INFERENCE_MODES,
        help="chunks computed on the tick that needs them, or ahead on a worker thread (the "
        "controller's inference parameter)",
    )
    p.add_argument("--json", action="store_true", help="(always JSON; accepted for symmetry)")
    p.set_defaults(func=_eval)
