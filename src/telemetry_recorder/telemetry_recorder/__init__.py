"""The telemetry recorder node: every sample and event into PostGIS, with zero loss."""
