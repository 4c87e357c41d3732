"""fleet_manager: one live fleet picture from every vehicle's MAVROS topics."""
