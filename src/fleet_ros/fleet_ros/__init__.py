"""ROS 2 glue shared by the fleet nodes."""
