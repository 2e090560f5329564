"""`evaluate_policy`'s watch sees every tick's command before it is sent and every ending."""

from __future__ import annotations

import numpy as np

from lps_robot.sim.env import sim_spec
from lps_robot.sim.evaluate import evaluate_policy
from tests.bad_models import make_model


class _Count:
    def __init__(self) -> None:
        self.ticks, self.outcomes, self.commands = 0, [], []

    def tick(self, env, command: np.ndarray) -> None:
        self.ticks += 1
        self.commands.append(np.array(command))

    def done(self, outcome: str) -> None:
        self.outcomes.append(outcome)


def test_the_watch_sees_each_tick_and_each_outcome(tmp_path):
    spec = sim_spec()
    lo, hi = np.asarray(spec.robot.position_lower), np.asarray(spec.robot.position_upper)
    path = make_model(spec, tmp_path / "still.onnx", target=lo + 0.4 * (hi - lo))
    watch = _Count()
    result = evaluate_policy(path, episodes=2, max_steps=15, watch=watch)
    assert watch.ticks == round(result["mean_length"] * 2) == 30
    assert {o: watch.outcomes.count(o) for o in set(watch.outcomes)} == result["outcomes"]
    cmds = np.asarray(watch.commands)
    assert np.isfinite(cmds).all() and (cmds >= lo - 1e-9).all() and (cmds <= hi + 1e-9).all()
