"""Training checkpoints that never unpickle code: safetensors weights + a JSON header.

One file, ``<name>.safetensors``: the agent's state dict under ``model/``, both optimisers'
tensors under ``opt_model/`` and ``opt_actor/``, the torch RNG state under ``rng/``, and in
the safetensors metadata (``lps``) a JSON object with the format, algorithm, step, spec,
agent and training configs and the optimisers' non-tensor state. Loading reads tensors and
JSON only, onto the CPU (a GPU-trained checkpoint exports and evaluates anywhere).
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import torch

from lps_robot.agent import LPSAgent
from lps_robot.configs import LPSConfig, TrainConfig
from lps_robot.dcio import ConfigError, from_plain, to_plain
from lps_robot.spec import Spec

CHECKPOINT_FORMAT = 2
SUFFIX = ".safetensors"
OPTIMIZERS = ("opt_model", "opt_actor")


def _flatten_optimizer(name: str, state: dict, tensors: dict[str, torch.Tensor]) -> dict:
    """Tensors of an optimiser state dict into ``tensors``; the rest as JSON-able data."""
    plain: dict[str, Any] = {"param_groups": state["param_groups"], "scalars": {}}
    for pid, entries in state["state"].items():
        for key, value in entries.items():
            if torch.is_tensor(value):
                tensors[f"{name}/state/{pid}/{key}"] = value
            else:
                plain["scalars"][f"{pid}/{key}"] = value
    return plain


def _unflatten_optimizer(name: str, plain: dict, tensors: dict[str, torch.Tensor]) -> dict:
    state: dict[int, dict[str, Any]] = {}
    prefix = f"{name}/state/"
    for key, value in tensors.items():
        if key.startswith(prefix):
            pid, field = key[len(prefix) :].split("/", 1)
            state.setdefault(int(pid), {})[field] = value
    for key, value in plain["scalars"].items():
        pid, field = key.split("/", 1)
        state.setdefault(int(pid), {})[field] = value
    groups = [  # JSON turned tuples (Adam's betas) into lists
        {k: (tuple(v) if isinstance(v, list) and k != "params" else v) for k, v in g.items()}
        for g in plain["param_groups"]
    ]
    return {"state": state, "param_groups": groups}


def save_checkpoint(
    path: Path, agent: LPSAgent, cfg: TrainConfig, step: int, extra: dict | None = None
) -> None:
    """Write ``path`` atomically (``.safetensors``)."""
    from safetensors.torch import save_file

    tensors: dict[str, torch.Tensor] = {f"model/{k}": v for k, v in agent.state_dict().items()}
    meta: dict[str, Any] = {
        "format": CHECKPOINT_FORMAT,
        "algo": cfg.algo,
        "step": step,
        "spec": agent.spec.to_dict(),
        "agent_config": to_plain(agent.config),
        "train_config": to_plain(cfg),
        **(extra or {}),
    }
    for name in OPTIMIZERS:
        meta[name] = _flatten_optimizer(name, getattr(agent, name).state_dict(), tensors)
    tensors["rng/torch"] = torch.get_rng_state()
    tensors = {k: v.detach().to("cpu").contiguous().clone() for k, v in tensors.items()}
    tmp = path.with_name(path.name + ".tmp")
    save_file(tensors, str(tmp), metadata={"lps": json.dumps(meta)})
    tmp.replace(path)


def load_checkpoint(
    path: str | Path, device: str | torch.device = "cpu"
) -> tuple[LPSAgent, dict[str, Any]]:
    """Rebuild the agent on ``device`` from a checkpoint alone; returns (agent, header) where
    the header also carries ``rng`` (the torch RNG state)."""
    from safetensors import SafetensorError
    from safetensors.torch import load_file, safe_open

    path = Path(path)
    if path.suffix != SUFFIX:
        raise ConfigError(
            f"{path}: expected a {SUFFIX} checkpoint written by lps train (pickled .pt "
            "checkpoints are not read: they can run code)"
        )
    try:
        with safe_open(str(path), framework="pt") as f:
            header = json.loads((f.metadata() or {}).get("lps", "null"))
        tensors = load_file(str(path), device="cpu")
    except (OSError, SafetensorError, json.JSONDecodeError) as e:
        raise ConfigError(f"{path}: cannot read checkpoint ({e})") from e
    if not isinstance(header, dict) or header.get("format") != CHECKPOINT_FORMAT:
        raise ConfigError(f"{path}: not an lps_robot checkpoint (format {CHECKPOINT_FORMAT})")
    spec = Spec.from_dict(header["spec"])
    agent = LPSAgent(spec, from_plain(LPSConfig, header["agent_config"]))
    model = {k[len("model/") :]: v for k, v in tensors.items() if k.startswith("model/")}
    agent.load_state_dict(model)
    agent.to(device)  # before the optimiser states, which follow their parameters' device
    for name in OPTIMIZERS:
        getattr(agent, name).load_state_dict(_unflatten_optimizer(name, header[name], tensors))
    header["rng"] = {"torch": tensors["rng/torch"]}
    return agent, header
