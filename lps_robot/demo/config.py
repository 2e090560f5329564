"""The demo's settings: `DemoConfig` (its flags) and the training recipe it uses."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from lps_robot.configs import ACTOR_BC_TARGETS, PRECISIONS, TrainConfig, make_config
from lps_robot.runtime.ahead import INFERENCE_MODES

# The demo's recipe for camera + proprio on a 2-core CPU (docs/benchmarks.md has the runs that
# chose it): the reference's fidelity settings (min target aggregation, its MLP block and init,
# its real-robot reward convention with failures kept and penalised) at the CPU preset's sizes;
# chunk-relative joint targets; a small conv encoder trained by the MeanFlow loss only; the
# actor held back for the first half while the prior and the critic train (the actor cannot
# steer a prior that has not formed yet); and the actor's loss with a term that keeps its
# decoded chunk near the best by Q of a few prior samples at the state (near the data's chunk
# itself, where a careful and a hasty operator share a state, the term pulled toward their mean).
DEMO_TRAINING = {
    "preset": "cpu",
    "agent.q_agg": "min",
    "agent.mlp_block": "reference",
    "agent.init": "xavier",
    "reward_convention": "reference",
    "keep_failures": True,
    "action_type": "joint_delta",
    "agent.image_channels": [16, 16, 32, 32],
    "agent.critic_trains_encoder": False,
    "agent.actor_bc_weight": 50.0,
    "agent.actor_bc_target": "best_of_prior",
    "agent.aug_pad": 3,
    "warmup_trains_critic": True,
}
PRIOR_WARMUP_FRACTION = 0.5

# The simulated robots `lps demo --robot` runs on (the sim robot each names), and the settings
# a robot's demo uses for the flags not given: the UR5e renders two 64x64 cameras (2.2x the
# pixels of sim_arm6's one 48x48 camera) and trains at about 28 steps/s compiled against 52 on
# 2 cores, so its demo records 400 episodes and steps 100 evaluation episodes per policy to
# stay near 30 minutes (docs/robots.md has the runs; half the training did not learn the task).
# Its scene camera sees the table from about 1 m at 1.4 cm or more per pixel, so the recipe's
# 3-pixel shifts blur where the pad is by several cm: it shifts by 1 pixel. With its critic's
# small action gaps the actor's data term at 50 kept LPS on the operator's hasty close; at 10
# LPS grasps (docs/robots.md, session 15). Its three seeds were measured with the data's chunk
# as the actor's target, so the preset keeps that one until the best-prior target is measured.
DEMO_ROBOTS = {"sim_arm6": "sim_arm6", "ur5e": "ur5e_2f85"}
DEMO_PRESETS: dict[str, dict[str, Any]] = {
    "sim_arm6": {},
    # the teleop node's IK needs the robot's model file; the UR5e scene is composed at run time
    "ur5e": {
        "gen_episodes": 390,
        "eval_episodes": 100,
        "diag_episodes": 0,
        "ros_operator": "joint",
        "precision": "bf16_encoders",
        "actor_bc_weight": 10.0,
        "actor_bc_target": "data",
        "aug_pad": 1,
    },
}


def preset_flags(robot: str) -> str:
    """A robot's preset as the flags it stands for, e.g. '--aug_pad 1'."""
    return " ".join(
        f"--{k} {v:g}" if isinstance(v, float) else f"--{k} {v}"
        for k, v in DEMO_PRESETS[robot].items()
    )


def demo_train_config(
    data: str | Path, out_dir: str | Path, algo: str, steps: int, **overrides: Any
) -> TrainConfig:
    """`DEMO_TRAINING` for one run on ``data``: the actor waits for the first
    `PRIOR_WARMUP_FRACTION` of an LPS run; ``overrides`` (dotted keys) win."""
    return make_config(
        overrides={
            **DEMO_TRAINING,
            "dataset": str(data),
            "out_dir": str(out_dir),
            "algo": algo,
            "steps": steps,
            "prior_warmup_steps": int(steps * PRIOR_WARMUP_FRACTION) if algo == "lps" else 0,
            "log_every": max(1, min(250, steps)),
            **overrides,
        }
    )


