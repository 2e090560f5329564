"""lps_robot: Latent Policy Steering on real robot arms."""

import os

__version__ = "0.1.0"

# OpenMP threads that spin for long at every barrier collapse torch's CPU training when
# another process shares the cores (measured on 2 cores, reference sizes, batch 256: 26.1
# steps/s alone but 6.8 beside a busy loop with libgomp's default spinning; 22.6 and 10.4
# with a short spin; 15.9 and 13.9 fully passive). A short spin is the default here; it must
# be set before torch loads libgomp, so it lives in the package's first import. Set
# GOMP_SPINCOUNT or OMP_WAIT_POLICY yourself to choose otherwise. A job that has the machine
# to itself (`lps demo`) goes back to libgomp's spin before torch loads (`lone_job_spin`).
SPIN_SET_BY_PACKAGE = "GOMP_SPINCOUNT" not in os.environ and "OMP_WAIT_POLICY" not in os.environ
if SPIN_SET_BY_PACKAGE:
    os.environ["GOMP_SPINCOUNT"] = "1000"


def lone_job_spin() -> bool:
    """libgomp's own spin for a job that runs alone (the demo's training at batch 64 on 2
    cores: 37 steps/s against 23 with the short spin; beside a busy process 3.1 against 14.3,
    docs/benchmarks.md). Only before torch loads and only if the package chose the spin;
    True if it changed."""
    import sys

    if not SPIN_SET_BY_PACKAGE or "torch" in sys.modules:
        return False
    os.environ.pop("GOMP_SPINCOUNT", None)
    return True
