"""The training dataset: action chunks of length h sampled only inside one episode.

For a start index t the sample holds the observation s_t, the normalised action chunk
a_{t:t+h} (clipped to +-(1 - 1e-5); for ``joint_delta`` specs relative to the joint positions
of s_t), the rewards r_{t:t+h}, the bootstrap mask
m = 1 - terminal_{t+h-1} and the next observation s_{t+h}. A start is valid when the whole
chunk lies inside the episode and s_{t+h} exists, or when the chunk ends on a terminal step
(then m = 0 and s_{t+h} is a placeholder copy of the last step). Chunks that end on a timeout
with no following observation are dropped: their bootstrap target is unknown.

Reward conventions (``rewards``): ``recorded`` uses the episode's stored rewards and
terminals (by default -1 per step, 0 on the last step of a success; failures kept and their
timeouts bootstrapped). ``reference`` is the LPS reference's real-robot convention: only
successful episodes, r = -1 per step and 0 over the last h steps, per-step masks 0 over the
last h steps (a chunk's mask is the product of its steps' masks); with ``keep_failures`` a
failed episode stays with r = -1 per step, ``failure_penalty`` on its last step and mask 0 on
that step only.
"""

from __future__ import annotations

import contextlib
from pathlib import Path

import numpy as np

from lps_robot.data import stats as stats_mod
from lps_robot.data.episodes import Episodes, hdf5_episodes
from lps_robot.data.frame_cache import FrameCache, cache_key, preprocessed_frames
from lps_robot.data.frames import DiskFrames
from lps_robot.data.reader import DataError
from lps_robot.preprocess import ACTION_CLIP, Preprocessor, normalize_action
from lps_robot.spec import Spec

REWARD_CONVENTIONS = ("recorded", "reference")
IMAGE_PLACES = ("ram", "disk")


def reference_rewards(
    n: int, h: int, success: bool, failure_penalty: float
) -> tuple[np.ndarray, np.ndarray]:
    """(rewards, masks) of an n-step episode under the reference's real-robot convention.

    A kept failure has its mask 0 on the last step only: zeroing the last h masks as for a
    success would cut the bootstrap of the chunks just before the end without giving them
    the penalty, so states a moment before a failure would look almost as good as the goal
    (measured: with short failed attempts the critic preferred the failing branch)."""
    r = np.full(n, -1.0, np.float32)
    m = np.ones(n, np.float32)
    if success:
        r[-h:] = 0.0
        m[-h:] = 0.0
    else:
        r[-1] = failure_penalty
        m[-1] = 0.0
    return r, m


def valid_starts(lengths: np.ndarray, terminal_last: np.ndarray, h: int) -> np.ndarray:
    """Global start indices of chunks that lie inside one episode (see module doc)."""
    starts = []
    offset = 0
    for n, term in zip(lengths.tolist(), terminal_last.tolist(), strict=True):
        last = n - h if term else n - h - 1  # last valid local start
        if last >= 0:
            starts.append(offset + np.arange(last + 1))
        offset += n
    return np.concatenate(starts) if starts else np.zeros(0, np.int64)


