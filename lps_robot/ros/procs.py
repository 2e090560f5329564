"""Start rclpy nodes as processes and observe them from an in-process probe node.

Used by the integration tests, `lps bench loop` and the demo; DDS stays on loopback in the
caller's own ROS_DOMAIN_ID.
"""

from __future__ import annotations

import json
import os
import random
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path

import yaml

SAFE_DOMAINS = range(1, 102)  # above 101, DDS ports can meet Linux's ephemeral ports


def domain_in_use(domain: int) -> bool:
    """Whether a DDS participant on this machine holds ``domain``: the first participant of
    domain d binds UDP port 7410 + 250 d (the RTPS default port mapping) for discovery."""
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as s:
        try:
            s.bind(("", 7410 + 250 * domain))
        except OSError:
            return True
    return False


def free_domain() -> int:
    """A random ROS domain id in 1..101 that no participant on this machine uses, so a test,
    a demo and a benchmark run side by side never hear each other (domain 0, the default,
    is left to the user's own session)."""
    ids = list(SAFE_DOMAINS)
    random.shuffle(ids)
    for domain in ids:
        if not domain_in_use(domain):
            return domain
    raise RuntimeError(f"every ROS domain id in {SAFE_DOMAINS} is in use on this machine")


def ros_env(domain: int) -> dict[str, str]:
    env = dict(os.environ)
    env.update(
        ROS_DOMAIN_ID=str(domain), ROS_AUTOMATIC_DISCOVERY_RANGE="LOCALHOST", PYTHONUNBUFFERED="1"
    )
    return env


# `lps node <which>` -> the ROS node name its parameters are declared under
NODE_NAMES = {
    "policy": "lps_policy",
    "fake-robot": "fake_robot",
    "sim": "sim_robot",
    "camera": "lps_camera",
    "recorder": "lps_recorder",
    "teleop": "lps_teleop",
}


def write_params(path: Path, node: str, params: dict) -> Path:
    path.write_text(yaml.safe_dump({node: {"ros__parameters": params}}))
    return path


def start_node(
    which: str, params: dict, domain: int | None, log: Path, extra: tuple[str, ...] = ()
) -> subprocess.Popen:
    """Start `lps node <which>` with ``params``; its output goes to ``log`` and its parameter
    file beside it (``<log stem>.params.yaml``), so a run directory shows how each node ran.
    ``domain``: a test's own domain on localhost; None: this process's ROS environment as it
    is (a session on a robot). ``extra``: more ROS arguments (another parameters file)."""
    params_file = write_params(log.with_suffix(".params.yaml"), NODE_NAMES[which], params)
    env = ros_env(domain) if domain is not None else {**os.environ, "PYTHONUNBUFFERED": "1"}
    cmd = [sys.executable, "-m", "lps_robot.cli", "node", which, "--params-file", str(params_file)]
    return subprocess.Popen(
        [*cmd, *(["--ros-args", *extra] if extra else [])],
        env=env,
        stdout=log.open("w"),
        stderr=subprocess.STDOUT,
    )


def start_robot_and_policy(
    run_dir: Path, domain: int, policy: dict
) -> tuple[subprocess.Popen, subprocess.Popen]:
    """The fake robot and the policy node on ``run_dir/robot.yaml``, the policy disabled at
    start (``policy`` adds or overrides its parameters); logs go to ``run_dir``."""
    spec = str(run_dir / "robot.yaml")
    robot = start_node("fake-robot", {"robot_spec": spec}, domain, run_dir / "robot.log")
    params = {"robot_spec": spec, "autostart": "configure", **policy}
    return robot, start_node("policy", params, domain, run_dir / "node.log")


def stop(proc: subprocess.Popen, timeout: float = 10.0) -> None:
    """SIGTERM; a node still running after ``timeout`` s gets SIGUSR1 (its threads' stacks
    into its log, see `spin.spin_node`), then SIGKILL."""
    if proc.poll() is None:
        proc.terminate()
        try:
            proc.wait(timeout=timeout)
        except subprocess.TimeoutExpired:
            proc.send_signal(signal.SIGUSR1)
            time.sleep(0.5)
            proc.kill()
            proc.wait()


