"""`lps record`: a recording session a person runs from one terminal.

The screen shows the episode number, the phase, the elapsed time, the recorder's measured
rate and dropped samples, the last label and the task text. Keys (and gamepad buttons, from
``/joy``): space (Start) starts an episode, ``y`` (Y) stops it as a success, ``n`` (X) as a
failure, ``x`` (Back) discards it, ``b`` records the last finished episode again (drops it),
Esc or Ctrl-C quits (a recording episode is discarded). Between episodes the scene is reset
(on the sim, by its ``~/reset`` service when the next episode starts). With the keyboard as
the teleop device, the motion keys (w/s, a/d, r/f, q/e, c/o) drive the arm through the teleop
node as a virtual gamepad. A camera preview window (`preview.py`) opens when a display and
a GUI OpenCV exist; the screen says why it is off otherwise. The recorder's services stay
for scripts.
"""

from __future__ import annotations

import contextlib
import json
import time
from dataclasses import dataclass, field
from pathlib import Path

import rclpy
from rclpy.executors import SingleThreadedExecutor
from rich.console import Console
from rich.live import Live
from rich.table import Table
from sensor_msgs.msg import Joy
from std_msgs.msg import String
from std_srvs.srv import SetBool, Trigger

from lps_robot.ros.preview import Preview, preview_unavailable
from lps_robot.ros.teleop_params import DEVICE_INPUT
from lps_robot.spec import Spec
from lps_robot.teleop.joy import JoyMapping, command_to_joy
from lps_robot.teleop.keyboard import HELP as MOTION_HELP
from lps_robot.teleop.keyboard import KeyTwist, TerminalKeys

KEYS = {" ": "start", "y": "success", "n": "failure", "x": "discard", "b": "rerecord"}
QUIT = ("esc", "\x03", "\x04")  # Esc, Ctrl-C, Ctrl-D
HELP = "space start, y success, n failure, x discard, b re-record the last, Esc quit"
RECORDER = "/lps_recorder"


@dataclass
class Screen:
    """What the session shows (pure state, rendered by `table`)."""

    task: str
    phase: str = "ready"  # ready | recording | reset
    finished: int = 0
    started: float | None = None
    status: dict = field(default_factory=dict)
    last_label: str = ""
    message: str = "press space to start the first episode"
    preview: str = "off"  # the camera window: "on", or why it is off

    def table(self, now: float, keyboard: bool) -> Table:
        t = Table(title="lps record", show_header=False, expand=False)
        t.add_column(style="bold")
        t.add_column()
        recording = self.started is not None and self.phase == "recording"
        elapsed = f"{now - self.started:.1f} s" if recording else "-"
        rate = self.status.get("measured_rate_hz")
        rows = [
            ("episode", str(self.finished + (1 if self.phase == "recording" else 0) or 1)),
            ("phase", self.phase),
            ("elapsed", elapsed),
            ("steps", str(self.status.get("steps", "-"))),
            ("rate", f"{rate:.1f} Hz" if rate else "-"),
            ("dropped", str(self.status.get("dropped", {}) or "none")),
            ("last label", self.last_label or "-"),
            ("task", self.task),
            ("preview", self.preview),
            ("", self.message),
            ("keys", HELP),
        ]
        if keyboard:
            rows.append(("arm", MOTION_HELP))
        for k, v in rows:
            t.add_row(k, v)
        return t


