"""Offline training loop: config, seeding, progress, CSV logs, checkpoints, resume, eval hook.

The loop owns I/O and time; the algorithm lives in `lps_robot.agent`. A checkpoint carries
its spec (with the dataset's normalisation), agent config and training config, so
`load_checkpoint` rebuilds the agent alone.
"""

from __future__ import annotations

import dataclasses
import json
import math
import os
import random
import shutil
import sysconfig
import time
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Any

import numpy as np
import torch
import yaml

from lps_robot import parallel
from lps_robot.agent import LPSAgent, precision_context, to_torch
from lps_robot.checkpoint import SUFFIX, load_checkpoint, save_checkpoint
from lps_robot.configs import COMPILE_MIN_STEPS, TrainConfig
from lps_robot.dcio import ConfigError, to_plain
from lps_robot.logs import TrainLog
from lps_robot.spec import Spec


def seed_everything(seed: int) -> None:
    random.seed(seed)
    torch.manual_seed(seed)


# --- the loop ---------------------------------------------------------------------------------

Sampler = Callable[[int, np.random.Generator], Mapping[str, Any]]
EvalHook = Callable[[LPSAgent, int], Mapping[str, float]]


def lr_factor(cfg: TrainConfig) -> Callable[[int], float]:
    """warmup_cosine: linear warmup to lr over warmup_frac of the steps (the reference: 1%),
    then cosine to lr_final_frac."""
    a = cfg.agent
    warmup = max(1, min(round(a.warmup_frac * cfg.steps), cfg.steps - 1))

    def factor(step: int) -> float:
        if step < warmup:
            return (step + 1) / warmup
        progress = min(1.0, (step - warmup) / max(1, cfg.steps - warmup))
        return a.lr_final_frac + (1 - a.lr_final_frac) * 0.5 * (1 + math.cos(math.pi * progress))

    return factor


def transform_rewards(batch: dict[str, Any], how: str) -> dict[str, Any]:
    """TrainConfig.reward_transform on a sampled batch: "sparse" maps r -> -1 if r != 0 else 0."""
    if how == "sparse":
        nonzero = batch["rewards"] != 0
        batch["rewards"] = -(
            nonzero.float() if torch.is_tensor(nonzero) else nonzero.astype(np.float32)
        )
    return batch


