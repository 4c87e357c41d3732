"""Flying missions: the rules between the dispatcher's decisions and a vehicle's autopilot.

ROS-free. ``MissionExecutor`` takes observations (the fleet picture, a waypoint reached, the
outcome of a driver operation) and returns what is to be done as values: driver commands
(``FlyMission``, ``Hold``, ``Continue``, ``ReturnHome``), plans to announce, charging-session
changes. The mission_planner node only turns those values into MAVROS calls and messages.
"""
