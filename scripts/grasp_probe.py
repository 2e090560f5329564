"""Where a finished demo's policies fail the grasp, and whether its critic could steer them.

Three probes of a run directory written by `lps demo` (its ``data``, ``lps`` checkpoint and
``policies``); docs/robots.md (session 14) has the UR5e figures:

    # each policy's first gripper close (tool height above the cube, xy offset) and first
    # release after a lift (tool distance to the pad's centre, height, speed), by outcome
    .venv/bin/python scripts/grasp_probe.py closes runs/demo --episodes 40
    # the critic at the data's decision states: descend below the hasty height, or stop
    .venv/bin/python scripts/grasp_probe.py critic runs/demo
    # the latent actor retrained alone on the final critic and prior, per actor_bc_weight
    .venv/bin/python scripts/grasp_probe.py actor runs/demo --steps 4000 --weights 50,10,0

Heights are the tool site's above the cube's centre: the scripted operator closes 0.5 cm
above it when careful and 5 cm above when hasty (`lps_robot.sim.oracle`).
"""

from __future__ import annotations

import argparse
import copy
import dataclasses
import json
from pathlib import Path

import numpy as np
import torch
import yaml

DEEP = 0.04  # m above the cube's centre: below the hasty close (0.05), on the way to a grasp
EVAL_SEED = 20_000  # the demo's stepped evaluation starts (seed 0)


def _summary(values: np.ndarray, scale: float = 100.0) -> str:
    """median (p25-p75) of ``values`` times ``scale``."""
    q = np.percentile(values, [25, 50, 75]) * scale
    return f"{q[1]:.1f} (p25-p75 {q[0]:.1f}-{q[2]:.1f})"


class _Closes:
    """Per episode: the first gripper close (tool height above the cube, xy offset) and the
    first release after a lift (tool distance to the pad's centre, height, speed)."""

    def __init__(self) -> None:
        self.rows: list[tuple] = []  # (outcome, close or None, release or None)
        self._new()

    def _new(self) -> None:
        self.first = self.release = self.before = None
        self.max_z = 0.0

    def tick(self, env, command: np.ndarray) -> None:
        from lps_robot.sim.env import CUBE_HALF
        from lps_robot.sim.evaluate import LIFTED

        tool, cube = env.data.site(env.robot.grip_site).xpos.copy(), env.cube_pos()
        before = tool if self.before is None else self.before
        self.max_z = max(self.max_z, float(cube[2]))
        closed = command[-1] > 0.5 * (env.robot.gripper_open + env.robot.gripper_closed)
        if self.first is None and closed:
            self.first = (tool[2] - cube[2], np.linalg.norm(tool[:2] - cube[:2]))
        if self.release is None and self.max_z >= LIFTED and not closed:
            pad = np.linalg.norm(tool[:2] - env.task.target_xy)
            speed = np.linalg.norm(tool - before) * env.spec.robot.control_rate_hz
            self.release = (pad, tool[2] - CUBE_HALF, speed)
        self.before = tool

    def done(self, outcome: str) -> None:
        self.rows.append((outcome, self.first, self.release))
        self._new()


def closes(run: Path, episodes: int) -> None:
    """Roll each policy out through the deploy path (`evaluate_policy`); report `_Closes`'
    figures by outcome."""
    from lps_robot.sim.evaluate import evaluate_policy

    for algo in ("lps", "bc"):
        watch = _Closes()
        evaluate_policy(run / "policies" / f"{algo}.onnx", episodes, EVAL_SEED, watch=watch)
        rows = watch.rows
        for outcome in sorted({row[0] for row in rows}):
            mine = [row for row in rows if row[0] == outcome]
            line = f"{algo} {outcome}: {len(mine)} episodes"
            got = np.array([c for _, c, _ in mine if c is not None]).reshape(-1, 2)
            if len(got):
                line += (
                    f"; first close {_summary(got[:, 0])} cm above the cube, xy offset "
                    f"{np.median(got[:, 1]) * 100:.1f} cm"
                )
            rel = np.array([r for _, _, r in mine if r is not None]).reshape(-1, 3)
            if len(rel):
                up, speed = np.median(rel[:, 1:], axis=0) * 100
                line += (
                    f"; release {_summary(rel[:, 0])} cm from the pad's centre, "
                    f"{up:.1f} cm up, {speed:.1f} cm/s"
                )
            print(line)


