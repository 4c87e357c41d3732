"""The simulated PX4 multirotor behind fleet_sim: configuration, battery and autopilot model."""
