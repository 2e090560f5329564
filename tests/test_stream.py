"""Training on data bigger than RAM: frames read from the episode files by DataLoader workers
give the same batches, the same uniform sampling and the same resumed stream as in RAM."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from lps_robot.configs import make_config
from lps_robot.data import stream
from lps_robot.data.dataset import ChunkDataset
from lps_robot.data.stream import StreamSampler, plan
from lps_robot.train import load_checkpoint, load_chunks, train_from_dataset
from tests.conftest import small_spec, write_episodes
from tests.test_train import tiny


@pytest.fixture
def dataset(tmp_path):
    lengths = [12, 10, 15, 9, 11]
    write_episodes(tmp_path / "ds", small_spec(), lengths, [True, False, True, False, True])
    return tmp_path / "ds"


def _equal(a: dict, b: dict) -> None:
    assert a.keys() == b.keys()
    for k in a:
        if isinstance(a[k], dict):
            _equal(a[k], b[k])
        else:
            np.testing.assert_array_equal(np.asarray(a[k]), np.asarray(b[k]), err_msg=k)


def test_frames_from_disk_equal_frames_in_ram(dataset):
    ram = ChunkDataset(dataset)
    disk = ChunkDataset(dataset, images="disk", max_open_files=2)  # 5 files through 2 slots
    assert "front" not in disk.obs and disk.frames is not None
    assert disk.ram_bytes() + disk.image_ram_bytes() == ram.ram_bytes()
    starts = np.random.default_rng(1).permutation(ram.starts)
    _equal(disk.chunks(starts), ram.chunks(starts))
    assert len(disk.frames._files) == 2
    disk.cache_frames(dataset.parent / "cache")  # preprocessed once into raw files
    (built,) = (dataset.parent / "cache").iterdir()
    assert (built / "complete.json").is_file() and (built / "front.u8").stat().st_size == (
        disk.image_ram_bytes()
    )
    _equal(disk.chunks(starts), ram.chunks(starts))
    again = ChunkDataset(dataset, images="disk")
    again.cache_frames(dataset.parent / "cache")  # the same dataset: the same cache, reused
    assert again.frames.cache.dir == built and len(list(built.parent.iterdir())) == 1
    disk.load_images()  # the same frames moved into RAM
    assert disk.frames is None
    _equal(disk.chunks(starts), ram.chunks(starts))
    write_episodes(dataset, small_spec(), [8], [True], seed=9)  # the dataset changed
    grown = ChunkDataset(dataset, images="disk")
    grown.cache_frames(dataset.parent / "cache")
    assert grown.frames.cache.dir != built  # a new cache, the old one never read for it
    _equal(grown.chunks(grown.starts), ChunkDataset(dataset).chunks(grown.starts))


def test_streamed_batches_are_the_in_ram_batches_drawn_uniformly(dataset):
    ram = ChunkDataset(dataset)
    disk = ChunkDataset(dataset, images="disk")
    sampler = StreamSampler(disk, plan(disk, 32, 0, workers=2))
    rng_s, rng_r = np.random.default_rng(7), np.random.default_rng(7)
    try:
        for _ in range(5):  # two workers hand their batches back in the order drawn
            _equal(sampler(32, rng_s), ram.sample(32, rng_r))
        with pytest.raises(ValueError, match="one batch size"):
            sampler(16, rng_s)
    finally:
        sampler.close()
    # the draws: uniform over valid chunk starts (chi-square, 99.9 % quantile)
    draws = stream._Draws(ram.starts, 256, np.random.default_rng(3))
    it = iter(draws)
    counts = np.bincount(
        np.searchsorted(ram.starts, np.concatenate([next(it) for _ in range(200)])),
        minlength=len(ram.starts),
    )
    expected = counts.sum() / len(ram.starts)
    chi2 = ((counts - expected) ** 2 / expected).sum()
    assert counts.min() > 0 and chi2 < len(ram.starts) + 4.4 * np.sqrt(2 * len(ram.starts))


def _weights(path) -> dict[str, torch.Tensor]:
    agent, _ = load_checkpoint(path)
    return agent.state_dict()


def test_streamed_training_equals_in_ram_training_across_a_resume(dataset, tmp_path):
    def run(name: str, steps: int, **extra):
        cfg = tiny(dataset, tmp_path / name, steps=steps, ckpt_every=4, threads=1, **extra)
        train_from_dataset(cfg)
        return tmp_path / name / "final.safetensors"

    halfway = {}
    runs = [("ram", {}), ("stream", {"data_stream": True, "data_workers": 2})]
    runs += [("stream0", {"data_stream": True, "data_workers": 0, "frame_cache": "none"})]
    for name, extra in runs:
        halfway[name] = _weights(run(name, 4, **extra))
        run(name, 8, resume=True, **extra)
    _same(halfway["stream"], halfway["ram"])
    _same(halfway["stream0"], halfway["ram"])  # read by the training process, no cache
    final = _weights(tmp_path / "stream" / "final.safetensors")
    _same(final, _weights(tmp_path / "ram" / "final.safetensors"))
    _same(_weights(tmp_path / "stream0" / "final.safetensors"), final)
    assert any(not torch.equal(final[k], halfway["stream"][k]) for k in final)  # it trained on


def _same(a: dict, b: dict) -> None:
    assert a.keys() == b.keys()
    for k in a:
        torch.testing.assert_close(a[k], b[k], rtol=0, atol=0, msg=k)


def test_a_memory_cap_streams_only_what_does_not_fit(dataset):
    base = {"dataset": str(dataset), "progress": False}
    need = ChunkDataset(dataset).ram_bytes() / (1 << 20)
    assert load_chunks(make_config(overrides=base)).frames is None  # no cap: in RAM
    roomy = make_config(overrides={**base, "data_memory_mb": 2 * need})
    assert load_chunks(roomy).frames is None
    data = load_chunks(make_config(overrides={**base, "data_memory_mb": need / 2}))
    assert data.frames is not None
    with pytest.raises(ValueError, match=r"data_memory_mb: .* cannot stream this dataset"):
        plan(data, 16, need / 2, workers=1)  # too small for one batch and four open files
    p = plan(data, 16, 300, workers=2)
    assert p.prefetch >= 1 and p.open_files >= stream.MIN_OPEN_FILES
    per_worker = stream.WORKER_MB + 2 * p.prefetch * p.batch_mb + p.open_files * 1.0
    assert 2 * per_worker + p.index_mb <= 300
    with pytest.raises(ValueError, match="data_workers"):
        make_config(overrides={**base, "data_workers": -1})
    with pytest.raises(ValueError, match="data_memory_mb"):
        make_config(overrides={**base, "data_memory_mb": -1})


def test_a_lerobot_dataset_trains_in_place_as_its_import_does(tmp_path):
    """A LeRobot v3 dataset trains straight from its parquet and video files: its chunks are
    those of the same dataset imported (frames decoded by the same decoder), in RAM and
    streamed through the frame cache (each video decoded once), and training gives the
    imported dataset's weights bit for bit; no episode file is written."""
    from lps_robot.data.lerobot import export_lerobot, import_lerobot
    from lps_robot.data.lerobot.source import lerobot_episodes
    from lps_robot.data.reader import DataError
    from lps_robot.spec import Spec

    spec = small_spec()
    write_episodes(tmp_path / "ds", spec, [12, 10, 15, 9], [True, False, True, False])
    export_lerobot(tmp_path / "ds", tmp_path / "lr")
    spec.save(tmp_path / "robot.yaml")
    import_lerobot(tmp_path / "lr", spec, tmp_path / "imported")
    lerobot = lerobot_episodes(tmp_path / "lr", Spec.load(tmp_path / "robot.yaml"))
    assert not lerobot.frame_by_frame and len(lerobot.refs) == 4
    imported = ChunkDataset(tmp_path / "imported")
    starts = np.random.default_rng(2).permutation(imported.starts)
    _equal(ChunkDataset(lerobot).chunks(starts), imported.chunks(starts))
    disk = ChunkDataset(lerobot, images="disk")
    with pytest.raises(DataError, match="frame cache"):
        disk.chunks(starts[:2])
    disk.cache_frames(tmp_path / "cache")
    _equal(disk.chunks(starts), imported.chunks(starts))

    def run(name: str, **extra):
        cfg = tiny(tmp_path / name, tmp_path / f"run_{name}", steps=4, threads=1, **extra)
        train_from_dataset(cfg)
        return _weights(tmp_path / f"run_{name}" / "final.safetensors")

    spec_file = str(tmp_path / "robot.yaml")
    streamed = run("lr", spec=spec_file, data_stream=True)
    _same(streamed, run("imported"))
    assert list((tmp_path / "run_lr" / "frame_cache").iterdir())
    assert not list(tmp_path.glob("lr/**/*.h5")) and not list(tmp_path.glob("run_lr/**/*.h5"))
    with pytest.raises(ValueError, match="spec: .* carries no lps_robot spec"):
        run("lr")
    with pytest.raises(ValueError, match="frame_cache: 'none'"):
        run("lr", spec=spec_file, frame_cache="none")
    with pytest.raises(ValueError, match="--spec is for a LeRobot dataset only"):
        run("imported", spec=spec_file)