class _Run:
    """A run's chunk dataset, final LPS agent and the forward kinematics of its tool."""

    def __init__(self, run: Path, images_in_ram: bool = False) -> None:
        import mujoco

        from lps_robot.checkpoint import load_checkpoint
        from lps_robot.configs import make_config
        from lps_robot.sim.env import SimArmEnv
        from lps_robot.train import load_chunks

        trained = yaml.safe_load((run / "lps" / "config.yaml").read_text())
        keys = ("dataset", "action_type", "reward_convention", "keep_failures")
        cfg = make_config(
            overrides={**{k: trained[k] for k in keys}, "out_dir": str(run / "probe")}
        )
        self.data = load_chunks(cfg)
        if images_in_ram:
            self.data.load_images()
        self.agent, _ = load_checkpoint(run / "lps" / "last.safetensors")
        self.agent.eval()
        self.summary = json.loads((run / "lps" / "summary.json").read_text())
        self.mj, self.env = mujoco, SimArmEnv(self.data.spec, render=False)
        self.arm = self.data.spec.robot.joint_names[: self.env.robot.arm_joints]

    def tool_dz(self, q: np.ndarray) -> float:
        """The tool site's height above a resting cube's centre at arm joints ``q``."""
        from lps_robot.sim.env import CUBE_HALF

        for name, value in zip(self.arm, q, strict=False):
            self.env.data.joint(name).qpos = value
        self.mj.mj_kinematics(self.env.model, self.env.data)
        return float(self.env.data.site(self.env.robot.grip_site).xpos[2] - CUBE_HALF)

    def decisions(self) -> dict[str, list[int]]:
        """Chunk starts of each episode's descent toward its first close, 5-12 cm above the
        cube, split by where that close happened (hasty: above ``DEEP``)."""
        d, out = self.data, {"hasty": [], "careful": []}
        valid, q = set(d.starts.tolist()), d.obs["joint_pos"]
        for e in range(len(d.lengths)):
            lo, hi = d.ends[e] - d.lengths[e], d.ends[e]
            onset = np.nonzero(d.raw_actions[lo:hi, -1] > 0.05)[0]
            if len(onset) == 0:
                continue
            t = lo + onset[0]
            kind = "hasty" if self.tool_dz(q[t]) > DEEP else "careful"
            for s in range(lo, t):
                dz = self.tool_dz(q[s])
                if 0.05 < dz < 0.12 and s in valid and self.tool_dz(q[s + 1]) < dz - 0.001:
                    out[kind].append(s)
        return out

    def end_dz(self, starts: np.ndarray, chunks: torch.Tensor) -> np.ndarray:
        """Tool height at each (normalised, chunk-relative) chunk's last arm target."""
        from lps_robot.preprocess import denormalize_action

        a = self.agent
        raw = denormalize_action(chunks.reshape(-1, a.h, a.action_dim).numpy(), self.data.spec)
        q = self.data.obs["joint_pos"][starts][:, : len(self.arm)]
        return np.array([self.tool_dz(q[i] + raw[i, -1, : len(self.arm)]) for i in range(len(q))])


