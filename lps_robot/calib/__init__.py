"""Camera calibration (OpenCV) and ROS camera_info YAML files."""
