"""Mission planning: survey patterns, inspections, patrols, deliveries and emergencies.

The public API: ``parse_request``, ``plan_mission``, ``plan_remainder``, ``split_survey``,
``validate_waypoints``, ``to_mission_items``; the types are in ``planning.types``.
"""

from fleet_core.planning.errors import PlanningError, RequestError
from fleet_core.planning.items import mission_item_map, to_mission_items
from fleet_core.planning.library import Place, PlaceKind, WaypointLibrary, load_library
from fleet_core.planning.planner import plan_mission
from fleet_core.planning.remainder import plan_remainder
from fleet_core.planning.request import parse_request, request_to_dict
from fleet_core.planning.split import split_survey
from fleet_core.planning.types import (
    Area,
    Camera,
    Leg,
    MissionPlan,
    MissionRequest,
    MissionType,
    Orbit,
    Pattern,
    PlaceRef,
    PlanningContext,
    SpiralDirection,
    Waypoint,
    WaypointKind,
    WindReport,
)
from fleet_core.planning.validation import validate_waypoints

__all__ = [
    "Area",
    "Camera",
    "Leg",
    "MissionPlan",
    "MissionRequest",
    "MissionType",
    "Orbit",
    "Pattern",
    "Place",
    "PlaceKind",
    "PlaceRef",
    "PlanningContext",
    "PlanningError",
    "RequestError",
    "SpiralDirection",
    "Waypoint",
    "WaypointKind",
    "WaypointLibrary",
    "WindReport",
    "load_library",
    "mission_item_map",
    "parse_request",
    "plan_mission",
    "plan_remainder",
    "request_to_dict",
    "split_survey",
    "to_mission_items",
    "validate_waypoints",
]
