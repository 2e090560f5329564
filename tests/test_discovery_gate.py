"""The wait before a freshly activated controller's first command (issue 18's two commanders):
it lasts the grace from joining the graph, and longer while discovery is still changing the
node's view."""

from __future__ import annotations

from lps_robot.ros.commander import DiscoveryGate


def _first_open(gate: DiscoveryGate, views: dict[float, object], dt: float = 0.02) -> float:
    """Tick the gate at 50 Hz from t=0; the view switches to ``views[t]`` at each listed t."""
    view = "start"
    for i in range(1000):
        t = i * dt
        for at, v in views.items():
            if at <= t + 1e-9:
                view = v
        if gate.settled(t, lambda v=view: v):
            return round(t, 2)
    raise AssertionError("the gate never opened")


def test_a_still_graph_opens_after_the_grace():
    gate = DiscoveryGate(2.0, 0.0, 0.0)
    assert _first_open(gate, {}) == 2.0


def test_a_view_still_changing_late_keeps_it_shut_half_a_grace_after_the_change():
    """A second controller found 1.75 s after activating (as under load) moves the first
    command to 1.75 + 1.0 s, after the point where the conflict check sees it."""
    gate = DiscoveryGate(2.0, 0.0, 0.0)
    opened = _first_open(gate, {0.3: "robot", 1.75: "robot+controller"})
    assert opened == 2.76  # the change is seen on the tick at 1.76 s


def test_the_grace_runs_from_joining_the_graph_not_from_activating():
    """Activated at once after starting: the full grace, past one Fast DDS announcement period
    (3 s), in which a missed first burst of announcements is sent again. Activated long after
    starting: half the grace (the view must still stand still)."""
    assert _first_open(DiscoveryGate(4.0, 0.0, 0.0), {}) == 4.0
    assert _first_open(DiscoveryGate(4.0, -60.0, 0.0), {}) == 2.0


def test_once_open_it_stays_open_until_a_new_activation():
    gate = DiscoveryGate(1.0, 0.0, 0.0)
    assert gate.settled(1.0, lambda: "a") is False  # first look: the view just changed
    assert gate.settled(1.5, lambda: "a") is True
    assert gate.settled(1.6, lambda: "b") is True  # the conflict check handles later arrivals
    gate = DiscoveryGate(1.0, 0.0, 2.0)  # activated again
    assert gate.settled(3.0, lambda: "b") is False