def train(
    cfg: TrainConfig,
    spec: Spec,
    sample: Sampler,
    evaluate: EvalHook | None = None,
    dataset_fingerprint: str = "",
) -> tuple[LPSAgent, list[dict[str, float]]]:
    """Run ``cfg.steps`` updates from ``sample``; returns the agent and the logged rows.

    On ``cfg.device``; data parallel across ranks when launched by torchrun (rank 0 logs,
    evaluates and writes checkpoints; every rank returns its identical agent)."""
    world, device = parallel.init_world(cfg.device)
    out = Path(cfg.out_dir)
    out.mkdir(parents=True, exist_ok=True)
    if cfg.threads:
        torch.set_num_threads(cfg.threads)
    seed_everything(cfg.seed)  # identical initial weights on every rank
    start = 0
    last = out / f"last{SUFFIX}"
    if cfg.resume and last.exists():
        agent, ckpt = load_checkpoint(last, device)
        start = int(ckpt["step"])
        torch.set_rng_state(ckpt["rng"]["torch"])
    else:
        agent = LPSAgent(spec, cfg.agent).to(device)
    agent.encoder_autocast = cfg.precision == "bf16_encoders"
    parallel.broadcast_state(agent, world)
    params = [p for p in agent.parameters() if p.requires_grad]
    if world.size > 1:
        agent.grad_hook = lambda: parallel.average_gradients(params, world)
    # per-rank streams of batches and noise, continuing after a resume
    rank_seed = [cfg.seed, start, world.rank]
    noise_seed = int(np.random.SeedSequence(rank_seed).generate_state(1)[0])
    gen = torch.Generator(device=device).manual_seed(noise_seed)
    rng = np.random.default_rng(rank_seed)
    if world.main:
        (out / "config.yaml").write_text(yaml.safe_dump(to_plain(cfg), sort_keys=False))
    rows: list[dict[str, float]] = []
    log = TrainLog(out, resume=bool(start), tensorboard=cfg.tensorboard) if world.main else None
    rl_keys = ["critic_loss", "q_mean", "target_mean", "actor_loss", "actor_q"]
    rl_keys += ["actor_bc"] if cfg.agent.actor_bc_weight > 0 else []

    def step_fn(batch, gen, step: int) -> dict:
        with precision_context(cfg.precision, device):
            return _step(batch, gen, step)

    update, update_bc = agent.update, agent.update_bc
    if compiles(cfg, spec):  # compiled lazily, on the first call of each
        update, update_bc = torch.compile(update), torch.compile(update_bc)

    def _step(batch, gen, step: int) -> dict:
        if cfg.algo == "lps" and step >= cfg.prior_warmup_steps:
            return update(batch, gen)
        if cfg.algo == "lps" and cfg.warmup_trains_critic:
            info = update(batch, gen, train_actor=False)
        else:
            info = update_bc(batch, gen)
        if cfg.algo == "lps":  # the prior's warm-up: the same log columns, not yet measured
            info = {k: info.get(k, float("nan")) for k in rl_keys} | info
        return info

    schedules = []
    if cfg.agent.lr_schedule != "constant":
        for opt in (agent.opt_model, agent.opt_actor):
            for group in opt.param_groups:
                group.setdefault("initial_lr", cfg.agent.lr)
            schedules.append(
                torch.optim.lr_scheduler.LambdaLR(opt, lr_factor(cfg), last_epoch=start - 1)
            )
    extra = {"dataset_fingerprint": dataset_fingerprint}

    from tqdm import tqdm

    bar = tqdm(
        range(start, cfg.steps),
        initial=start,
        total=cfg.steps,
        disable=not (cfg.progress and world.main),
        desc=f"train {cfg.algo}",
        dynamic_ncols=True,
    )
    t0 = time.perf_counter()
    window_t, window_n = t0, 0
    try:
        for step in bar:
            batch = to_torch(
                transform_rewards(dict(sample(cfg.batch_size, rng)), cfg.reward_transform),
                device,
            )
            info = step_fn(batch, gen, step)
            for schedule in schedules:
                schedule.step()
            window_n += 1
            done = step + 1
            is_eval = (
                world.main
                and evaluate is not None
                and (done == cfg.steps or (cfg.eval_every and done % cfg.eval_every == 0))
            )
            if not world.main:
                continue
            if done % cfg.log_every == 0 or done == cfg.steps or is_eval:
                now = time.perf_counter()
                info = {k: float(v) for k, v in info.items()}  # the one host sync per row
                row = {
                    "step": done,
                    "wall_s": round(now - t0, 2),
                    "steps_per_s": round(window_n / max(now - window_t, 1e-9), 2),
                    **info,
                }
                window_t, window_n = now, 0
                if is_eval:
                    row.update({f"eval/{k}": v for k, v in evaluate(agent, done).items()})
                log.write(row)
                rows.append(row)
                # a loss not measured yet (the actor waiting for the prior) is left out
                losses = {
                    k: v for k, v in info.items() if k.endswith("loss") and not math.isnan(v)
                }
                bar.set_postfix(
                    {k: f"{v:.3g}" for k, v in losses.items()} | {"it/s": row["steps_per_s"]}
                )
            if done % cfg.ckpt_every == 0 or done == cfg.steps:
                save_checkpoint(last, agent, cfg, done, extra)
    finally:
        if log is not None:
            log.close()
        close = getattr(sample, "close", None)
        if close is not None:  # a streaming sampler's worker processes
            close()
    if world.size > 1:  # every replica's weights, for anyone to compare
        digest = parallel.weights_digest(agent)
        (out / f"rank{world.rank}.weights.sha256").write_text(digest + "\n")
    if world.main:
        save_checkpoint(out / f"final{SUFFIX}", agent, cfg, cfg.steps, extra)
        (out / "summary.json").write_text(json.dumps(rows[-1] if rows else {}, indent=1))
    parallel.finish_world(world)
    return agent, rows


