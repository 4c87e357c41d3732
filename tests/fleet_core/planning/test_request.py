"""Requests from JSON-like data: garbage is refused naming the field; dicts round-trip."""

from __future__ import annotations

import json
import math
from pathlib import Path

import pytest

from fleet_core.errors import ConfigError
from fleet_core.planning import (
    PlaceKind,
    PlaceRef,
    PlanningContext,
    PlanningError,
    RequestError,
    WaypointKind,
    WaypointLibrary,
    load_library,
    parse_request,
    plan_mission,
    request_to_dict,
)

from .conftest import FRAME, VEHICLE, rect, ring, survey_spec

SQUARE = [ring(rect(0, 0, 200, 150))]


@pytest.mark.parametrize(("spec", "message"), [
    pytest.param({"altitude_m": 50}, "type: is missing", id="missing-type"),
    pytest.param({"type": "dance", "altitude_m": 50}, "type: must be one of", id="bad-type"),
    pytest.param(survey_spec(SQUARE, pattern="zigzag"), "pattern: must be one of .*'zigzag'",
                 id="unknown-pattern"),
    pytest.param(survey_spec(SQUARE, side_overlap_pct=100), "side_overlap_pct: must be < 100",
                 id="overlap-100"),
    pytest.param(survey_spec(SQUARE, altitude_m=math.nan), "altitude_m: must be finite",
                 id="nan-altitude"),
    pytest.param(survey_spec(SQUARE, altitude_m=-5), "altitude_m: must be > 0",
                 id="negative-altitude"),
    pytest.param(survey_spec(SQUARE, altitude_m="high"), "altitude_m: must be a number",
                 id="string-altitude"),
    pytest.param(survey_spec([ring([(0, 0), (100, 100), (100, 0), (0, 100)])]),
                 "area: is not a valid polygon: Self-intersection", id="bow-tie"),
    pytest.param(survey_spec([ring([(0, 0), (100, 100)])]), "at least 3 distinct vertices",
                 id="two-points"),
    pytest.param(survey_spec([[[8.5, 47.3], [math.nan, 47.4], [8.6, 47.4], [8.5, 47.3]]]),
                 r"area.coordinates\[0\]\[1\] longitude: must be finite", id="nan-coordinate"),
    pytest.param(survey_spec([[[8.5, 97.3], [8.6, 47.4], [8.6, 47.5], [8.5, 97.3]]]),
                 "latitude: must be <= 90", id="latitude-out-of-range"),
    pytest.param({**survey_spec(SQUARE), "area": {"type": "Point", "coordinates": [8, 47]}},
                 "area.type: must be Polygon, MultiPolygon or Feature", id="point-area"),
    pytest.param({**survey_spec(SQUARE), "camera": {"hfov_deg": 70}},
                 "camera: needs either hfov_deg and vfov_deg", id="half-camera"),
    pytest.param({**survey_spec(SQUARE), "colour": "red"}, "unknown keys .*colour",
                 id="unknown-key"),
    pytest.param({"type": "delivery", "altitude_m": 40, "pickup": "@a"},
                 "dropoff: is required", id="delivery-without-dropoff"),
    pytest.param({"type": "delivery", "altitude_m": 40, "pickup": "a", "dropoff": "@b",
                  "payload_kg": 1}, "pickup: a place reference is written '@name'",
                 id="bare-place-name"),
    pytest.param({"type": "patrol", "altitude_m": 40, "route": ["@a"]},
                 "route: must be a list of at least 2", id="one-point-route"),
    pytest.param({"type": "patrol", "altitude_m": 40, "route": ["@a", "@b"], "repeat": 0},
                 "repeat: must be an integer 1..100", id="zero-repeat"),
    pytest.param({"type": "emergency", "altitude_m": 40, "target": "@a",
                  "not_before": "tomorrow"}, "not_before: must be POSIX seconds or ISO-8601",
                 id="bad-time"),
    pytest.param({"type": "emergency", "altitude_m": 40, "target": "@a", "not_before": 200,
                  "not_after": 100}, "not_after: must be after not_before", id="window"),
    pytest.param({"type": "inspection", "altitude_m": 40}, "exactly one of area",
                 id="inspection-without-subject"),
])
def test_garbage_requests_are_refused_naming_the_field(spec: dict[str, object],
                                                       message: str) -> None:
    with pytest.raises(RequestError, match=message):
        parse_request(spec)


