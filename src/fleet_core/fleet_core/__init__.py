"""ROS-free domain logic of the fleet stack."""
