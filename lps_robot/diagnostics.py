"""Can the critic be trusted? Checks to run before deploying a trained LPS actor.

- **Best of N**: at every query, decode N random prior latents, execute the chunk the critic
  rates highest (vs one random latent: the MF-BC prior). If picking by Q does not beat a
  random pick in closed loop, the critic's action ranking is not worth steering by.
- **ROS vs stepped**: `fisher_exact_p` tests whether two success rates (e.g. a policy over
  ROS 2 in real time and stepped) differ beyond noise.
- **Distance to the data**: mean squared distance (normalised actions) between the chunk a
  policy commands at dataset states and the chunk recorded there, for the actor and for the
  prior. An actor much further away than the prior has left the data's support.

`TorchPolicy` gives the agent's modes the same call as `OnnxPolicy`, so they run through the
deploy path's control loop and safety filter in `lps_robot.sim.evaluate`.
"""

from __future__ import annotations

from collections.abc import Mapping

import numpy as np
import torch

from lps_robot.agent import LPSAgent, to_torch
from lps_robot.models.actor import sphere_sample
from lps_robot.preprocess import denormalize_action

MODES = ("actor", "prior", "best_of_n")


class TorchPolicy:
    """``agent`` acting as ``mode``: actor (LPS) | prior (MF-BC) | best_of_n (by mean Q)."""

    def __init__(self, agent: LPSAgent, mode: str, n: int = 32, seed: int = 0) -> None:
        if mode not in MODES:
            raise ValueError(f"mode: expected one of {MODES}, got {mode!r}")
        if n < 1:
            raise ValueError(f"n: expected >= 1, got {n}")
        self.agent = agent.eval()
        self.spec = agent.spec
        self.mode, self.n = mode, n if mode == "best_of_n" else 1
        self.path = f"torch:{mode}" + (f"@{n}" if mode == "best_of_n" else "")
        self.manifest = {"algo": self.path}
        self.generator = torch.Generator().manual_seed(seed)
        self.keys = (*self.spec.obs.image_keys, *self.spec.obs.proprio_keys)

    @torch.no_grad()
    def __call__(self, obs: Mapping[str, np.ndarray]) -> np.ndarray:
        """Preprocessed observation (no batch dim) -> raw action chunk (h, A)."""
        a = self.agent
        batch = {}
        for k in self.keys:
            x = np.asarray(obs[k], np.uint8 if k in self.spec.obs.image_keys else np.float32)
            batch[k] = torch.as_tensor(x).unsqueeze(0)
        feat = a.features(batch)
        if self.mode == "actor":
            chunk = a.decode(feat, a.latent(a.actor_features(batch, feat)))
        elif self.mode == "best_of_n":
            critic_feat = a.critic_encoder(batch) if a.per_network else feat
            chunk = a.best_of_prior(feat, critic_feat, self.n, self.generator)
        else:
            chunk = a.decode(feat, sphere_sample(self.n, a.d, self.generator))
        return denormalize_action(chunk.view(a.h, a.action_dim).numpy(), self.spec)


@torch.no_grad()
def distance_to_data(
    agent: LPSAgent, sample, batches: int = 8, batch_size: int = 256, seed: int = 0
) -> dict[str, float]:
    """Mean squared distance of the actor's and the prior's chunks to the recorded chunk at
    the same dataset states (normalised actions, per dimension); ``sample`` is the training
    sampler (`ChunkDataset.sample`)."""
    agent = agent.eval()
    rng = np.random.default_rng(seed)
    gen = torch.Generator().manual_seed(seed)
    actor, prior = [], []
    for _ in range(batches):
        batch = to_torch(sample(batch_size, rng))
        data = batch["actions"].reshape(batch_size, -1)
        feat = agent.features(batch["obs"])
        a_actor = agent.decode(feat, agent.latent(agent.actor_features(batch["obs"], feat)))
        a_prior = agent.decode(feat, sphere_sample(batch_size, agent.d, gen))
        actor.append(((a_actor - data) ** 2).mean().item())
        prior.append(((a_prior - data) ** 2).mean().item())
    return {"actor_mse": float(np.mean(actor)), "prior_mse": float(np.mean(prior))}


def fisher_exact_p(k1: int, n1: int, k2: int, n2: int) -> float:
    """Two-sided Fisher exact test of k1/n1 vs k2/n2 (two proportions, exact for small n)."""
    from math import comb

    k, n = k1 + k2, n1 + n2

    def prob(a: int) -> float:
        return comb(n1, a) * comb(n2, k - a) / comb(n, k)

    observed = prob(k1)
    support = range(max(0, k - n2), min(k, n1) + 1)
    return min(1.0, sum(prob(a) for a in support if prob(a) <= observed * (1 + 1e-9)))


def critic_checks(agent: LPSAgent, sample, episodes: int, n: int, seed: int) -> dict:
    """On the sim task: the best of ``n`` prior samples by Q vs a random one, rolled out for
    ``episodes`` each, and the actor's and prior's distance to the training data (``sample``:
    the training sampler, `ChunkDataset.sample`)."""
    from lps_robot.sim.evaluate import evaluate_policy

    eval_seed = 30_000 + seed
    runs = {
        "best_of_n": TorchPolicy(agent, "best_of_n", n, seed=eval_seed),
        "random_prior": TorchPolicy(agent, "prior", seed=eval_seed),
    }
    out: dict = {"best_of_n_n": n, "episodes": episodes}
    for name, policy in runs.items():
        r = evaluate_policy(policy, episodes, seed=eval_seed)
        out[f"{name}_success"] = r["success"]
        out[f"{name}_outcomes"] = r["outcomes"]
    out.update(distance_to_data(agent, sample, seed=seed))
    agent.train()
    return out
