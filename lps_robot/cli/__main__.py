"""`python -m lps_robot.cli` (what the launch helpers and torchrun start)."""

import sys

from lps_robot.cli import main

sys.exit(main())
