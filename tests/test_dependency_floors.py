"""The dependency floors pyproject.toml states are ones something installs and runs."""

import re
from pathlib import Path

import tomllib

ROOT = Path(__file__).resolve().parents[1]


def _pins() -> dict[str, str]:
    pins = {}
    for line in (ROOT / "constraints.txt").read_text().splitlines():
        if "==" in line and not line.startswith("#"):
            name, version = line.strip().split("==", 1)
            pins[name.lower()] = version
    return pins


def test_extras_floors_are_the_tested_pins():
    """Every extra but `deploy` (checked at its floors by `make mindeps`) states as its floor
    the exact version `make setup` installs and `make test` runs."""
    extras = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"][
        "optional-dependencies"
    ]
    pins = _pins()
    for extra, reqs in extras.items():
        if extra == "deploy":
            continue
        for req in reqs:
            m = re.fullmatch(r"([A-Za-z0-9_.\-]+)\s*(>=|==)\s*([0-9][^,;\s]*)", req)
            if m is None:
                assert req.startswith("ros-kilted-"), f"{extra}: {req} has no floor"
                continue
            name = m.group(1).lower()
            assert pins.get(name) == m.group(3), f"{extra}: {req} vs constraints {pins.get(name)}"


def test_mindeps_floors_cover_core_and_deploy():
    import sys

    sys.path.insert(0, str(ROOT / "scripts"))
    from min_deps import floors

    got = floors(["deploy"])
    assert "onnxruntime==1.18.*" in got and "numpy==1.24.*" in got
    assert all("==" in r and r.endswith(".*") for r in got)
