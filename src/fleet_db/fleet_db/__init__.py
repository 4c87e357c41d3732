"""ROS-free persistence of the fleet stack (PostgreSQL + PostGIS)."""
