"""The one preprocessing path: recorder previews, the trainer and the controller node call this.

Images: native uint8 RGB -> undistort (when a calibration is given) -> crop -> resize to
``spec.obs.image_size`` (uint8; float conversion happens inside the model). Proprio: each key
as float32. Actions: raw units <-> [-1, 1] through ``spec.action`` bounds.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

import numpy as np

from lps_robot.spec import CameraSpec, ObsSpec, Spec

ACTION_CLIP = 1.0 - 1e-5  # normalised training targets stay strictly inside (-1, 1)


@dataclass(frozen=True)
class CameraCalibration:
    """Pinhole intrinsics + distortion (ROS camera_info: plumb_bob / rational_polynomial)."""

    width: int
    height: int
    camera_matrix: tuple[float, ...]  # K, row-major 3x3
    distortion: tuple[float, ...]  # D (k1, k2, p1, p2, k3, ...)

    def k(self) -> np.ndarray:
        return np.asarray(self.camera_matrix, np.float64).reshape(3, 3)


class ImagePreprocessor:
    """Undistort -> crop -> resize for one camera; undistortion maps are built once."""

    def __init__(
        self, camera: CameraSpec, obs: ObsSpec, calibration: CameraCalibration | None = None
    ) -> None:
        import cv2  # lazy: only image users need OpenCV

        self._cv2 = cv2
        self.camera = camera
        self.out_hw = tuple(obs.image_size)
        self.crop = obs.crop
        self._maps = None
        if calibration is not None:
            if (calibration.width, calibration.height) != (camera.width, camera.height):
                raise ValueError(
                    f"calibration for camera '{camera.name}': expected "
                    f"{camera.width}x{camera.height}, got {calibration.width}x{calibration.height}"
                )
            k = calibration.k()
            d = np.asarray(calibration.distortion, np.float64)
            self._maps = cv2.initUndistortRectifyMap(
                k, d, None, k, (camera.width, camera.height), cv2.CV_16SC2
            )

    def __call__(self, image: np.ndarray) -> np.ndarray:
        cam = self.camera
        if image.shape != (cam.height, cam.width, 3) or image.dtype != np.uint8:
            raise ValueError(
                f"image '{cam.name}': expected uint8 ({cam.height}, {cam.width}, 3), "
                f"got {image.dtype} {image.shape}"
            )
        cv2 = self._cv2
        if self._maps is not None:
            image = cv2.remap(image, *self._maps, interpolation=cv2.INTER_LINEAR)
        if self.crop is not None:
            x, y, w, h = self.crop
            image = image[y : y + h, x : x + w]
        h, w = self.out_hw
        if image.shape[:2] != (h, w):
            image = cv2.resize(image, (w, h), interpolation=cv2.INTER_AREA)
        return np.ascontiguousarray(image)


class Preprocessor:
    """Raw observation dict (native images, proprio vectors) -> model inputs, per spec."""

    def __init__(
        self, spec: Spec, calibrations: Mapping[str, CameraCalibration] | None = None
    ) -> None:
        calibrations = calibrations or {}
        self.spec = spec
        self.images = {
            k: ImagePreprocessor(spec.camera(k), spec.obs, calibrations.get(k))
            for k in spec.obs.image_keys
        }

    def __call__(self, raw: Mapping[str, np.ndarray]) -> dict[str, np.ndarray]:
        out = {k: fn(raw[k]) for k, fn in self.images.items()}
        for key, dim in zip(self.spec.obs.proprio_keys, self.spec.obs.proprio_dims, strict=True):
            v = np.asarray(raw[key], np.float32).reshape(-1)
            if v.shape != (dim,):
                raise ValueError(f"proprio '{key}': expected shape ({dim},), got {v.shape}")
            out[key] = v
        return out

    def batch_images(self, key: str, frames: np.ndarray) -> np.ndarray:
        """Preprocess a (T, H, W, 3) stream of one camera (training-time loading)."""
        fn = self.images[key]
        h, w = self.spec.obs.image_size
        out = np.empty((len(frames), h, w, 3), np.uint8)
        for i, frame in enumerate(frames):
            out[i] = fn(frame)
        return out


def normalize_action(action: np.ndarray, spec: Spec) -> np.ndarray:
    low = np.asarray(spec.action.low, np.float32)
    high = np.asarray(spec.action.high, np.float32)
    return (2.0 * (np.asarray(action, np.float32) - low) / (high - low) - 1.0).astype(np.float32)


def denormalize_action(action: np.ndarray, spec: Spec) -> np.ndarray:
    low = np.asarray(spec.action.low, np.float32)
    high = np.asarray(spec.action.high, np.float32)
    return ((np.asarray(action, np.float32) + 1.0) * 0.5 * (high - low) + low).astype(np.float32)
