"""`lps calibrate`: camera calibration with OpenCV into calibration/*.yaml."""

from __future__ import annotations

import argparse
import json
import sys


def _calibrate_camera(args: argparse.Namespace) -> int:
    from pathlib import Path

    import cv2

    from lps_robot.calib.camera_info import save_camera_info
    from lps_robot.calib.intrinsics import calibrate

    files = sorted(
        p for p in Path(args.images).iterdir() if p.suffix.lower() in (".png", ".jpg", ".jpeg")
    )
    images = [cv2.imread(str(p), cv2.IMREAD_GRAYSCALE) for p in files]
    try:
        cols, rows = (int(x) for x in args.board.lower().split("x"))
        cal, rms, used = calibrate(images, cols, rows, args.square)
    except ValueError as e:
        print(f"lps calibrate camera: {e}", file=sys.stderr)
        return 1
    out = args.output or f"calibration/{args.name}.yaml"
    save_camera_info(out, cal, args.name, rms)
    print(
        json.dumps(
            {
                "output": out,
                "reprojection_error_px": round(rms, 4),
                "images_used": used,
                "images": len(files),
                "camera_matrix": cal.camera_matrix,
                "distortion": cal.distortion,
            }
        )
    )
    return 0


def add(sub: argparse._SubParsersAction) -> None:
    """The ``calibrate`` command group."""
    cal = sub.add_parser("calibrate", help="camera calibration with OpenCV -> calibration/*.yaml")
    csub = cal.add_subparsers(dest="calibrate_command", required=True, metavar="WHAT")
    p = csub.add_parser("camera", help="intrinsics from checkerboard images")
    p.add_argument("--images", required=True, help="directory of .png/.jpg checkerboard views")
    p.add_argument("--board", default="9x6", help="inner corners, COLSxROWS")
    p.add_argument("--square", type=float, default=0.025, help="square size in metres")
    p.add_argument("--name", default="front", help="camera name (and calibration id)")
    p.add_argument("-o", "--output", default=None, help="default calibration/<name>.yaml")
    p.set_defaults(func=_calibrate_camera)
