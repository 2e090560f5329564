"""Calibration: checkerboards rendered with known intrinsics and distortion are recovered, the
camera_info YAML round-trips, and preprocessing undistorts with it."""

from __future__ import annotations

import cv2
import numpy as np
import pytest

from lps_robot.calib.camera_info import load_camera_info, save_camera_info
from lps_robot.calib.intrinsics import calibrate
from lps_robot.cli import main as lps
from lps_robot.preprocess import CameraCalibration, ImagePreprocessor
from lps_robot.spec import CameraSpec, ObsSpec

W, H = 640, 480
K = np.array([[520.0, 0, 318.0], [0, 515.0, 242.0], [0, 0, 1]])
D = np.array([-0.18, 0.06, 0.001, -0.0005, 0.0])
COLS, ROWS, SQUARE = 9, 6, 0.03


def render_board(rvec, tvec, samples: int = 2) -> np.ndarray:
    """What a camera with (K, D) sees of the board at pose (rvec, tvec), supersampled."""
    acc = np.zeros((H, W), np.float64)
    offs = (np.arange(samples) + 0.5) / samples - 0.5
    r, _ = cv2.Rodrigues(np.asarray(rvec, np.float64))
    h_inv = np.linalg.inv(np.column_stack([r[:, 0], r[:, 1], tvec]))
    for dy in offs:
        for dx in offs:
            uu, vv = np.meshgrid(np.arange(W) + dx, np.arange(H) + dy)
            pix = np.stack([uu.ravel(), vv.ravel()], -1).astype(np.float64)[:, None, :]
            norm = cv2.undistortPoints(pix, K, D).reshape(-1, 2)  # where each pixel looks
            p = h_inv @ np.vstack([norm.T, np.ones(len(norm))])
            a, b = p[0] / p[2], p[1] / p[2]
            inside = (a > -SQUARE) & (a < COLS * SQUARE) & (b > -SQUARE) & (b < ROWS * SQUARE)
            dark = ((np.floor(a / SQUARE) + np.floor(b / SQUARE)) % 2 == 0) & inside
            acc += np.where(dark, 30.0, 225.0).reshape(H, W)
    return (acc / samples**2).astype(np.uint8)


def poses(n: int, seed: int = 0):
    rng = np.random.default_rng(seed)
    center = np.array([(COLS - 1) * SQUARE / 2, (ROWS - 1) * SQUARE / 2, 0])
    for _ in range(n):
        rvec = rng.uniform(-0.45, 0.45, 3) * [1, 1, 0.5]
        r, _ = cv2.Rodrigues(rvec)
        t = np.array([rng.uniform(-0.06, 0.06), rng.uniform(-0.05, 0.05), rng.uniform(0.35, 0.5)])
        yield rvec, t - r @ center


@pytest.fixture(scope="module")
def images():
    return [render_board(r, t) for r, t in poses(12)]


def test_calibration_recovers_known_intrinsics(images, tmp_path):
    cal, rms, used = calibrate(images, COLS, ROWS, SQUARE)
    k = np.asarray(cal.camera_matrix).reshape(3, 3)
    assert used >= 10 and rms < 0.5
    np.testing.assert_allclose([k[0, 0], k[1, 1]], [K[0, 0], K[1, 1]], rtol=0.01)
    np.testing.assert_allclose([k[0, 2], k[1, 2]], [K[0, 2], K[1, 2]], atol=3.0)
    np.testing.assert_allclose(cal.distortion[:2], D[:2], atol=0.03)
    path = save_camera_info(tmp_path / "front.yaml", cal, "front", rms)
    assert load_camera_info(path) == cal
    assert "reprojection error (RMS)" in path.read_text()


def test_cli_calibrate_writes_camera_info(images, tmp_path, capsys):
    for i, img in enumerate(images[:6]):
        cv2.imwrite(str(tmp_path / f"img{i:02d}.png"), img)
    out = tmp_path / "calibration" / "front.yaml"
    rc = lps(
        [
            "calibrate",
            "camera",
            "--images",
            str(tmp_path),
            "--board",
            f"{COLS}x{ROWS}",
            "--square",
            str(SQUARE),
            "--name",
            "front",
            "-o",
            str(out),
        ]
    )
    assert rc == 0 and out.exists()
    assert '"reprojection_error_px"' in capsys.readouterr().out


def test_preprocessing_undistorts_with_the_calibration(images):
    cal = CameraCalibration(W, H, tuple(K.ravel()), tuple(D))
    cam = CameraSpec("front", "/camera/camera/color/image_raw", W, H, "front")
    pre = ImagePreprocessor(cam, ObsSpec(("front",), (H, W), None, ("joint_pos",), (6,)), cal)
    grid = np.mgrid[0:COLS, 0:ROWS].T.reshape(-1, 2).astype(np.float32)

    def homography_residual(gray):
        found, pts = cv2.findChessboardCorners(gray, (COLS, ROWS))
        assert found
        hmat, _ = cv2.findHomography(grid, pts.reshape(-1, 2))
        proj = cv2.perspectiveTransform(grid[None], hmat)[0]
        return np.abs(proj - pts.reshape(-1, 2)).max()

    # on the most distorted view, the raw corners bend; undistorted ones form a projective grid
    raw = max(images, key=homography_residual)
    flat = pre(cv2.cvtColor(raw, cv2.COLOR_GRAY2RGB))
    before = homography_residual(raw)
    after = homography_residual(cv2.cvtColor(flat, cv2.COLOR_RGB2GRAY))
    assert before > 1.0 and after < 0.3 * before, (before, after)
