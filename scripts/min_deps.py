"""The lowest versions pyproject.toml allows, and a deploy-path check that runs on them.

    python scripts/min_deps.py requirements deploy   # pins: core + deploy extras at floors
    python scripts/min_deps.py make-model OUT.onnx    # export a small policy (main venv)
    python scripts/min_deps.py check [OUT.onnx]       # exercise the deploy path (no torch)

`make mindeps` installs the floors into .venv-min and runs the check there: what a robot
installs (`pip install ".[deploy]"` beside system ROS 2) must work at every lower bound it
states. The other extras are installed at the exact versions of constraints.txt by `make
setup` and tested by `make test`; their floors are those tested versions.
"""

from __future__ import annotations

import re
import sys
import tempfile
from pathlib import Path

import tomllib

ROOT = Path(__file__).resolve().parents[1]


def floors(extras: list[str]) -> list[str]:
    """``name==floor.*`` (the floor's release series) for the core and the given extras."""
    project = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]
    reqs = list(project["dependencies"])
    for extra in extras:
        reqs += project["optional-dependencies"][extra]
    pins = {}
    for req in reqs:
        m = re.fullmatch(r"([A-Za-z0-9_.\-\[\]]+)\s*(?:>=|==)\s*([0-9][^,;\s]*)", req.strip())
        if not m:
            raise SystemExit(f"pyproject.toml: requirement {req!r} has no lower bound")
        pins[m.group(1).lower()] = m.group(2)
    return [f"{name}=={version}.*" for name, version in sorted(pins.items())]


def make_model(out: str) -> None:
    """Export an untrained small LPS policy for the sim spec (needs torch: run it in the
    main venv), so `check` loads what `lps export` writes (its ONNX IR version included)."""
    sys.path.insert(0, str(ROOT))
    from lps_robot.agent import LPSAgent
    from lps_robot.configs import LPSConfig
    from lps_robot.export import export
    from lps_robot.spec import Spec

    spec = Spec.load(ROOT / "lps_robot" / "specs" / "sim_arm.yaml")
    small = LPSConfig(decoder_hidden=(32,), actor_hidden=(32,), critic_hidden=(32,))
    export(LPSAgent(spec, small).eval(), out)
    print(f"exported {out}")


def check(exported: str | None = None) -> None:
    """Load models with onnxruntime (a hand-built one and, when given, one `lps export`
    wrote) and run the control loop and safety filter on the hand-built one."""
    import numpy as np

    sys.path.insert(0, str(ROOT))
    from lps_robot.preprocess import Preprocessor
    from lps_robot.runtime.controller import ControlLoop, Sensors
    from lps_robot.runtime.policy import OnnxPolicy
    from lps_robot.spec import Spec
    from tests.bad_models import make_model

    spec = Spec.load(ROOT / "lps_robot" / "specs" / "sim_arm.yaml")
    with tempfile.TemporaryDirectory() as tmp:
        path = make_model(spec, Path(tmp) / "good.onnx", target=spec.robot.position_upper)
        spec.save(Path(tmp) / "robot.yaml")
        spec = Spec.load(Path(tmp) / "robot.yaml")
        policy = OnnxPolicy(path, spec, threads=1)
        pre = Preprocessor(spec)
        loop = ControlLoop(spec, max_obs_age_s=1.0)
        loop.offer(policy)
        pos = np.zeros(spec.robot.num_joints)
        frame = np.zeros((spec.cameras[0].height, spec.cameras[0].width, 3), np.uint8)
        for t in range(100):
            images = {k: (pre.images[k](frame), t * 0.1) for k in spec.obs.image_keys}
            result = loop.tick(Sensors(pos, None, t * 0.1, images), t * 0.1)
            assert result.command is not None and np.isfinite(result.command).all()
            assert np.all(np.abs(result.command - pos) <= loop.safety.max_step + 1e-9)
            pos = result.command
        assert np.allclose(pos, spec.robot.position_upper), pos
    if exported:
        import onnx

        model = OnnxPolicy(exported, spec, threads=1)
        ir = onnx.load(exported).ir_version
        runs, first = len(model.warmup_ms), model.warmup_ms[0]
        print(f"exported model (IR {ir}) loads and warms up ({runs} runs, first {first:.2f} ms)")
    import cv2
    import numpy
    import onnx
    import onnxruntime
    import yaml

    versions = {m.__name__: m.__version__ for m in (numpy, onnx, onnxruntime, cv2, yaml)}
    print(f"deploy path OK at {versions}")


if __name__ == "__main__":
    if sys.argv[1:2] == ["requirements"]:
        print("\n".join(floors(sys.argv[2:])))
    elif sys.argv[1:2] == ["make-model"]:
        make_model(sys.argv[2])
    elif sys.argv[1:2] == ["check"]:
        check(sys.argv[2] if len(sys.argv) > 2 else None)
    else:
        raise SystemExit(__doc__)
