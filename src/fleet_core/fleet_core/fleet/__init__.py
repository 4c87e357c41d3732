"""The fleet picture and the coordination rules applied to it (no ROS)."""
