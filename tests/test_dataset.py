"""Chunk sampling: chunks never cross episode boundaries; masks, rewards and next obs line up."""

from __future__ import annotations

import numpy as np
import pytest

from lps_robot.data.dataset import ChunkDataset, valid_starts
from lps_robot.preprocess import denormalize_action
from tests.conftest import small_spec, write_episodes


def test_valid_starts_respect_boundaries():
    # episode A: 5 steps, terminal; B: 4 steps, timeout; C: 2 steps (too short for h=3)
    starts = valid_starts(np.array([5, 4, 2]), np.array([True, False, True]), h=3)
    # A: chunk may end on the terminal step (starts 0..2); B: needs s_{t+h} (starts 0 only)
    assert starts.tolist() == [0, 1, 2, 5]


def test_chunks_line_up_with_the_file(tmp_path):
    spec = small_spec(chunk_length=3)
    written = write_episodes(tmp_path, spec, [5, 4, 2], [True, False, True], seed=3)
    ds = ChunkDataset(tmp_path)
    assert ds.starts.tolist() == [0, 1, 2, 5]
    batch = ds.chunks(ds.starts)
    a_raw = denormalize_action(batch["actions"], ds.spec)
    np.testing.assert_allclose(a_raw[0], written[0]["actions"][0:3], atol=1e-5)
    np.testing.assert_allclose(a_raw[3], written[1]["actions"][0:3], atol=1e-5)
    # the chunk ending on A's terminal step has mask 0; the others bootstrap
    assert batch["masks"].tolist() == [1.0, 1.0, 0.0, 1.0]
    np.testing.assert_array_equal(batch["rewards"][2], [-1, -1, 0])
    # next obs is s_{t+h}, inside the same episode
    np.testing.assert_array_equal(batch["next_obs"]["joint_pos"][0], written[0]["joint_pos"][3])
    np.testing.assert_array_equal(batch["next_obs"]["joint_pos"][3], written[1]["joint_pos"][3])
    # images are preprocessed to spec.obs.image_size, uint8
    assert batch["obs"]["front"].shape == (4, 16, 16, 3)
    assert batch["obs"]["front"].dtype == np.uint8


def test_sampling_never_crosses_episodes(tmp_path):
    spec = small_spec(chunk_length=4)
    write_episodes(tmp_path, spec, [6, 9, 4, 7], [False, True, True, False])
    ds = ChunkDataset(tmp_path)
    b = ds.sample(512, np.random.default_rng(0))
    starts = ds.starts
    sampled = np.random.default_rng(0).choice(starts, size=512)
    ep = ds.episode_of
    assert (ep[sampled] == ep[sampled + 3]).all()
    assert np.abs(b["actions"]).max() <= 1 - 1e-5


def test_stats_computed_once_and_stored(tmp_path):
    write_episodes(tmp_path, small_spec(), [6, 6], [True, False])
    ds = ChunkDataset(tmp_path)
    stats = ds.spec.stats
    assert stats is not None and (tmp_path / "stats.json").exists()
    proprio = ds.obs["joint_pos"]
    np.testing.assert_allclose(stats.proprio_mean, proprio.mean(0), rtol=1e-5)
    assert all(lo < hi for lo, hi in zip(ds.spec.action.low, ds.spec.action.high, strict=True))
    assert ChunkDataset(tmp_path).spec == ds.spec  # second load reuses the stored stats


def test_too_short_dataset_is_refused(tmp_path):
    write_episodes(tmp_path, small_spec(chunk_length=3), [2], [False])
    with pytest.raises(ValueError, match="no episode is long enough"):
        ChunkDataset(tmp_path)


def test_joint_delta_chunks_are_relative_to_the_first_observation(tmp_path):
    import dataclasses

    spec = small_spec(chunk_length=3)
    written = write_episodes(tmp_path, spec, [6, 7], [True, False], seed=5)
    delta = spec.replace(action=dataclasses.replace(spec.action, type="joint_delta"))
    ds = ChunkDataset(tmp_path, spec=delta)
    assert ds.spec.action.type == "joint_delta"
    batch = ds.chunks(np.array([1]))
    got = denormalize_action(batch["actions"][0], ds.spec)
    want = written[0]["actions"][1:4] - written[0]["joint_pos"][1]
    np.testing.assert_allclose(got, want, atol=1e-4)
    # bounds are fitted on the relative chunks, and cached separately from absolute ones
    absolute = ChunkDataset(tmp_path)
    assert absolute.spec.action.low != ds.spec.action.low
    assert ChunkDataset(tmp_path, spec=delta).spec == ds.spec


def test_reference_reward_convention_on_hand_made_episodes(tmp_path):
    """Success-only; r = -1 per step, 0 over the last h; masks 0 over the last h steps."""
    spec = small_spec(chunk_length=2)
    write_episodes(tmp_path, spec, [5, 4], [True, False], seed=1)
    ds = ChunkDataset(tmp_path, rewards="reference")
    assert ds.lengths.tolist() == [5]  # the failure is dropped
    np.testing.assert_array_equal(ds.rewards, [-1, -1, -1, 0, 0])
    np.testing.assert_array_equal(ds.step_masks, [1, 1, 1, 0, 0])
    batch = ds.chunks(ds.starts)
    assert ds.starts.tolist() == [0, 1, 2, 3]  # every chunk inside the episode
    assert batch["masks"].tolist() == [1.0, 1.0, 0.0, 0.0]  # product over the chunk
    np.testing.assert_array_equal(batch["rewards"], [[-1, -1], [-1, -1], [-1, 0], [0, 0]])
    kept = ChunkDataset(tmp_path, rewards="reference", keep_failures=True, failure_penalty=-50)
    assert kept.lengths.tolist() == [5, 4]
    np.testing.assert_array_equal(kept.rewards[5:], [-1, -1, -1, -50])
    # a failure stops bootstrapping only at its end: chunks before it still see the penalty
    np.testing.assert_array_equal(kept.step_masks[5:], [1, 1, 1, 0])
    with pytest.raises(ValueError, match="rewards: expected one of"):
        ChunkDataset(tmp_path, rewards="sparse")


def test_resident_sampler_matches_the_dataset(tmp_path):
    """Device-built batches (here on the CPU) equal the numpy path's for the same chunks."""
    import torch

    from lps_robot.data.resident import ResidentSampler

    spec = small_spec(chunk_length=3)
    write_episodes(tmp_path, spec, [6, 5, 7], [True, False, True], seed=2)
    ds = ChunkDataset(tmp_path)
    sampler = ResidentSampler(ds, "cpu")
    j = torch.tensor([0, 3, len(ds.starts) - 1, 1])
    got = sampler.batch_at(j)
    want = ds.chunks(ds.starts[j.numpy()])
    for key in ("actions", "rewards", "masks"):
        np.testing.assert_allclose(got[key].numpy(), want[key], rtol=0, atol=1e-7)
    for part in ("obs", "next_obs"):
        for key, value in want[part].items():
            np.testing.assert_array_equal(got[part][key].numpy(), value)
    batch = sampler(8, np.random.default_rng(0))
    assert batch["actions"].shape == (8, 3, 3) and batch["obs"]["front"].dtype == torch.uint8
