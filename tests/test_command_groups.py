"""A gripper on its own driver, as ros2_control with a Robotiq driver has it: the arm's and
the gripper's joint states from two publishers, commands on two topics, every command inside
the limits and the velocity bound, the gripper commanded on its own topic only."""

from __future__ import annotations

import dataclasses

import numpy as np
import pytest
from std_msgs.msg import Float64MultiArray

from lps_robot.ros.procs import free_domain
from lps_robot.spec import CommandGroup, Spec, SpecError
from tests.bad_models import write_pair
from tests.conftest import small_spec
from tests.ros_helpers import Probe, record_one_episode, start_node, stop

GRIPPER_TOPIC = "/gripper_controller/commands"


def grouped_spec() -> Spec:
    spec = small_spec(rate_hz=50.0)
    group = CommandGroup("gripper", ("j2",), GRIPPER_TOPIC)
    return dataclasses.replace(
        spec, robot=dataclasses.replace(spec.robot, command_groups=(group,))
    )


def test_command_groups_are_checked_against_the_joints():
    spec = grouped_spec()
    assert spec.robot.command_split("/arm") == [("/arm", (0, 1)), (GRIPPER_TOPIC, (2,))]
    data = spec.to_dict()
    data["robot"]["command_groups"][0]["joints"] = ["j9"]
    with pytest.raises(SpecError, match=r"command_groups\[0\]\.joints: 'j9'"):
        Spec.from_dict(data)
    data["robot"]["command_groups"] = [
        {"name": "a", "joints": ["j2"], "topic": "/a"},
        {"name": "b", "joints": ["j2"], "topic": "/b"},
    ]
    with pytest.raises(SpecError, match="already in group 'a'"):
        Spec.from_dict(data)


def test_arm_and_gripper_on_their_own_topics(tmp_path):
    spec = grouped_spec()
    write_pair(spec, tmp_path)  # robot.yaml, a.onnx (joints to 60% of their range)
    domain = free_domain()
    robot_yaml = str(tmp_path / "robot.yaml")
    log = tmp_path / "commands.jsonl"
    robot = start_node(
        "fake-robot", {"robot_spec": robot_yaml, "log_path": str(log)}, domain, tmp_path / "r.log"
    )
    params = {
        "robot_spec": robot_yaml,
        "autostart": "activate",
        "policy_path": str(tmp_path / "a.onnx"),
    }
    node = start_node("policy", params, domain, tmp_path / "node.log")
    probe = Probe(domain)
    gripper = probe.collect(GRIPPER_TOPIC)
    try:
        probe.wait_for(lambda: len(probe.commands) > 20 and len(gripper) > 20, 60, "commands")
        probe.spin(2.0)
        assert node.poll() is None
    finally:
        probe.close()
        stop(node)
        stop(robot)
    arm = np.array([c for _, c in probe.commands])
    grip = np.array([c for _, c in gripper])
    assert arm.shape[1] == 2 and grip.shape[1] == 1
    lo, hi = np.array(spec.robot.position_lower), np.array(spec.robot.position_upper)
    step = np.array(spec.robot.velocity_limits) / spec.robot.control_rate_hz
    for values, idx in ((arm, [0, 1]), (grip, [2])):
        assert np.isfinite(values).all()
        assert (values >= lo[idx] - 1e-9).all() and (values <= hi[idx] + 1e-9).all()
        assert (np.abs(np.diff(values, axis=0)) <= step[idx] + 1e-9).all()
    target = lo + 0.6 * (hi - lo)
    assert np.allclose(arm[-1], target[:2], atol=1e-3) and np.isclose(
        grip[-1][0], target[2], atol=1e-3
    )
    import json

    topics = {json.loads(line)["topic"] for line in log.read_text().splitlines()}
    assert topics == {"/forward_position_controller/commands", GRIPPER_TOPIC}