class ChunkDataset:
    """Episodes sampled as chunks. Everything but the camera frames is held in RAM; the
    frames are too (preprocessed) with ``images="ram"``, or read per batch with
    ``images="disk"`` (`DiskFrames`: from the episode files, or from a `FrameCache` once
    `cache_frames` made one; `load_images` moves them into RAM instead). ``path``: a
    dataset of ours, or `Episodes` opened already (a LeRobot dataset with its spec)."""

    def __init__(
        self,
        path: str | Path | Episodes,
        chunk_length: int | None = None,
        spec: Spec | None = None,
        max_episodes: int | None = None,
        preprocessor: Preprocessor | None = None,
        rewards: str = "recorded",
        keep_failures: bool = False,
        failure_penalty: float = -100.0,
        images: str = "ram",
        max_open_files: int = 64,
    ) -> None:
        if rewards not in REWARD_CONVENTIONS:
            raise ValueError(f"rewards: expected one of {REWARD_CONVENTIONS}, got {rewards!r}")
        if images not in IMAGE_PLACES:
            raise ValueError(f"images: expected one of {IMAGE_PLACES}, got {images!r}")
        self.episodes = episodes = path if isinstance(path, Episodes) else hdf5_episodes(path)
        self.path = path = episodes.path
        self.convention = rewards
        stored = episodes.spec
        spec = spec or stored
        self.h = chunk_length or spec.policy.chunk_length
        refs = episodes.refs[:max_episodes]
        if not refs:
            raise ValueError(f"{path}: no episodes to train on")
        self._pre = pre = preprocessor or Preprocessor(stored)
        in_ram = spec.obs.image_keys if images == "ram" else ()
        obs_keys = (*in_ram, *spec.obs.proprio_keys)
        obs: dict[str, list[np.ndarray]] = {k: [] for k in obs_keys}
        actions, rew, terminals, masks, lengths, success = [], [], [], [], [], []
        self.refs: list = []  # the episodes kept, in order
        for ref in refs:
            try:
                ep = ref.load(keys=obs_keys)
            except (OSError, KeyError, ValueError) as e:
                raise DataError(
                    f"{ref}: cannot read the episode "
                    f"(corrupt or incomplete; `lps data validate` lists every problem): {e}"
                ) from e
            ok = bool(ep["attrs"].get("success", False))
            n = len(ep["actions"])
            if rewards == "reference":
                if not ok and not keep_failures:
                    continue
                r, m = reference_rewards(n, self.h, ok, failure_penalty)
                term = np.zeros(n, bool)
                term[-1] = True  # every chunk inside the episode is usable (mask 0 at the end)
            else:
                r = ep["rewards"].astype(np.float32)
                term = ep["terminals"].astype(bool)
                m = np.ones(n, np.float32)
            for k in in_ram:
                obs[k].append(pre.batch_images(k, ep[f"obs/{k}"]))
            for k in spec.obs.proprio_keys:
                obs[k].append(ep[f"obs/{k}"].astype(np.float32))
            actions.append(ep["actions"].astype(np.float32))
            rew.append(r)
            terminals.append(term)
            masks.append(m)
            lengths.append(n)
            success.append(ok)
            self.refs.append(ref)
        if not lengths:
            raise ValueError(f"{path}: no successful episode to train on (rewards=reference)")
        self.obs = {k: np.concatenate(v) for k, v in obs.items()}
        self.raw_actions = np.concatenate(actions)
        self.rewards = np.concatenate(rew)
        self.terminals = np.concatenate(terminals)
        self.step_masks = np.concatenate(masks)
        self.lengths = np.asarray(lengths)
        self.frames: DiskFrames | None = None
        if images == "disk" and spec.obs.image_keys:
            self.frames = DiskFrames(
                self.refs, self.lengths, spec.obs.image_keys, pre, spec.obs.image_size,
                max_open_files, episodes.frame_by_frame,
            )  # fmt: skip
        self.episode_success = np.asarray(success)
        self.ends = np.cumsum(self.lengths)  # exclusive end index of each episode
        self.episode_of = np.repeat(np.arange(len(lengths)), self.lengths)
        term_last = np.array([t[-1] for t in terminals])
        self.starts = valid_starts(self.lengths, term_last, self.h)
        if len(self.starts) == 0:
            raise ValueError(f"{path}: no episode is long enough for chunks of length {self.h}")
        self.relative = spec.action.type == "joint_delta"
        if self.relative and "joint_pos" not in self.obs:
            raise ValueError("action.type joint_delta needs the 'joint_pos' proprio key")
        if spec.stats is None:
            spec = self._fit(spec)
        self.spec = spec

    def _fit(self, spec: Spec) -> Spec:
        """Stats are computed once per dataset and cached in a sidecar JSON beside it."""
        fp = f"{stats_mod.fingerprint(self.episodes.files())}-{spec.action.type}-h{self.h}"
        sidecar = self.episodes.stats_sidecar
        cached = stats_mod.load_cached(sidecar, fp)
        if cached is not None and cached.replace(stats=None, action=spec.action) == spec:
            return cached
        proprio = np.concatenate([self.obs[k] for k in spec.obs.proprio_keys], axis=1)
        actions = self._raw_chunks(self.starts).reshape(-1, spec.action.dim)
        fitted = stats_mod.fit_spec(spec, proprio, actions)
        # a read-only dataset still trains; the stats then live in the checkpoint only
        with contextlib.suppress(OSError):
            stats_mod.store(sidecar, fp, fitted)
        return fitted

    def __len__(self) -> int:
        return len(self.starts)

    def image_ram_bytes(self) -> int:
        """What the camera frames take (or would take) in RAM, preprocessed."""
        h, w = self.spec.obs.image_size
        return int(self.lengths.sum()) * h * w * 3 * len(self.spec.obs.image_keys)

    def ram_bytes(self) -> int:
        """What this dataset holds in RAM now (arrays only)."""
        arrays = [*self.obs.values(), self.raw_actions, self.rewards, self.terminals]
        arrays += [self.step_masks, self.starts, self.episode_of, self.ends]
        return sum(a.nbytes for a in arrays)

    def load_images(self) -> None:
        """Read every frame into RAM (preprocessed); sampling no longer touches the files."""
        if self.frames is None:
            return
        keys = self.spec.obs.image_keys
        episodes = list(preprocessed_frames(self.refs, keys, self._pre))
        self.obs |= {k: np.concatenate([ep[k] for ep in episodes]) for k in keys}
        self.frames.close()
        self.frames = None

    def cache_frames(self, root: str | Path, progress: bool = False) -> None:
        """Read the frames from a `FrameCache` under ``root`` (written first if missing)."""
        if self.frames is None:
            return
        keys, size = self.spec.obs.image_keys, self.spec.obs.image_size
        key = cache_key(self.episodes.files(), self.refs, keys, size)
        self.frames.cache = FrameCache.open_or_build(
            Path(root), key, self.refs, keys, self._pre, size, progress
        )

    def _obs_at(self, idx: np.ndarray) -> dict[str, np.ndarray]:
        out = {k: v[idx] for k, v in self.obs.items()}
        if self.frames is not None:
            out |= {k: self.frames.read(k, idx) for k in self.frames.keys}
        return out

    def _raw_chunks(self, starts: np.ndarray) -> np.ndarray:
        """(B, h, A) actions in raw units; relative to joint_pos at the start for joint_delta."""
        idx = starts[:, None] + np.arange(self.h)[None, :]
        chunk = self.raw_actions[idx]
        if self.relative:
            chunk = chunk - self.obs["joint_pos"][starts][:, None, :]
        return chunk

    def targets(self, starts: np.ndarray) -> dict[str, np.ndarray]:
        """Everything but the observations for given valid starts: normalised actions,
        rewards, masks and the index of s' (``next_idx``)."""
        starts = np.asarray(starts)
        idx = starts[:, None] + np.arange(self.h)[None, :]
        ep_end = self.ends[self.episode_of[starts]]
        return {
            "actions": np.clip(
                normalize_action(self._raw_chunks(starts), self.spec), -ACTION_CLIP, ACTION_CLIP
            ),
            "rewards": self.rewards[idx],
            "masks": (
                self.step_masks[idx].prod(axis=1)
                if self.convention == "reference"
                else 1.0 - self.terminals[idx[:, -1]].astype(np.float32)
            ),
            "next_idx": np.minimum(starts + self.h, ep_end - 1),
        }

    def chunks(self, starts: np.ndarray) -> dict[str, object]:
        """The samples for given global start indices (each must be a valid start)."""
        starts = np.asarray(starts)
        out: dict[str, object] = dict(self.targets(starts))
        next_idx = out.pop("next_idx")
        out["obs"] = self._obs_at(starts)
        out["next_obs"] = self._obs_at(next_idx)
        return out

    def sample(self, batch_size: int, rng: np.random.Generator) -> dict[str, object]:
        return self.chunks(rng.choice(self.starts, size=batch_size))