class NodeGroup:
    """Nodes started in one domain for one job: on leaving the block (an exception or SIGTERM
    included) the probe closes and every node stops, the newest first."""

    def __init__(self, domain: int, log_dir: Path) -> None:
        self.domain, self.log_dir = domain, log_dir
        self.procs: list[subprocess.Popen] = []
        self.probe: Probe | None = None

    def start(self, which: str, params: dict, log_name: str) -> subprocess.Popen:
        proc = start_node(which, params, self.domain, self.log_dir / log_name)
        self.procs.append(proc)
        return proc

    def open_probe(self) -> Probe:
        self.probe = Probe(self.domain)
        return self.probe

    def __enter__(self) -> NodeGroup:
        return self

    def __exit__(self, *exc: object) -> None:
        try:
            if self.probe is not None:
                self.probe.close()
        finally:  # a probe that fails to close still leaves no node running
            for proc in reversed(self.procs):
                stop(proc)


def parse_diag_value(value: str) -> object:
    """A plain-string diagnostic value back as bool, int, float, None ('') or str."""
    if value in ("true", "false"):
        return value == "true"
    if value == "":
        return None
    for kind in (int, float):
        try:
            return kind(value)
        except ValueError:
            pass
    return value


class Probe:
    """An in-test rclpy node in its own context: collects commands and diagnostics."""

    def __init__(self, domain: int) -> None:
        import rclpy
        from diagnostic_msgs.msg import DiagnosticArray
        from std_msgs.msg import Float64MultiArray, String

        self.rclpy = rclpy
        self.ctx = rclpy.Context()
        rclpy.init(context=self.ctx, domain_id=domain)
        self.node = rclpy.create_node("test_probe", context=self.ctx)
        from rclpy.executors import SingleThreadedExecutor

        self.executor = SingleThreadedExecutor(context=self.ctx)
        self.executor.add_node(self.node)
        self.commands: list[tuple[float, list[float]]] = []
        self.diag: dict = {}
        self.diag_level = -1
        self.diag_message = ""
        self.diag_log: list[tuple[float, int, str]] = []  # (receipt time, level, message)
        self.node.create_subscription(
            Float64MultiArray,
            "/forward_position_controller/commands",
            lambda m: self.commands.append((time.monotonic(), list(m.data))),
            100,
        )
        self.node.create_subscription(DiagnosticArray, "/diagnostics", self._on_diag, 10)
        self.mode_pub = self.node.create_publisher(String, "/fake_robot/mode", 10)
        self._clients: dict[tuple[type, str], object] = {}  # one client per service
        self._answered: set[tuple[type, str]] = set()  # clients past the discovery race
        self.String = String

    def collect(self, topic: str) -> list[tuple[float, list[float]]]:
        """Every Float64MultiArray command on ``topic`` as (receipt time, values), like
        `commands` for the main command topic (a gripper group's topic, a namespaced one)."""
        from std_msgs.msg import Float64MultiArray

        out: list[tuple[float, list[float]]] = []
        self.node.create_subscription(
            Float64MultiArray, topic, lambda m: out.append((time.monotonic(), list(m.data))), 100
        )
        return out

    def listen(self, msg_type, topic: str, sensor_qos: bool = False) -> dict:
        """Keep the latest message of ``topic`` in the returned dict under 'msg'."""
        from rclpy.qos import qos_profile_sensor_data

        box: dict = {}
        qos = qos_profile_sensor_data if sensor_qos else 10
        self.node.create_subscription(msg_type, topic, lambda m: box.__setitem__("msg", m), qos)
        return box

    def wait_for_episode(self, task: dict, episode: int, timeout: float) -> dict:
        """Wait until the sim's task status (a `listen` box on /sim/task) reports ``episode``
        done; return that status."""

        def status() -> dict:
            return json.loads(task["msg"].data) if "msg" in task else {}

        self.wait_for(
            lambda: status().get("episode") == episode and status().get("done", False),
            timeout,
            f"end of episode {episode}",
        )
        return status()

    def reset_sim(self, settle_s: float = 0.3) -> int:
        """Reset the sim robot's scene, let fresh post-reset messages reach the other nodes,
        and return the new episode number (for `wait_for_episode`)."""
        from std_srvs.srv import Trigger

        reply = self.call(Trigger, "/sim_robot/reset", Trigger.Request(), timeout=60)
        self.spin(settle_s)
        return json.loads(reply.message)["episode"]

    def _on_diag(self, msg) -> None:
        for st in msg.status:
            if st.name.startswith("lps_policy"):
                self.diag = {kv.key: parse_diag_value(kv.value) for kv in st.values}
                # DiagnosticStatus.level is a one-byte `bytes` in rclpy
                self.diag_level = st.level[0] if isinstance(st.level, bytes) else int(st.level)
                self.diag_message = st.message
                self.diag_log.append((time.monotonic(), self.diag_level, st.message))

    def spin(self, seconds: float) -> None:
        end = time.monotonic() + seconds
        while time.monotonic() < end:
            self.executor.spin_once(timeout_sec=0.02)

    def wait_for(self, cond: Callable[[], bool], timeout: float, what: str) -> None:
        end = time.monotonic() + timeout
        while time.monotonic() < end:
            if cond():
                return
            self.executor.spin_once(timeout_sec=0.05)
        raise AssertionError(f"timed out after {timeout}s waiting for {what}; diag={self.diag}")

    def call(self, srv_type, name: str, request, timeout: float = 20.0):
        """Call a service and return its reply. Right after discovery a request can be
        answered into the void (the server's reply writer has not matched our reader yet,
        though the service already reads as ready), so until a client has had one reply, a
        call without a reply within a few seconds is sent again, until ``timeout``."""
        key = (srv_type, name)
        if key not in self._clients:
            self._clients[key] = self.node.create_client(srv_type, name)
        client = self._clients[key]
        self.wait_for(lambda: client.service_is_ready(), timeout, f"service {name}")
        end = time.monotonic() + timeout
        proven = key in self._answered
        while True:
            future = client.call_async(request)
            try:
                wait = end - time.monotonic() if proven else min(3.0, end - time.monotonic())
                self.wait_for(future.done, max(0.1, wait), name)
                self._answered.add(key)
                return future.result()
            except AssertionError:
                client.remove_pending_request(future)
                if time.monotonic() >= end:
                    raise AssertionError(
                        f"timed out after {timeout}s waiting for a reply from {name}; "
                        f"diag={self.diag}"
                    ) from None

    def set_mode(self, mode: str) -> None:
        """Switch the fake robot's fault mode (once it has discovered us: never into the void)."""
        self.wait_for(lambda: self.mode_pub.get_subscription_count() > 0, 30, "the fake robot")
        for _ in range(3):
            self.mode_pub.publish(self.String(data=mode))
            self.spin(0.05)

    def set_param(self, name: str, value: object, node: str = "/lps_policy"):
        """Set one parameter of ``node``; the SetParametersResult (successful, reason)."""
        from rcl_interfaces.srv import SetParameters
        from rclpy.parameter import Parameter

        msg = Parameter(name, value=value).to_parameter_msg()
        req = SetParameters.Request(parameters=[msg])
        return self.call(SetParameters, f"{node}/set_parameters", req).results[0]

    def set_policy(self, path: str):
        return self.set_param("policy_path", path)

    def swap(self, path: str, timeout: float = 30.0) -> tuple[bool, str]:
        """Ask the controller to swap in ``path`` and wait for the outcome: (True, '') once
        it is taken or found identical to the running one, (False, reason) once refused (at
        once by the parameter reply, or by the background load on /diagnostics)."""
        self.spin(0.2)
        before = (self.diag.get("swaps"), self.diag.get("rejected_swaps"))
        result = self.set_policy(path)
        if not result.successful:
            return False, result.reason

        def settled() -> bool:
            if self.diag.get("rejected_swaps") != before[1]:
                return True
            return self.diag.get("swaps") != before[0] or (
                not self.diag.get("loading") and self.diag.get("active_policy") == path
            )

        self.wait_for(settled, timeout, f"the swap to {path}")
        if self.diag.get("rejected_swaps") != before[1]:
            return False, str(self.diag.get("last_reject_reason"))
        return True, ""

    def lifecycle(self, transition: str | None = None, node: str = "/lps_policy") -> str:
        """Trigger a lifecycle transition by label (e.g. 'configure') if given; the state label
        afterwards."""
        from lifecycle_msgs.srv import ChangeState, GetState

        if transition is not None:
            req = ChangeState.Request()
            req.transition.label = transition
            self.call(ChangeState, f"{node}/change_state", req)
        return self.call(GetState, f"{node}/get_state", GetState.Request()).current_state.label

    def close(self) -> None:
        self.executor.shutdown()
        self.node.destroy_node()
        self.rclpy.shutdown(context=self.ctx)
