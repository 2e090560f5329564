# Robot runtime: ROS 2 Jazzy + the lps_robot deploy path (numpy, onnxruntime, opencv). No torch.
# Build from the repository root:  docker build -f docker/robot.Dockerfile -t lps_robot:robot .
FROM ros:jazzy-ros-base

RUN apt-get update \
    && apt-get install -y --no-install-recommends \
       python3-pip python3-numpy python3-yaml python3-colcon-common-extensions libusb-1.0-0 \
    && rm -rf /var/lib/apt/lists/*

WORKDIR /opt/lps_robot
COPY docker/robot-requirements.txt ./
RUN pip3 install --no-cache-dir --break-system-packages -r robot-requirements.txt
COPY pyproject.toml README.md ./
COPY lps_robot ./lps_robot
# the package itself; its dependencies come from the system (numpy, yaml) and the file above
RUN pip3 install --no-cache-dir --break-system-packages --no-deps .

COPY ros_ws ./ros_ws
WORKDIR /opt/lps_robot/ros_ws
RUN . /opt/ros/jazzy/setup.sh && colcon build --symlink-install

WORKDIR /opt/lps_robot
COPY policies ./policies
COPY calibration ./calibration
ENV POLICY=/opt/lps_robot/policies/current.onnx
CMD ["bash", "-c", ". /opt/ros/jazzy/setup.sh && . /opt/lps_robot/ros_ws/install/setup.sh && exec ros2 launch lps_robot policy.launch.py policy:=${POLICY}"]
