"""Leader-arm teleoperation (ALOHA / GELLO style): a leader arm's joint states mapped onto
the follower's joints, each with its own leader joint, offset, scale and sign, from YAML::

    joints:
      shoulder_pan: {leader: joint1, scale: 1.0, offset: 0.0}
      gripper:      {leader: gripper, scale: -0.05, offset: 0.05}

target = offset + scale * leader_position (a negative scale flips the sign). A follower joint
the file does not name follows the leader joint of the same name, unscaled.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import yaml

from lps_robot.dcio import ConfigError


@dataclass(frozen=True)
class JointMap:
    leader: str
    scale: float = 1.0
    offset: float = 0.0


class LeaderMap:
    def __init__(self, follower: Sequence[str], maps: dict[str, JointMap] | None = None) -> None:
        maps = maps or {}
        unknown = set(maps) - set(follower)
        if unknown:
            raise ConfigError(
                f"joints: {sorted(unknown)} are not follower joints {list(follower)}"
            )
        self.follower = tuple(follower)
        self.maps = [maps.get(j, JointMap(j)) for j in self.follower]
        for j, m in zip(self.follower, self.maps, strict=True):
            if not (np.isfinite(m.scale) and np.isfinite(m.offset) and m.scale != 0):
                raise ConfigError(f"joints.{j}: expected a finite, non-zero scale and offset")

    @classmethod
    def load(cls, follower: Sequence[str], path: str | Path | None) -> LeaderMap:
        if not path:
            return cls(follower)
        try:
            data = yaml.safe_load(Path(path).read_text()) or {}
            entries = data.get("joints", {})
            maps = {j: JointMap(**spec) for j, spec in entries.items()}
        except (OSError, yaml.YAMLError, TypeError, AttributeError) as e:
            raise ConfigError(
                f"{path}: expected 'joints: {{name: {{leader, scale, offset}}}}' ({e})"
            ) from None
        try:
            return cls(follower, maps)
        except ConfigError as e:
            raise ConfigError(f"{path}: {e}") from None

    def __call__(self, names: Sequence[str], positions: Sequence[float]) -> np.ndarray | None:
        """Follower targets from one leader joint-state message; None when a mapped leader
        joint is missing or a value is not finite."""
        index = {n: i for i, n in enumerate(names)}
        out = []
        for m in self.maps:
            i = index.get(m.leader)
            if i is None or i >= len(positions) or not np.isfinite(positions[i]):
                return None
            out.append(m.offset + m.scale * float(positions[i]))
        return np.asarray(out)
