"""One preprocessing path: recording, training and the node agree bit for bit."""

from __future__ import annotations

import numpy as np
from sensor_msgs.msg import Image

from lps_robot.data.dataset import ChunkDataset
from lps_robot.data.writer import DatasetWriter
from lps_robot.messages import image_to_rgb, rgb_to_image
from lps_robot.preprocess import Preprocessor, denormalize_action, normalize_action
from lps_robot.sim.env import SimArmEnv, sim_spec


def test_recorder_trainer_and_node_see_the_same_pixels(tmp_path):
    spec = sim_spec()
    env = SimArmEnv(spec, render=True)
    raw = [env.reset(seed=s) for s in range(4)]
    env.close()
    # recorder: a ROS Image from the camera, converted and written raw to HDF5
    ep = DatasetWriter(tmp_path, spec).begin_episode()
    for i, obs in enumerate(raw):
        frame = image_to_rgb(rgb_to_image(obs["front"], Image), 128, 128)
        proprio = {k: obs[k] for k in spec.obs.proprio_keys}
        ep.append({"front": frame, **proprio}, obs["joint_pos"], timestamp=i)
    ep.finish(success=False)
    trained = ChunkDataset(tmp_path, chunk_length=1).obs["front"]
    # node: the same ROS Image through the node's conversion and the shared Preprocessor
    pre = Preprocessor(spec)
    for i, obs in enumerate(raw):
        node_view = pre.images["front"](image_to_rgb(rgb_to_image(obs["front"], Image), 128, 128))
        assert node_view.shape == (48, 48, 3) and node_view.dtype == np.uint8
        np.testing.assert_array_equal(node_view, trained[i])


def test_bgr_frames_are_converted_once():
    rgb = np.random.default_rng(0).integers(0, 256, (4, 5, 3), dtype=np.uint8)
    msg = rgb_to_image(rgb[..., ::-1], Image)
    msg.encoding = "bgr8"
    np.testing.assert_array_equal(image_to_rgb(msg, 5, 4), rgb)


def test_action_scaling_round_trips():
    spec = sim_spec()
    a = np.random.default_rng(1).uniform(spec.action.low, spec.action.high).astype(np.float32)
    np.testing.assert_allclose(denormalize_action(normalize_action(a, spec), spec), a, atol=1e-5)