def compiles(cfg: TrainConfig, spec: Spec) -> bool:
    """Whether the update is compiled: ``cfg.compile``, or where it pays when None (auto):
    a policy with cameras trained at least `COMPILE_MIN_STEPS` steps, with a C++ compiler and
    the Python headers for torch's CPU code generator."""
    if cfg.compile is not None:
        return cfg.compile
    compiler = shutil.which(os.environ.get("CXX", "g++")) is not None
    headers = (Path(sysconfig.get_paths()["include"]) / "Python.h").is_file()
    return bool(spec.obs.image_keys) and cfg.steps >= COMPILE_MIN_STEPS and compiler and headers


def training_episodes(cfg: TrainConfig):
    """The episodes ``cfg.dataset`` names: ours, or a LeRobot v3 dataset read in place under
    the spec ``cfg.spec``."""
    from lps_robot.data.episodes import hdf5_episodes
    from lps_robot.data.lerobot.source import is_lerobot, lerobot_episodes

    if not cfg.dataset:
        raise ConfigError("dataset: required (an .h5 file, an episode directory or LeRobot v3)")
    if is_lerobot(cfg.dataset):
        if not cfg.spec:
            raise ConfigError(
                f"spec: {cfg.dataset} is a LeRobot dataset and carries no lps_robot spec; give "
                "one (--spec robot.yaml; `lps spec init --from-dataset` proposes it)"
            )
        return lerobot_episodes(cfg.dataset, Spec.load(cfg.spec), cfg.assume_success)
    if cfg.spec:
        raise ConfigError(
            f"spec: {cfg.dataset} carries its own spec; --spec is for a LeRobot dataset only"
        )
    return hdf5_episodes(cfg.dataset)


def load_chunks(cfg: TrainConfig):
    """The training run's `ChunkDataset` (spec, action type, chunk length, rewards)."""
    from lps_robot.data.dataset import ChunkDataset

    episodes = training_episodes(cfg)
    if cfg.frame_cache == "none" and not episodes.frame_by_frame:
        raise ConfigError(
            f"frame_cache: 'none' reads single frames from HDF5 files; {cfg.dataset} holds "
            "video, which streams through a frame cache ('' or a directory)"
        )
    spec = episodes.spec
    if cfg.action_type:
        spec = spec.replace(action=dataclasses.replace(spec.action, type=cfg.action_type))
    if cfg.chunk_length:
        policy = dataclasses.replace(
            spec.policy,
            chunk_length=cfg.chunk_length,
            execute_steps=min(spec.policy.execute_steps, cfg.chunk_length),
        )
        spec = spec.replace(policy=policy)
    data = ChunkDataset(
        episodes,
        spec=spec,
        max_episodes=cfg.max_episodes or None,
        rewards=cfg.reward_convention,
        keep_failures=cfg.keep_failures,
        failure_penalty=cfg.failure_penalty,
        images="disk" if cfg.data_memory_mb or cfg.data_stream else "ram",
    )
    if data.frames is None:
        return data
    need = data.ram_bytes() + data.image_ram_bytes()
    if not cfg.data_stream and need <= cfg.data_memory_mb * (1 << 20):
        data.load_images()  # it fits under the cap: in RAM, as without one
    elif cfg.frame_cache != "none":
        data.cache_frames(cfg.frame_cache or Path(cfg.out_dir) / "frame_cache", cfg.progress)
    return data


def train_from_dataset(
    cfg: TrainConfig, evaluate: EvalHook | None = None, data=None
) -> tuple[LPSAgent, list]:
    """Train on an HDF5 dataset (the `lps train` path); ``data``: its `load_chunks(cfg)`
    when the caller already holds it (e.g. for diagnostics after training)."""
    from lps_robot.data.stats import fingerprint

    data = load_chunks(cfg) if data is None else data
    spec = data.spec
    sample = data.sample
    device = parallel.resolve_device(cfg.device, int(os.environ.get("LOCAL_RANK", "0")))
    if data.frames is not None:  # frames read from disk by worker processes
        from lps_robot.data.stream import StreamSampler, plan

        sample = StreamSampler(
            data, plan(data, cfg.batch_size, cfg.data_memory_mb, cfg.data_workers)
        )
    elif device.type == "cuda":  # batches built on the GPU from tensors moved there once
        from lps_robot.data.resident import ResidentSampler

        sample = ResidentSampler(data, device)
    return train(cfg, spec, sample, evaluate, fingerprint(data.episodes.files()))