def test_the_recorder_assembles_the_action_from_the_arm_and_gripper_topics(tmp_path):

    spec = grouped_spec()
    spec.save(tmp_path / "robot.yaml")
    domain = free_domain()
    robot = start_node(
        "fake-robot", {"robot_spec": str(tmp_path / "robot.yaml")}, domain, tmp_path / "r.log"
    )
    params = {"robot_spec": str(tmp_path / "robot.yaml"), "output_dir": str(tmp_path / "eps")}
    rec = start_node("recorder", params, domain, tmp_path / "recorder.log")
    probe = Probe(domain)
    arm = probe.node.create_publisher(Float64MultiArray, "/teleop/joint_command", 10)
    grip = probe.node.create_publisher(Float64MultiArray, "/teleop/joint_command/gripper", 10)

    def publish() -> None:
        arm.publish(Float64MultiArray(data=[0.1, 0.2]))
        grip.publish(Float64MultiArray(data=[0.3]))

    probe.node.create_timer(0.01, publish)
    ep = record_one_episode(probe, [rec, robot], tmp_path / "eps")
    np.testing.assert_allclose(ep["actions"], [[0.1, 0.2, 0.3]] * len(ep["actions"]), atol=1e-6)


def test_a_bag_with_the_gripper_command_on_its_own_topic_imports(tmp_path):
    from rosbags.rosbag2 import Writer
    from rosbags.typesys import Stores, get_typestore

    from lps_robot.data.reader import list_episodes, load_episode, validate
    from lps_robot.data.rosbag import import_rosbag

    spec = small_spec(with_image=False)
    group = CommandGroup("gripper", ("j2",), GRIPPER_TOPIC)
    spec = dataclasses.replace(
        spec, robot=dataclasses.replace(spec.robot, command_groups=(group,))
    )
    ts = get_typestore(Stores.ROS2_JAZZY)
    JointState, Multi = (
        ts.types["sensor_msgs/msg/JointState"],
        ts.types["std_msgs/msg/Float64MultiArray"],
    )
    Layout, Header = ts.types["std_msgs/msg/MultiArrayLayout"], ts.types["std_msgs/msg/Header"]
    Time = ts.types["builtin_interfaces/msg/Time"]
    with Writer(tmp_path / "bag", version=9) as w:
        cj = w.add_connection("/joint_states", JointState.__msgtype__, typestore=ts)
        ca = w.add_connection("/teleop/joint_command", Multi.__msgtype__, typestore=ts)
        cg = w.add_connection("/teleop/joint_command/gripper", Multi.__msgtype__, typestore=ts)
        for i in range(100):
            t = 3_000_000_000_000 + i * 10_000_000
            hdr = Header(stamp=Time(sec=t // 10**9, nanosec=t % 10**9), frame_id="")
            pos = np.array([0.0, 0.1, 0.2])
            js = JointState(header=hdr, name=["j0", "j1", "j2"], position=pos,
                            velocity=np.zeros(3), effort=np.zeros(0))  # fmt: skip
            w.write(cj, t, ts.serialize_cdr(js, JointState.__msgtype__))
            layout = Layout(dim=[], data_offset=0)
            arm = Multi(layout=layout, data=np.array([0.4, 0.5]))
            w.write(ca, t, ts.serialize_cdr(arm, Multi.__msgtype__))
            gripper = Multi(layout=layout, data=np.array([0.25]))
            w.write(cg, t, ts.serialize_cdr(gripper, Multi.__msgtype__))
    import_rosbag(tmp_path / "bag", spec, tmp_path / "eps")
    assert validate(tmp_path / "eps") == []
    ep = load_episode(list_episodes(tmp_path / "eps")[0])
    np.testing.assert_allclose(ep["actions"], [[0.4, 0.5, 0.25]] * len(ep["actions"]))


def test_a_renamed_namespaced_controller_keeps_one_name_and_its_remaps(tmp_path):
    """Under a launch file's `name=`/`namespace=` (``__node``/``__ns`` remaps) the controller's
    hidden sensor node takes a name of its own (not a second `/arm1/arm_policy`), and a topic
    remap given to the process reaches its subscriptions: joint states remapped on both
    sides still drive the arm."""
    import yaml

    spec = small_spec(rate_hz=50.0, with_image=False)
    write_pair(spec, tmp_path)
    domain = free_domain()
    remap = ("-r", "/joint_states:=/arm1/joint_states")
    arm_topic = "/arm1/forward_position_controller/commands"  # relative default, namespaced
    robot = start_node(
        "fake-robot", {"robot_spec": str(tmp_path / "robot.yaml"), "command_topic": arm_topic},
        domain, tmp_path / "r.log", extra=remap,
    )  # fmt: skip
    params = {
        "robot_spec": str(tmp_path / "robot.yaml"),
        "autostart": "activate",
        "policy_path": str(tmp_path / "a.onnx"),
    }
    own = tmp_path / "arm.params.yaml"
    own.write_text(yaml.safe_dump({"/arm1/arm_policy": {"ros__parameters": params}}))
    extra = ("--params-file", str(own), "-r", "__node:=arm_policy", "-r", "__ns:=/arm1", *remap)
    node = start_node("policy", {}, domain, tmp_path / "node.log", extra=extra)
    probe = Probe(domain)
    commands = probe.collect(arm_topic)
    try:
        probe.wait_for(lambda: len(commands) > 10, 60, "commands from the renamed node")
        names = probe.node.get_node_names_and_namespaces()
    finally:
        probe.close()
        stop(node)
        stop(robot)
    ours = sorted((ns, n) for n, ns in names if ns == "/arm1")
    assert ours == [("/arm1", "_arm_policy_sensors"), ("/arm1", "arm_policy")], names
    assert "Publisher already registered" not in (tmp_path / "node.log").read_text()


def test_two_controllers_in_two_namespaces_use_disjoint_topics(tmp_path):
    """The shipped policy.yaml under namespace:=arm1 and namespace:=arm2 (``__ns`` remaps, as
    `ros2 launch ... namespace:=` gives): every command, joint-state, camera and gripper topic
    of one is under its own namespace; only ROS's shared topics are common."""
    import yaml

    from tests.test_launch_files import PKG

    spec = small_spec(rate_hz=50.0)
    cams = tuple(dataclasses.replace(c, topic=c.topic.lstrip("/")) for c in spec.cameras)
    group = CommandGroup("gripper", ("j2",), "gripper_controller/commands")
    spec = dataclasses.replace(
        spec, cameras=cams, robot=dataclasses.replace(spec.robot, command_groups=(group,))
    )
    write_pair(spec, tmp_path)
    mine = tmp_path / "mine.yaml"
    mine.write_text(yaml.safe_dump({"/**": {"ros__parameters": {
        "robot_spec": str(tmp_path / "robot.yaml"), "policy_path": str(tmp_path / "a.onnx"),
        "autostart": "activate"}}}))  # fmt: skip
    domain = free_domain()
    nodes = [
        start_node(
            "policy",
            {},
            domain,
            tmp_path / f"{ns}.log",
            extra=(
                "--params-file",
                str(PKG / "config" / "policy.yaml"),
                "--params-file",
                str(mine),
                "-r",
                f"__ns:=/{ns}",
            ),
        )  # fmt: skip
        for ns in ("arm1", "arm2")
    ]
    probe = Probe(domain)
    topics: dict[str, set[str]] = {}
    want = {"joint_states", "forward_position_controller/commands",
            "gripper_controller/commands", "camera/camera/color/image_raw"}  # fmt: skip

    def graph() -> bool:
        """Every topic of both controllers discovered (one at a time under load)."""
        for ns in ("arm1", "arm2"):
            found = set()
            for node in ("lps_policy", "_lps_policy_sensors"):
                try:
                    pubs = probe.node.get_publisher_names_and_types_by_node(node, f"/{ns}")
                    subs = probe.node.get_subscriber_names_and_types_by_node(node, f"/{ns}")
                except Exception:  # not discovered yet
                    return False
                found |= {t for t, _ in pubs + subs}
            topics[ns] = found
        return all({f"/{ns}/{t}" for t in want} <= topics[ns] for ns in ("arm1", "arm2"))

    try:
        probe.wait_for(graph, 60, "both controllers active and discovered")
    finally:
        probe.close()
        for n in nodes:
            stop(n)
    shared = {"/rosout", "/parameter_events", "/diagnostics"}
    for ns in ("arm1", "arm2"):
        assert {f"/{ns}/{t}" for t in want} <= topics[ns], topics[ns]
        assert all(t.startswith(f"/{ns}/") or t in shared for t in topics[ns]), topics[ns]
    assert topics["arm1"] & topics["arm2"] <= shared