def test_a_request_error_is_a_value_error() -> None:
    with pytest.raises(ValueError, match="type"):
        parse_request({})


@pytest.mark.parametrize("spec", [
    pytest.param(survey_spec(SQUARE, pattern="crosshatch", sweep_deg=30.0,
                             camera={"hfov_deg": 70.0, "vfov_deg": 50.0},
                             scheduled_start=5000.0, name="roof"), id="survey"),
    pytest.param({"type": "inspection", "altitude_m": 30.0,
                  "orbit": {"centre": "@mast", "radius_m": 25.0}}, id="orbit"),
    pytest.param({"type": "patrol", "altitude_m": 30.0, "repeat": 3,
                  "route": ["@gate", {"latitude": 47.4, "longitude": 8.5}]}, id="patrol"),
    pytest.param({"type": "delivery", "altitude_m": 30.0, "pickup": "@depot",
                  "dropoff": {"latitude": 47.4, "longitude": 8.5}, "payload_kg": 1.2},
                 id="delivery"),
    pytest.param({"type": "emergency", "altitude_m": 30.0, "target": "@field",
                  "hover_s": 60.0, "not_after": "2026-01-01T00:00:00Z"}, id="emergency"),
])
def test_a_request_round_trips_through_a_json_dict(spec: dict[str, object]) -> None:
    request = parse_request(spec)
    again = parse_request(json.loads(json.dumps(request_to_dict(request))))
    assert again == request


def test_a_geojson_feature_and_a_multipolygon_are_accepted() -> None:
    feature = {"type": "Feature", "properties": {},
               "geometry": {"type": "MultiPolygon",
                            "coordinates": [SQUARE, [ring(rect(300, 0, 400, 100))]]}}
    request = parse_request({**survey_spec(SQUARE), "area": feature})
    assert request.area is not None
    assert len(request.area.polygons) == 2
    ctx = PlanningContext(start=FRAME.to_geo(-50, -50, 0), vehicle=VEHICLE)
    plan = plan_mission(request, ctx)
    assert plan.coverage_pct is not None
    assert plan.coverage_pct >= 99.0


def test_iso_times_are_read_as_utc() -> None:
    request = parse_request({"type": "emergency", "altitude_m": 40, "target": "@a",
                             "not_before": "1970-01-01T00:01:40Z"})
    assert request.not_before == 100.0


def test_places_are_resolved_from_the_waypoint_library(tmp_path: Path) -> None:
    depot, shop = FRAME.to_geo(100, 0, 0), FRAME.to_geo(600, 200, 0)
    path = tmp_path / "places.yaml"
    path.write_text(
        "places:\n"
        f"  depot: {{kind: pickup, latitude: {depot.latitude}, longitude: {depot.longitude}}}\n"
        f"  shop: {{kind: dropoff, latitude: {shop.latitude}, longitude: {shop.longitude}}}\n",
        encoding="utf-8")
    library = load_library(path)
    assert library.get("depot") is not None
    assert [p.name for p in library.of_kind(PlaceKind.DROPOFF)] == ["shop"]
    request = parse_request({"type": "delivery", "altitude_m": 40, "pickup": "@depot",
                             "dropoff": "@shop", "payload_kg": 1.0})
    assert request.pickup == PlaceRef("depot")
    ctx = PlanningContext(start=FRAME.to_geo(0, 0, 0), vehicle=VEHICLE, library=library)
    plan = plan_mission(request, ctx)
    drop = next(w for w in plan.waypoints if w.kind is WaypointKind.DROPOFF)
    assert FRAME.to_enu(drop.position)[0] == pytest.approx(600.0, abs=0.5)
    unknown = parse_request({"type": "emergency", "altitude_m": 40, "target": "@nowhere"})
    with pytest.raises(PlanningError, match=r"unknown place @nowhere .*known: depot, shop"):
        plan_mission(unknown, ctx)


def test_a_bad_library_entry_is_refused_naming_the_key() -> None:
    with pytest.raises(ConfigError, match=r"places.pad.kind must be one of"):
        WaypointLibrary.from_mapping({"pad": {"kind": "helipad", "latitude": 1,
                                              "longitude": 2}})
