"""Mission lifecycle, priority queue, vehicle allocation and recurring schedules (no ROS)."""
