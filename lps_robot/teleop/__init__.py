"""Teleoperation: devices that yield end-effector twists (or joint targets) and the one
differential IK that turns twists into joint position targets.

Devices sit behind one small shape, like the cameras: each turns its raw input into a
`TeleopCommand` (an end-effector twist in the robot's base frame, a gripper target and the
deadman), or, for a leader arm, into follower joint targets. `DiffIK` (mink, on the robot's
MJCF or URDF) solves twists into joint targets within joint position and velocity limits and
a workspace box. No ROS here: `lps_robot.ros.teleop_node` wires devices, IK and the safety
filter to topics.
"""
