"""ros_ws structure: launch files parse, name real executables, declared parameters, real configs.

`ros2 launch` cannot run here (no launch packages on PyPI for this Python), so the launch
files are checked statically against the code they start.
"""

from __future__ import annotations

import ast
import importlib
import importlib.util
import re
from pathlib import Path
from xml.etree import ElementTree

import yaml

from lps_robot.ros.policy_params import NODE_NAME
from lps_robot.ros.policy_params import PARAMS_BY_NAME as PARAMS

PKG = Path(__file__).resolve().parents[1] / "ros_ws" / "src" / "lps_robot"


def _console_scripts() -> dict[str, str]:
    tree = ast.parse((PKG / "setup.py").read_text())
    scripts = {}
    for node in ast.walk(tree):
        if isinstance(node, ast.Constant) and isinstance(node.value, str) and " = " in node.value:
            name, target = node.value.split(" = ")
            scripts[name.strip()] = target.strip()
    return scripts


def _calls(tree: ast.AST, name: str) -> list[ast.Call]:
    return [
        n
        for n in ast.walk(tree)
        if isinstance(n, ast.Call) and getattr(n.func, "id", getattr(n.func, "attr", None)) == name
    ]


def _kw(call: ast.Call, key: str):
    for kw in call.keywords:
        if kw.arg == key:
            return kw.value
    return None


def _our_nodes(tree: ast.AST) -> list[ast.Call]:
    return [n for n in _calls(tree, "Node") if _kw(n, "package").value == "lps_robot"]


def _check_camera_tf(tree: ast.AST) -> None:
    """The launch file adds tf2_ros static transforms for the spec's cameras (the nodes are
    built by lps_robot.ros.tf.camera_transforms, shared by both launch files)."""
    import lps_robot.ros.tf as tf_module

    funcs = [_kw(c, "function").id for c in _calls(tree, "OpaqueFunction")]
    assert funcs == ["camera_transforms"]
    imports = [n for n in ast.walk(tree) if isinstance(n, ast.ImportFrom)]
    assert any(
        n.module == "lps_robot.ros.tf" and [a.name for a in n.names] == ["camera_transforms"]
        for n in imports
    )
    tf_tree = ast.parse(Path(tf_module.__file__).read_text())
    (tf,) = [n for n in _calls(tf_tree, "Node") if _kw(n, "package").value == "tf2_ros"]
    assert _kw(tf, "executable").value == "static_transform_publisher"
    assert any(
        isinstance(n, ast.Name) and n.id == "static_transform_args" for n in ast.walk(tf_tree)
    )


def test_package_xml_and_resources():
    root = ElementTree.parse(PKG / "package.xml").getroot()
    assert root.findtext("name") == "lps_robot"
    assert root.find("export/build_type").text == "ament_python"
    deps = {e.text for e in root.iter("exec_depend")}
    assert {"rclpy", "sensor_msgs", "std_msgs", "std_srvs", "launch_ros", "tf2_ros"} <= deps
    assert (PKG / "resource" / "lps_robot").exists()
    assert "script_dir=$base/lib/lps_robot" in (PKG / "setup.cfg").read_text()


def test_console_scripts_point_at_real_mains():
    scripts = _console_scripts()
    assert {"policy_node", "fake_robot"} <= set(scripts)
    for target in scripts.values():
        module, func = target.split(":")
        assert callable(getattr(importlib.import_module(module), func))


def test_policy_launch_structure():
    src = (PKG / "launch" / "policy.launch.py").read_text()
    tree = ast.parse(src)
    declared = {c.args[0].value for c in _calls(tree, "DeclareLaunchArgument")}
    assert {"policy", "robot_config", "namespace"} <= declared
    used = set(re.findall(r'LaunchConfiguration\("([a-z_]+)"\)', src))
    assert used <= declared, f"undeclared launch arguments: {used - declared}"
    (node,) = _our_nodes(tree)
    _check_camera_tf(tree)
    assert _kw(node, "executable").value in _console_scripts()
    assert _kw(node, "name").value == NODE_NAME
    # parameters the launch file sets are ones the node declares
    for d in [n for n in ast.walk(_kw(node, "parameters")) if isinstance(n, ast.Dict)]:
        for key in d.keys:
            assert key.value in PARAMS, f"launch sets undeclared parameter {key.value}"
    # the config it points at exists and is installed by setup.py
    config = re.search(r'"config", "([a-z_]+\.yaml)"', src).group(1)
    assert (PKG / "config" / config).exists()
    assert '"config/*.yaml"' in (PKG / "setup.py").read_text()