class Session:
    """The session's ROS side: recorder service calls, its status, gamepad buttons."""

    def __init__(
        self,
        task: str,
        sim: bool,
        keyboard: bool,
        joy_topic: str = "/joy",
        camera_topics: tuple[str, ...] = (),
    ) -> None:
        self.ctx = rclpy.Context()
        rclpy.init(context=self.ctx)
        self.node = rclpy.create_node("lps_record_session", context=self.ctx)
        self.executor = SingleThreadedExecutor(context=self.ctx)
        self.executor.add_node(self.node)
        self.screen = Screen(task)
        self.sim, self.keyboard = sim, keyboard
        self.mapping = JoyMapping()
        self.pending: list[str] = []
        self.clients: dict[str, object] = {}  # one per service name, made on first use
        self._buttons: list[int] = []
        self.node.create_subscription(String, "/recorder/status", self._on_status, 10)
        self.preview = None
        if camera_topics:
            why = preview_unavailable()
            self.screen.preview = f"off ({why})" if why else "on"
            if not why:
                self.preview = Preview(self.node, list(camera_topics))
        if keyboard:  # the keyboard drives the arm as a virtual gamepad on /joy
            self.keys = KeyTwist(self.mapping.max_linear, self.mapping.max_angular)
            self.pad = self.node.create_publisher(Joy, joy_topic, 10)
            self.node.create_timer(0.02, self._publish_pad)
        else:
            self.node.create_subscription(Joy, joy_topic, self._on_joy, 10)

    def _on_status(self, msg: String) -> None:
        with contextlib.suppress(json.JSONDecodeError):
            status = json.loads(msg.data)
            self.screen.status = status
            if status.get("event") == "ended" and self.screen.phase == "recording":
                self.screen.phase, self.screen.last_label = "reset", "ended by the recorder"
                self.screen.message = f"episode ended: {status.get('reason')}"

    def _on_joy(self, msg: Joy) -> None:
        m, old = self.mapping, self._buttons
        pressed = [i for i, b in enumerate(msg.buttons) if b and not (i < len(old) and old[i])]
        self._buttons = list(msg.buttons)
        actions = {
            m.start_button: "start",
            m.success_button: "success",
            m.failure_button: "failure",
            m.discard_button: "discard",
        }
        self.pending += [actions[i] for i in pressed if i in actions]

    def _publish_pad(self) -> None:
        axes, buttons = command_to_joy(self.keys.command(time.monotonic()), self.mapping)
        self.pad.publish(Joy(axes=axes, buttons=buttons))

    def on_key(self, key: str, now: float) -> None:
        if key in QUIT:
            self.pending.append("quit")
        elif key in KEYS:
            self.pending.append(KEYS[key])
        elif self.keyboard:
            self.keys.press(key, now)

    def call(self, srv, name: str, request, timeout: float = 10.0):
        """The reply, or None when the service does not answer within ``timeout``."""
        client = self.clients.get(name) or self.clients.setdefault(
            name, self.node.create_client(srv, name)
        )
        if not client.wait_for_service(timeout_sec=timeout):
            return None
        future = client.call_async(request)
        self.executor.spin_until_future_complete(future, timeout_sec=timeout)
        return future.result()

    def act(self, action: str) -> None:
        s = self.screen
        if action == "start" and s.phase != "recording":
            if self.sim:
                self.call(Trigger, "/sim_robot/reset", Trigger.Request())
            r = self.call(Trigger, f"{RECORDER}/start", Trigger.Request())
            if r is None:
                s.message = "no recorder answers (is it running?)"
            elif r.success:
                s.phase, s.started, s.status = "recording", time.monotonic(), {}
                s.message = "recording: y success, n failure, x discard"
            else:
                s.message = f"not started: {r.message}"
        elif action in ("success", "failure") and s.phase == "recording":
            r = self.call(SetBool, f"{RECORDER}/stop", SetBool.Request(data=action == "success"))
            if r is not None and r.success:
                s.finished += 1
                s.last_label = action
                s.message = "reset the scene; space starts the next episode"
            else:
                s.message = f"stop failed: {r.message if r else 'no answer'}"
            s.phase = "reset"
        elif action == "discard" and s.phase == "recording":
            self.call(Trigger, f"{RECORDER}/discard", Trigger.Request())
            s.phase, s.last_label = "reset", "discarded"
            s.message = "discarded; space starts the next episode"
        elif action == "rerecord":
            if s.phase == "recording":
                self.act("discard")
            r = self.call(Trigger, f"{RECORDER}/drop_last", Trigger.Request())
            if r is not None and r.success:
                s.finished -= 1
                s.message = f"{r.message}; space records it again"
            else:
                s.message = f"nothing to re-record: {r.message if r else 'no answer'}"
            s.phase = "reset"

    def run(self, console: Console | None = None, fd: int | None = None) -> int:
        """The session until quit; 0."""
        reader = TerminalKeys(self.on_key, fd)
        reader.connect()
        try:
            with Live(console=console, refresh_per_second=8, transient=False) as live:
                while True:
                    self.executor.spin_once(timeout_sec=0.05)
                    while self.pending:
                        action = self.pending.pop(0)
                        if action == "quit":
                            if self.screen.phase == "recording":
                                self.act("discard")
                            return 0
                        self.act(action)
                    live.update(self.screen.table(time.monotonic(), self.keyboard))
                    if self.preview is not None:
                        self.preview.show()
        finally:
            reader.disconnect()
            self.close()

    def close(self) -> None:
        if self.preview is not None:
            self.preview.close()
        self.executor.shutdown()
        self.node.destroy_node()
        rclpy.try_shutdown(context=self.ctx)


def _recorded_spec(params_file: str | None) -> Spec:
    """The spec the recorder records with: its ``robot_spec`` in the parameters file, else
    the packaged one (the sim arm)."""
    import yaml

    from lps_robot.ros.policy_params import default_spec_path

    path = ""
    if params_file:
        data = yaml.safe_load(Path(params_file).read_text()) or {}
        for key, section in data.items():
            if str(key).strip("/").endswith("lps_recorder") or key == "/**":
                path = (section or {}).get("ros__parameters", {}).get("robot_spec", "") or path
    return Spec.load(path or default_spec_path())


def run_session(
    output: str, task: str, sim: bool, teleop: str | None, params_file: str | None = None
) -> int:
    """Start the recorder (and the sim robot, the teleop node) beside this terminal's session
    screen; stop them when the session ends. ``params_file`` goes to the recorder and the
    teleop node (sections ``lps_recorder`` and ``lps_teleop``: the spec, the IK model, the
    workspace). Node logs go to ``<output>/logs``."""
    from lps_robot.ros.procs import start_node, stop
    from lps_robot.ros.sim_node import TELEOP_TOPIC

    logs = Path(output) / "logs"
    logs.mkdir(parents=True, exist_ok=True)
    extra = ("--params-file", params_file) if params_file else ()
    procs = []
    try:
        if sim:
            follow = {"command_topic": TELEOP_TOPIC}
            procs.append(start_node("sim", follow, None, logs / "sim.log"))
        if teleop:
            params = {"input": DEVICE_INPUT[teleop]}
            procs.append(start_node("teleop", params, None, logs / "teleop.log", extra))
        recorder = {"output_dir": str(output), "task": task}
        procs.append(start_node("recorder", recorder, None, logs / "recorder.log", extra))
        cams = tuple(c.topic for c in _recorded_spec(params_file).cameras)
        session = Session(task, sim=sim, keyboard=teleop == "keyboard", camera_topics=cams)
        session.screen.message = "starting the nodes; press space to start the first episode"
        return session.run()
    finally:
        for proc in reversed(procs):
            stop(proc)
