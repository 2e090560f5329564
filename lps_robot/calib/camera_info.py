"""ROS camera_info YAML (camera_calibration_parsers format) <-> `CameraCalibration`."""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path

import yaml

from lps_robot.preprocess import CameraCalibration
from lps_robot.spec import Spec


def _matrix(rows: int, cols: int, data) -> dict:
    return {"rows": rows, "cols": cols, "data": [float(x) for x in data]}


def save_camera_info(
    path: str | Path, cal: CameraCalibration, name: str, reprojection_error_px: float | None = None
) -> Path:
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    k = list(cal.camera_matrix)
    doc = {
        "image_width": cal.width,
        "image_height": cal.height,
        "camera_name": name,
        "camera_matrix": _matrix(3, 3, k),
        "distortion_model": "plumb_bob" if len(cal.distortion) <= 5 else "rational_polynomial",
        "distortion_coefficients": _matrix(1, len(cal.distortion), cal.distortion),
        "rectification_matrix": _matrix(3, 3, [1, 0, 0, 0, 1, 0, 0, 0, 1]),
        "projection_matrix": _matrix(3, 4, [k[0], 0, k[2], 0, 0, k[4], k[5], 0, 0, 0, 1, 0]),
    }
    header = "# written by `lps calibrate camera`\n"
    if reprojection_error_px is not None:
        header += f"# reprojection error (RMS): {reprojection_error_px:.4f} px\n"
    path.write_text(header + yaml.safe_dump(doc, sort_keys=False))
    return path


def load_camera_info(path: str | Path) -> CameraCalibration:
    path = Path(path)
    try:
        doc = yaml.safe_load(path.read_text())
        k = doc["camera_matrix"]["data"]
        d = doc["distortion_coefficients"]["data"]
        width, height = int(doc["image_width"]), int(doc["image_height"])
    except OSError as e:
        raise ValueError(f"{path}: cannot read calibration ({e.strerror})") from e
    except (KeyError, TypeError, yaml.YAMLError) as e:
        raise ValueError(f"{path}: not a camera_info YAML (missing or bad field: {e})") from e
    if len(k) != 9:
        raise ValueError(f"{path}: camera_matrix.data: expected 9 values, got {len(k)}")
    return CameraCalibration(width, height, tuple(map(float, k)), tuple(map(float, d)))


def calibrations_for(spec: Spec, calibration_dir: str | Path) -> dict[str, CameraCalibration]:
    """The calibration of each spec camera that names a calibration_id (file <id>.yaml)."""
    out: Mapping[str, CameraCalibration] = {}
    for cam in spec.cameras:
        if cam.calibration_id:
            out[cam.name] = load_camera_info(Path(calibration_dir) / f"{cam.calibration_id}.yaml")
    return dict(out)