@dataclass(frozen=True)
class DemoConfig:
    """`make demo` / `lps demo`; `lps demo --help` lists every field."""

    out_dir: str = field(default="runs/demo", metadata={"help": "run directory"})
    robot: str = field(
        default="sim_arm6",
        metadata={
            "help": "the simulated robot: sim_arm6 (this project's small arm) or ur5e (UR5e + "
            f"Robotiq 2F-85 from MuJoCo Menagerie's models, two cameras; its preset "
            f"sets {preset_flags('ur5e')} unless given)"
        },
    )
    ros_episodes: int = field(default=10, metadata={"help": "episodes recorded over ROS 2"})
    ros_operator: str = field(
        default="joy",
        metadata={
            "help": "the ROS episodes' scripted operator: joy (a virtual gamepad, solved by "
            "the teleop node: the human path) or joint (it publishes joint targets itself)"
        },
    )
    gen_episodes: int = field(
        default=590, metadata={"help": "episodes recorded with the writer directly (no ROS)"}
    )
    mistake_rate: float = field(
        default=0.5,
        metadata={
            "help": "the scripted operator's chance of a hasty grasp or release at each "
            "decision point (careful and hasty actions from the same states)"
        },
    )
    failure_rate: float = field(
        default=0.0,
        metadata={"help": "injected failure modes decided at reset (the older data option)"},
    )
    lps_steps: int = field(
        default=32000,
        metadata={"help": "LPS training steps (the actor waits for the first half)"},
    )
    bc_steps: int = field(
        default=0,
        metadata={
            "help": "MF-BC training steps for a separate baseline run; 0: the baseline is the "
            "LPS run's own MeanFlow prior with random sphere latents (the prior and its "
            "encoder never get RL gradients in this recipe, so a separate run trains the "
            "same model again)"
        },
    )
    batch_size: int = field(default=64, metadata={"help": "training batch size"})
    precision: str = field(
        default="fp32",
        metadata={
            "help": "training precision: fp32 | bf16_encoders (the image encoders under bf16 "
            "autocast) | bf16 (every matrix product); see lps train --help"
        },
    )
    actor_bc_weight: float = field(
        default=DEMO_TRAINING["agent.actor_bc_weight"],
        metadata={
            "help": "weight of the actor loss's term that keeps its decoded chunk near a "
            "target (actor_bc_target; the Q term is normalised to about 1)"
        },
    )
    actor_bc_target: str = field(
        default=DEMO_TRAINING["agent.actor_bc_target"],
        metadata={
            "help": "what that term pulls toward: data (the data's chunk) | best_of_prior (the "
            "best by Q of 8 prior samples); see lps train --help"
        },
    )
    aug_pad: int = field(
        default=DEMO_TRAINING["agent.aug_pad"],
        metadata={"help": "random-shift augmentation of the camera images, in pixels (0: off)"},
    )
    eval_episodes: int = field(
        default=200, metadata={"help": "closed-loop episodes per policy, stepped"}
    )
    ros_eval_episodes: int = field(
        default=40, metadata={"help": "closed-loop episodes over ROS 2 in real time, with swaps"}
    )
    diag_episodes: int = field(
        default=30,
        metadata={"help": "episodes for the critic's best-of-N check (0: skip the diagnostics)"},
    )
    best_of_n: int = field(default=32, metadata={"help": "N of the best-of-N check"})
    max_episode_s: float = field(default=10.0, metadata={"help": "evaluation episode timeout"})
    inference: str = field(
        default="tick",
        metadata={"help": "the controller's inference over ROS: tick | ahead (a worker thread)"},
    )
    workers: int = field(
        default=2,
        metadata={
            "help": "processes for the writer's recording and the stepped evaluation, which "
            "then runs beside the ROS closed loop at the lowest CPU priority; 1: one step "
            "after the other in this process"
        },
    )
    seed: int = field(default=0, metadata={"help": "seed for recording, training, evaluation"})
    progress: bool = field(default=True, metadata={"help": "show progress bars"})

    def __post_init__(self) -> None:
        if self.robot not in DEMO_ROBOTS:
            raise ValueError(f"robot: expected one of {sorted(DEMO_ROBOTS)}, got {self.robot!r}")
        if self.precision not in PRECISIONS:
            raise ValueError(f"precision: expected one of {PRECISIONS}, got {self.precision!r}")
        if self.actor_bc_weight < 0:
            raise ValueError(f"actor_bc_weight: expected >= 0, got {self.actor_bc_weight}")
        if self.aug_pad < 0:
            raise ValueError(f"aug_pad: expected >= 0, got {self.aug_pad}")
        if self.actor_bc_target not in ACTOR_BC_TARGETS:
            raise ValueError(
                f"actor_bc_target: expected one of {ACTOR_BC_TARGETS}, "
                f"got {self.actor_bc_target!r}"
            )
        if self.workers < 1:
            raise ValueError(f"workers: expected >= 1, got {self.workers}")
        if self.inference not in INFERENCE_MODES:
            raise ValueError(
                f"inference: expected one of {INFERENCE_MODES}, got {self.inference!r}"
            )

    @property
    def robot_spec(self) -> str:
        """The packaged spec of the robot's simulation."""
        from lps_robot.sim.robots import sim_robot

        return sim_robot(DEMO_ROBOTS[self.robot]).spec_path