def critic(run: Path, samples: int) -> None:
    """At descent states: how often the data, the prior, the actor and the critic's best prior
    sample go below the hasty close, and how much the critic prefers that."""
    from lps_robot.agent import to_torch
    from lps_robot.models import sphere_sample

    r = _Run(run)
    agent = r.agent
    for kind, starts in r.decisions().items():
        starts = np.asarray(starts, dtype=np.int64)
        batch = to_torch(r.data.chunks(starts), "cpu")
        with torch.no_grad():
            feat = agent.features(batch["obs"])
            many = feat.repeat_interleave(samples, 0)
            z = sphere_sample(len(many), agent.d, torch.Generator().manual_seed(0), "cpu")
            prior = agent.decode(many, z)
            q = agent.critic(many, prior).mean(0).reshape(len(starts), samples)
            actor = agent.decode(feat, agent.latent(feat))
        deep = r.end_dz(np.repeat(starts, samples), prior).reshape(len(starts), samples) < DEEP
        deep_t = torch.from_numpy(deep)
        both = deep.any(1) & (~deep).any(1)
        gap = torch.nanmean(torch.where(deep_t, q, torch.nan), 1) - torch.nanmean(
            torch.where(~deep_t, q, torch.nan), 1
        )
        gap = gap[torch.from_numpy(both)]
        best = deep[np.arange(len(starts)), q.argmax(1).numpy()]
        print(
            f"{kind} descents: {len(starts)} chunk starts; chunk ends below {DEEP * 100:g} cm: "
            f"data {np.mean(r.end_dz(starts, batch['actions']) < DEEP):.2f}, prior "
            f"{deep.mean():.2f}, actor {np.mean(r.end_dz(starts, actor) < DEEP):.2f}, best of "
            f"{samples} by Q {best.mean():.2f}; Q(below) - Q(stop) median {gap.median():.2f} "
            f"mean {gap.mean():.2f} over {int(both.sum())} states with both"
        )


def _evaluate(args: tuple[str, int]) -> dict:
    from lps_robot.sim.evaluate import evaluate_policy

    return evaluate_policy(args[0], args[1], EVAL_SEED)


def actor(run: Path, steps: int, weights: list[float], episodes: int, out: Path) -> None:
    """A fresh latent actor per ``actor_bc_weight``, trained on the frozen final critic and
    prior, exported and evaluated stepped (two processes)."""
    from lps_robot.agent import to_torch
    from lps_robot.export import export
    from lps_robot.models.actor import LatentActor
    from lps_robot.sim.workers import worker_pool

    r = _Run(run, images_in_ram=True)
    out.mkdir(parents=True, exist_ok=True)
    paths = []
    for w in weights:
        agent = copy.deepcopy(r.agent).train()
        cfg = agent.config = dataclasses.replace(agent.config, actor_bc_weight=w)
        torch.manual_seed(0)
        agent.actor = LatentActor(agent.encoder.out_dim, agent.d, cfg.actor_hidden, cfg.init)
        opt = torch.optim.Adam(agent.actor.parameters(), lr=cfg.lr)
        rng = np.random.default_rng(0)
        for _ in range(steps):
            batch = to_torch(r.data.sample(64, rng))
            with torch.no_grad():
                feat = agent.features(batch["obs"])
            loss, _ = agent.actor_loss(feat, data_actions=batch["actions"].reshape(64, -1))
            opt.zero_grad()
            loss.backward()
            opt.step()
        paths.append(out / f"actor_w{w:g}.onnx")
        export(agent.eval(), paths[-1], algo="lps", train_config=r.summary)
    with worker_pool(2) as pool:
        results = list(pool.map(_evaluate, [(str(p), episodes) for p in paths]))
    for w, res in zip(weights, results, strict=True):
        print(
            f"actor_bc_weight {w:g}: success {res['success']:.3f} +- "
            f"{res['success_stderr']:.3f} over {episodes}, outcomes {res['outcomes']}"
        )


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    sub = p.add_subparsers(dest="probe", required=True)
    c = sub.add_parser(
        "closes", help="each policy's first close and first release after a lift, by outcome"
    )
    c.add_argument("run", type=Path)
    c.add_argument("--episodes", type=int, default=40)
    q = sub.add_parser("critic", help="the critic at the data's descent states")
    q.add_argument("run", type=Path)
    q.add_argument("--samples", type=int, default=32, help="prior samples per state")
    a = sub.add_parser("actor", help="the actor retrained alone per actor_bc_weight")
    a.add_argument("run", type=Path)
    a.add_argument("--steps", type=int, default=4000)
    a.add_argument("--weights", default="50,10,0", help="comma-separated actor_bc_weight")
    a.add_argument("--episodes", type=int, default=60)
    a.add_argument("--out", type=Path, default=Path("runs/grasp_probe"))
    args = p.parse_args()
    if args.probe == "closes":
        closes(args.run, args.episodes)
    elif args.probe == "critic":
        critic(args.run, args.samples)
    else:
        weights = [float(w) for w in args.weights.split(",")]
        actor(args.run, args.steps, weights, args.episodes, args.out)


if __name__ == "__main__":
    main()
