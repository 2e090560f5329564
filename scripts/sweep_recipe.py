"""Recipe sweep for the demo (issue #13): variants of `DEMO_TRAINING` over data seeds, in parallel.

Each data seed gets the demo's data without ROS (600 scripted-teleop episodes with mistakes);
each (variant, seed) job trains one LPS run on it (its prior is the MF-BC baseline, as in the
demo) and rolls both out through the deploy path's control loop and safety filter
(`sim.evaluate.evaluate_policy` with the torch modes of `lps_robot.diagnostics`). One JSON line
per job goes to ``OUT/results.jsonl``. Jobs run side by side on a many-core machine
(``--gpu-jobs`` trains some on a GPU; at the demo's batch of 64, three jobs sharing an H200
trained slower than one job on 2 CPU cores here); on this 2-core CPU run one at a time, e.g.:

    .venv/bin/python scripts/sweep_recipe.py --out runs/sweep --seeds 0 --variants base \
        --jobs 1 --threads 2

Session 6's Q-off ablation on a finished demo's data (docs/benchmarks.md):

    mkdir -p runs/abl && ln -s "$PWD/runs/demo/data" runs/abl/data_s0
    .venv/bin/python scripts/sweep_recipe.py --out runs/abl --job --variant alpha0 --seed 0 \
        --episodes 200 --threads 2
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import threading
import time
from concurrent.futures import ProcessPoolExecutor, ThreadPoolExecutor
from multiprocessing import get_context
from pathlib import Path

# name -> (overrides on top of DEMO_TRAINING, steps, prior warm-up steps)
VARIANTS: dict[str, tuple[dict, int, int]] = {
    "base": ({}, 32000, 16000),  # the demo's recipe
    "prior_alone": ({"warmup_trains_critic": False}, 32000, 16000),  # session 5's recipe
    "alpha0": ({"agent.alpha": 0.0}, 32000, 16000),  # the actor's data term alone, no Q
    "pernet": ({"agent.encoder_per_network": True}, 32000, 16000),
    "critenc": ({"agent.critic_trains_encoder": True}, 32000, 16000),
    "bc10": ({"agent.actor_bc_weight": 10.0}, 32000, 16000),
    "long": ({}, 48000, 16000),
}


def make_data(out: Path, seed: int, episodes: int) -> Path:
    from lps_robot.sim.generate import generate

    data = out / f"data_s{seed}"
    if not (data / "DONE").exists():
        generate(data, episodes, seed=seed + 1, mistake_rate=0.5, progress=False)
        (data / "DONE").write_text("ok\n")
    return data


def job(args: argparse.Namespace) -> dict:
    import torch

    from lps_robot.demo import demo_train_config
    from lps_robot.diagnostics import TorchPolicy, distance_to_data
    from lps_robot.sim.evaluate import evaluate_policy
    from lps_robot.train import load_chunks, train_from_dataset

    torch.set_num_threads(args.threads)
    overrides, steps, warmup = VARIANTS[args.variant]
    steps = args.steps or steps
    warmup = warmup * steps // VARIANTS[args.variant][1]
    cfg = demo_train_config(
        Path(args.out) / f"data_s{args.seed}",
        Path(args.out) / f"{args.variant}_s{args.seed}",
        "lps",
        steps,
        **overrides,
        prior_warmup_steps=warmup,
        batch_size=64,
        seed=args.seed,
        progress=False,
        tensorboard=False,
        device=args.device,
        log_every=500,
    )
    data = load_chunks(cfg)
    t0 = time.perf_counter()
    agent, _ = train_from_dataset(cfg, data=data)
    train_s = time.perf_counter() - t0
    agent = agent.cpu().eval()
    mse = distance_to_data(agent, data.sample, seed=args.seed)
    result = {"variant": args.variant, "seed": args.seed, "steps": steps, "warmup": warmup}
    result["device"] = args.device
    for name, mode in (("lps", "actor"), ("bc", "prior")):
        ev = evaluate_policy(
            TorchPolicy(agent, mode, seed=args.seed), args.episodes, seed=20_000 + args.seed
        )
        result[name] = ev["success"]
        result[f"{name}_outcomes"] = ev["outcomes"]
    result["lead"] = round(result["lps"] - result["bc"], 3)
    result |= {k: round(float(v), 5) for k, v in mse.items()}
    result |= {"train_s": round(train_s, 1), "wall_s": round(time.perf_counter() - t0, 1)}
    return result


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--out", required=True)
    ap.add_argument("--variants", nargs="+", default=list(VARIANTS), choices=list(VARIANTS))
    ap.add_argument("--seeds", nargs="+", type=int, default=[0, 1])
    ap.add_argument("--data-episodes", type=int, default=600, help="episodes per data seed")
    ap.add_argument("--episodes", type=int, default=100, help="evaluation episodes per policy")
    ap.add_argument("--steps", type=int, default=0, help="override every variant's steps")
    ap.add_argument("--jobs", type=int, default=1, help="jobs at a time")
    ap.add_argument("--threads", type=int, default=1, help="torch threads per CPU job")
    ap.add_argument("--gpu-jobs", type=int, default=0, help="jobs at a time on the GPU")
    ap.add_argument("--device", default="cpu", help=argparse.SUPPRESS)
    ap.add_argument("--deadline-s", type=float, default=0, help="stop jobs after this (0: none)")
    ap.add_argument(
        "--job",
        action="store_true",
        help="run one (--variant, --seed) job on OUT/data_sSEED (e.g. a link to a demo's data)",
    )
    ap.add_argument("--variant", choices=list(VARIANTS), help="--job: the variant")
    ap.add_argument("--seed", type=int, help="--job: the data and training seed")
    args = ap.parse_args()
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    if args.job:
        print(json.dumps(job(args)), flush=True)
        return
    with ProcessPoolExecutor(len(args.seeds), mp_context=get_context("spawn")) as pool:
        futures = [pool.submit(make_data, out, s, args.data_episodes) for s in args.seeds]
        for f in futures:  # one process per seed; raises a generation error here
            f.result()
    print(f"data ready {time.strftime('%H:%M:%S')}", flush=True)

    deadline = time.monotonic() + args.deadline_s if args.deadline_s else None

    todo = [(v, s) for v in args.variants for s in args.seeds]  # in order of priority
    lock = threading.Lock()

    def one(device: str) -> None:
        while True:
            with lock:
                if not todo:
                    return
                v, s = todo.pop(0)
            if deadline is not None and time.monotonic() > deadline - 120:
                print(f"{v} seed {s}: not started (deadline)", flush=True)
                continue
            threads = 1 if device == "cuda" else args.threads
            cmd = [sys.executable, __file__, "--job", "--out", str(out), "--variant", v]
            cmd += ["--seed", str(s), "--episodes", str(args.episodes)]
            cmd += ["--steps", str(args.steps), "--threads", str(threads), "--device", device]
            env = {**os.environ, "OMP_NUM_THREADS": str(threads)}
            with (out / f"{v}_s{s}.log").open("w") as log:
                p = subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=log, text=True, env=env)
                try:
                    left = None if deadline is None else max(1.0, deadline - time.monotonic())
                    stdout, _ = p.communicate(timeout=left)
                except subprocess.TimeoutExpired:
                    p.kill()
                    p.communicate()
                    metrics = out / f"{v}_s{s}" / "metrics.csv"
                    last = metrics.read_text().splitlines()[-1] if metrics.exists() else ""
                    print(f"{v} seed {s} ({device}): stopped at the deadline; {last[:120]}")
                    continue
            line = stdout.strip().splitlines()[-1] if stdout.strip() else ""
            if p.returncode == 0 and line:
                with lock, (out / "results.jsonl").open("a") as f:
                    f.write(line + "\n")
                print(line, flush=True)
            else:
                print(f"{v} seed {s}: failed ({p.returncode}), see {v}_s{s}.log", flush=True)

    slots = ["cuda"] * args.gpu_jobs + ["cpu"] * args.jobs
    with ThreadPoolExecutor(len(slots)) as pool:
        list(pool.map(one, slots))


if __name__ == "__main__":
    main()
