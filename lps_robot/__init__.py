"""lps_robot: Latent Policy Steering on real robot arms."""

import os

__version__ = "0.1.0"

# OpenMP threads that spin for long at every barrier collapse torch's CPU training when
# another process shares the cores (measured on 2 cores, reference sizes, batch 256: 26.1
# steps/s alone but 6.8 beside a busy loop with libgomp's default spinning; 22.6 and 10.4
# with a short spin; 15.9 and 13.9 fully passive). A short spin is the default here; it must
# be set before torch loads libgomp, so it lives in the package's first import. Set
# GOMP_SPINCOUNT or OMP_WAIT_POLICY yourself to choose otherwise.
if "GOMP_SPINCOUNT" not in os.environ and "OMP_WAIT_POLICY" not in os.environ:
    os.environ["GOMP_SPINCOUNT"] = "1000"
