"""Where training runs: device selection and refusal, safetensors checkpoints, torchrun DDP."""

from __future__ import annotations

import os
import subprocess
import sys

import pytest
import torch

from lps_robot.checkpoint import load_checkpoint
from lps_robot.cli import main as lps
from lps_robot.configs import make_config
from lps_robot.dcio import ConfigError
from lps_robot.parallel import resolve_device
from lps_robot.train import train_from_dataset
from tests.conftest import small_spec, write_episodes
from tests.test_train import TINY

TINY_ARGS = [
    *("--agent.decoder_hidden", "32,32", "--agent.actor_hidden", "16"),
    *("--agent.critic_hidden", "32,32", "--agent.image_channels", "8,8"),
    *("--agent.image_feat_dim", "8", "--batch_size", "16", "--progress", "false"),
]


@pytest.fixture
def dataset(tmp_path):
    write_episodes(tmp_path / "ds", small_spec(), [12, 10, 15, 9], [True, False, True, False])
    return tmp_path / "ds"


@pytest.mark.skipif(torch.cuda.is_available(), reason="checks the refusal without CUDA")
def test_cuda_without_cuda_is_refused_in_one_line(dataset, tmp_path, capsys):
    argv = ["train", "--dataset", str(dataset), "--out_dir", str(tmp_path / "r"), "--steps", "2"]
    assert lps([*argv, *TINY_ARGS, "--device", "cuda"]) == 1
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and "device: 'cuda' requested but no CUDA device" in err[0]
    assert resolve_device("auto").type == "cpu"
    with pytest.raises(ConfigError, match="expected auto"):
        resolve_device("tpu")
    with pytest.raises(ValueError, match="device"):
        make_config(overrides={"device": "gpu0"})


def test_safetensors_checkpoint_round_trip(dataset, tmp_path):
    cfg = make_config(
        overrides={**TINY, "dataset": str(dataset), "out_dir": str(tmp_path / "r"), "steps": 4}
    )
    agent, _ = train_from_dataset(cfg)
    path = tmp_path / "r" / "final.safetensors"
    loaded, header = load_checkpoint(path)
    for a, b in zip(agent.state_dict().values(), loaded.state_dict().values(), strict=True):
        torch.testing.assert_close(a, b, rtol=0, atol=0)
    for name in ("opt_model", "opt_actor"):
        want, got = getattr(agent, name).state_dict(), getattr(loaded, name).state_dict()
        assert want["param_groups"] == got["param_groups"]
        for pid, state in want["state"].items():
            for key, value in state.items():
                torch.testing.assert_close(got["state"][pid][key], value, rtol=0, atol=0)
    assert header["step"] == 4 and header["algo"] == "lps"
    # the file is safetensors: no pickle opcodes, a JSON header up front
    raw = path.read_bytes()
    assert raw[8:9] == b"{" and b"\x80\x04" not in raw[:64]
    pickled = tmp_path / "old.pt"
    torch.save({"x": 1}, pickled)
    with pytest.raises(ConfigError, match="pickled .pt checkpoints are not read"):
        load_checkpoint(pickled)


def test_torchrun_data_parallel_ranks_end_identical(dataset, tmp_path):
    """`torchrun --nproc_per_node 2 lps train`: gloo on CPU, per-rank batches, averaged
    gradients; both replicas end with the same weights (they would drift apart without the
    all-reduce, since each rank samples its own batches)."""
    out = tmp_path / "ddp"
    cmd = [
        *(sys.executable, "-m", "torch.distributed.run", "--standalone", "--nproc_per_node"),
        *("2", "-m", "lps_robot.cli", "train", "--dataset", str(dataset)),
        *("--out_dir", str(out), "--steps", "6", "--device", "cpu", *TINY_ARGS),
    ]
    env = {**os.environ, "OMP_NUM_THREADS": "1"}
    proc = subprocess.run(cmd, capture_output=True, text=True, timeout=240, env=env)
    assert proc.returncode == 0, proc.stderr[-3000:]
    d0 = (out / "rank0.weights.sha256").read_text()
    d1 = (out / "rank1.weights.sha256").read_text()
    assert d0 == d1
    agent, header = load_checkpoint(out / "final.safetensors")
    assert header["step"] == 6
    rows = (out / "metrics.csv").read_text().splitlines()
    assert len(rows) >= 2 and rows[0].startswith("step")  # rank 0 alone logged
    # resume under torchrun continues from rank 0's checkpoint
    cmd[cmd.index("--steps") + 1] = "8"
    proc = subprocess.run([*cmd, "--resume", "true"], capture_output=True, text=True, env=env)
    assert proc.returncode == 0, proc.stderr[-3000:]
    assert load_checkpoint(out / "final.safetensors")[1]["step"] == 8
    assert (out / "rank0.weights.sha256").read_text() == (out / "rank1.weights.sha256").read_text()
