"""Loading and hot-swapping policies for the controller, never on a service or tick thread.

A request (the ``policy_path`` parameter, a change of the watched file, or configure) is
checked at once (missing, non-regular or oversized files are refused in the reply), then
loaded in the background: staged, parsed and hashed in a helper process (`Stager`), checked
against the spec and warmed up on the latest real observation (`OnnxPolicy`) on a worker
thread (`WorkerLoader`). Each request carries a generation: a load that finishes after a
newer request or a cleanup is discarded. A load that passes is offered to the control loop,
which swaps it in at a chunk boundary and rolls it back if it fails its probation.
"""

from __future__ import annotations

import errno
import os
from collections.abc import Callable

import numpy as np
from rclpy.node import Node

from lps_robot.ros.logs import emit
from lps_robot.runtime.controller import ControlLoop
from lps_robot.runtime.loader import WorkerLoader, check_model_file
from lps_robot.runtime.manifest import PolicyRejected
from lps_robot.runtime.policy import OnnxPolicy
from lps_robot.runtime.stage import Stager
from lps_robot.spec import Spec


class PolicySwapper:
    """The node's policy loads; counters and the staging helper live as long as the node."""

    def __init__(self, owner: Node, params: dict) -> None:
        self.owner, self.p = owner, params
        self.stager = Stager()
        self.loader: WorkerLoader | None = None  # made at configure
        self.loop: ControlLoop | None = None
        self.generation = 0  # of loads: a finished load of an older one is discarded
        self.loading = self.active_path = ""
        self.rejected = 0
        self.last_reject = ""
        self.watch_path = ""
        self._watch_seen: tuple | None = None
        self._watch_problem = ""

    def configure(
        self,
        robot: Spec,
        rate: float,
        loop: ControlLoop,
        latest_obs: Callable[[], dict[str, np.ndarray] | None],
    ) -> str:
        """Ready for loads into ``loop``; starts loading the first policy (the watched file
        when it resolves, else ``policy_path``) and returns its path ('' when none)."""
        self.robot, self.rate, self.loop, self._latest_obs = robot, rate, loop, latest_obs
        self.loader = WorkerLoader(self._build, self.p["load_timeout_s"])
        self.stager.start()  # spawned now, before commanding: a spawn stalls the GIL
        self.generation += 1
        self.watch_path = self.p["watch_path"]
        self._watch_seen, self._watch_problem = None, ""
        watched = self._watch_key() if self.watch_path else None
        policy_path = self.owner.get_parameter("policy_path").value  # may be newer than start
        first = watched[0] if watched else policy_path
        if watched and policy_path and first != os.path.realpath(policy_path):
            self.owner.get_logger().info(f"the watched {self.watch_path} wins over policy_path")
        self._watch_seen = watched
        if first:
            self.request(first)
        return first

    def teardown(self) -> None:
        """Forget the configuration; a load still running belongs to it and is discarded."""
        self.generation += 1
        self.loop = self.loader = None
        self.active_path = self.loading = ""

    def close(self) -> None:
        self.stager.close()

    def _log(self, level: str, msg: str) -> None:
        emit(self.owner.get_logger(), level, msg)

    def _build(self, path: str) -> OnnxPolicy:
        """Load, validate and warm up (worker thread); raises `PolicyRejected`."""
        period = 1.0 / self.rate
        policy = OnnxPolicy(
            path,
            self.robot,
            threads=self.p["threads"],
            warmup_iters=self.p["warmup_iters"],
            max_warmup_p99_ms=self.p["warmup_latency_fraction"] * period * 1e3,
            warmup_obs=self._latest_obs(),
            max_bytes=self.p["max_policy_bytes"],
            isolate_s=self.p["load_timeout_s"],
            stager=self.stager,
            provider=self.p["execution_provider"],
            ahead=self.p["inference"] == "ahead",
        )
        trained = policy.spec.robot.control_rate_hz
        if abs(trained - self.rate) > 1e-9:
            self.owner.get_logger().warning(
                f"{path}: trained at {trained:g} Hz, runs at {self.rate:g} Hz (rate override)"
            )
        return policy

    def request(self, path: str) -> str:
        """Start loading ``path`` in the background; '' or the reason it was refused at once."""
        try:
            check_model_file(path, self.p["max_policy_bytes"])
            if self.loader.busy:
                raise PolicyRejected(f"{path}: refused, the load of {self.loader.busy} is running")
        except PolicyRejected as e:
            return self._reject(str(e))
        self.generation += 1
        generation = self.generation
        self.loading = path
        self.loader.start(path, lambda pol, why: self._accept(generation, path, pol, why))
        return ""

    def _reject(self, reason: str) -> str:
        self.rejected += 1
        self.last_reject = reason
        self._log("error", f"policy rejected, keeping the running one: {reason}")
        return reason

    def _accept(self, generation: int, path: str, policy: OnnxPolicy | None, why: str) -> None:
        """A finished load (worker thread): swap it in unless a newer request or a cleanup
        came since, or it is the running policy's very file content."""
        loop = self.loop
        if generation != self.generation or loop is None:
            self._log("warning", f"discarded the stale load of {path}")
            return
        self.loading = ""
        if policy is None:
            self._reject(why)
            return
        running = loop.policy
        if running is not None and running.file_hash == policy.file_hash:
            self._log("info", f"{path}: same content as the running policy")
            return
        loop.offer(policy)
        self.active_path = path
        self._log(
            "info",
            f"policy {path} ({policy.content_hash[:12]}, warm-up p99 "
            f"{policy.warmup_p99_ms:.2f} ms) ready; swapping in",
        )

    def _watch_key(self) -> tuple | None:
        """What identifies the watched file's content cheaply (its target, inode, size,
        mtime and ctime: a rewrite that keeps the mtime still changes the ctime); None, with
        the problem logged once, when it does not resolve to a file."""
        try:
            real = os.path.realpath(self.watch_path)
            st = os.stat(self.watch_path)
        except OSError as e:
            kind = "a symlink loop" if e.errno == errno.ELOOP else f"unreadable ({e.strerror})"
            if e.errno == errno.ENOENT and os.path.islink(self.watch_path):
                kind = f"a link to the missing {os.readlink(self.watch_path)}"
            problem = f"watch_path {self.watch_path} is {kind}"
            if problem != self._watch_problem:
                self._watch_problem = problem
                self._log("warning", f"{problem}; keeping the running policy")
            return None
        self._watch_problem = ""
        return (real, st.st_ino, st.st_size, st.st_mtime_ns, st.st_ctime_ns)

    def on_watch(self) -> None:
        """The watch timer: load the watched file when its content changed."""
        key = self._watch_key()
        if key is None or key == self._watch_seen or self.loader is None or self.loader.busy:
            return  # a busy loader: look again next period
        self._watch_seen = key
        self.request(key[0])
