"""Simulated PX4 multirotors behind MAVROS-compatible topics and services."""