def test_policy_config_matches_the_node():
    data = yaml.safe_load((PKG / "config" / "policy.yaml").read_text())
    params = data["/**"]["ros__parameters"]  # any namespace: a namespaced launch keeps it
    assert set(params) == set(PARAMS)
    for key, value in params.items():
        assert type(value) is PARAMS[key].kind, f"{key}: type differs from the node's"
        assert PARAMS[key].check(value) is None, f"{key}: the shipped value is invalid"


def _declared_parameters(module: str) -> set[str]:
    """Parameter names a node module declares (declare_parameter calls or a PARAMETERS table)."""
    src = Path(importlib.import_module(module).__file__).read_text()
    tree = ast.parse(src)
    names = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Assign) and isinstance(node.value, ast.Dict):
            names |= {k.value for k in node.value.keys if isinstance(k, ast.Constant)}
    return names


def test_record_launch_structure():
    src = (PKG / "launch" / "record.launch.py").read_text()
    tree = ast.parse(src)
    declared = {c.args[0].value for c in _calls(tree, "DeclareLaunchArgument")}
    assert set(re.findall(r'LaunchConfiguration\("([a-z_]+)"\)', src)) <= declared
    scripts = _console_scripts()
    _check_camera_tf(tree)
    for node in _our_nodes(tree):
        exe = _kw(node, "executable").value
        assert exe in scripts
        module = scripts[exe].split(":")[0]
        params = _declared_parameters(module)
        config = None
        for arg in ast.walk(_kw(node, "parameters")):
            if isinstance(arg, ast.Dict):
                assert {k.value for k in arg.keys} <= params
            if isinstance(arg, ast.Constant) and str(arg.value).endswith(".yaml"):
                config = arg.value
        assert config and (PKG / "config" / config).exists()
        data = yaml.safe_load((PKG / "config" / config).read_text())
        (name,) = data
        assert name == "/**"  # applies under any namespace
        assert set(data[name]["ros__parameters"]) <= params
    # camera:=none leaves the camera to a driver already running: only the camera node has
    # a condition, and it names that argument
    (camera,) = [c for c in _calls(tree, "DeclareLaunchArgument") if c.args[0].value == "camera"]
    assert [e.value for e in _kw(camera, "choices").elts] == ["realsense", "none"]
    conditional = [_kw(n, "executable").value for n in _our_nodes(tree) if _kw(n, "condition")]
    assert conditional == ["camera_node"]
    cond = ast.unparse(_kw(_our_nodes(tree)[0], "condition"))
    assert "LaunchConfiguration('camera')" in cond and "== 'realsense'" in cond


def test_process_helpers_know_every_node_by_its_ros_name():
    """`start_node` writes parameters under the ROS node name: it must be the module's own."""
    from lps_robot.cli import NODES
    from lps_robot.ros.procs import NODE_NAMES

    assert set(NODE_NAMES) == set(NODES)
    for which, module in NODES.items():
        source = Path(importlib.util.find_spec(module).origin).read_text()
        name = f'"{NODE_NAMES[which]}"'
        declared = getattr(importlib.import_module(module), "NODE_NAME", None)
        assert f"super().__init__({name})" in source or declared == NODE_NAMES[which], which


def test_ros_entry_points_resolve_whatever_the_path_order(tmp_path):
    """colcon's scripts find their entry point by distribution name: the ROS package's must
    not be the pip package's, so `policy_node` loads even with the pip install first."""
    import importlib.metadata as md
    import subprocess
    import sys

    subprocess.run(
        [sys.executable, "setup.py", "-q", "egg_info", "--egg-base", str(tmp_path)],
        cwd=PKG,
        check=True,
        capture_output=True,
    )
    ros_dists = list(md.distributions(path=[str(tmp_path)]))
    assert [d.metadata["Name"] for d in ros_dists] == ["lps_robot_ros"]
    # the lookup colcon's script does, with the pip distribution first on the path
    dist = md.distribution("lps_robot")
    assert dist.metadata["Name"] == "lps_robot"  # the pip one resolves under its own name
    found = md.distributions(name="lps_robot_ros", path=[*sys.path, str(tmp_path)])
    eps = {ep.name: ep for d in found for ep in d.entry_points if ep.group == "console_scripts"}
    assert set(eps) == set(_console_scripts())
    assert eps["policy_node"].load().__module__ == "lps_robot.ros.controller_node"
    # the ROS package keeps its name for ros2 launch / ros2 run
    assert "<name>lps_robot</name>" in (PKG / "package.xml").read_text()
    assert "install_scripts=$base/lib/lps_robot" in (PKG / "setup.cfg").read_text()
