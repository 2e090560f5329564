"""Camera intrinsics from checkerboard images with OpenCV."""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

from lps_robot.preprocess import CameraCalibration


def board_points(cols: int, rows: int, square: float) -> np.ndarray:
    """Inner-corner coordinates of a cols x rows checkerboard in its own plane (metres)."""
    grid = np.zeros((rows * cols, 3), np.float32)
    grid[:, :2] = np.mgrid[0:cols, 0:rows].T.reshape(-1, 2) * square
    return grid


def calibrate(
    images: Sequence[np.ndarray], cols: int, rows: int, square: float
) -> tuple[CameraCalibration, float, int]:
    """(calibration, RMS reprojection error in px, images used); RGB or gray uint8 images."""
    import cv2

    if not images:
        raise ValueError("calibrate: no images given")
    obj, img_pts = [], []
    h, w = images[0].shape[:2]
    crit = (cv2.TERM_CRITERIA_EPS + cv2.TERM_CRITERIA_MAX_ITER, 50, 1e-4)
    for img in images:
        if img.shape[:2] != (h, w):
            raise ValueError(f"calibrate: image sizes differ ({img.shape[:2]} vs {(h, w)})")
        gray = cv2.cvtColor(img, cv2.COLOR_RGB2GRAY) if img.ndim == 3 else img
        found, corners = cv2.findChessboardCorners(
            gray, (cols, rows), cv2.CALIB_CB_ADAPTIVE_THRESH | cv2.CALIB_CB_NORMALIZE_IMAGE
        )
        if not found:
            continue
        corners = cv2.cornerSubPix(gray, corners, (5, 5), (-1, -1), crit)
        obj.append(board_points(cols, rows, square))
        img_pts.append(corners)
    if len(obj) < 3:
        raise ValueError(
            f"calibrate: the {cols}x{rows} board was found in {len(obj)} images, need >= 3"
        )
    rms, k, d, _, _ = cv2.calibrateCamera(obj, img_pts, (w, h), None, None)
    cal = CameraCalibration(w, h, tuple(k.reshape(-1).tolist()), tuple(d.reshape(-1)[:5].tolist()))
    return cal, float(rms), len(obj)
