"""Mission requests from JSON-like data (the ROS goal's and the REST API's spec_json) and back.

The accepted shape (keys not listed are refused)::

    {"type": "survey" | "inspection" | "patrol" | "delivery" | "emergency",
     "name": "roof 3",                     # optional
     "altitude_m": 50, "speed_mps": 6,     # speed optional: the vehicle's cruise speed
     # survey (and inspection of a perimeter)
     "area": <GeoJSON Polygon | MultiPolygon geometry, or a Feature holding one; lon/lat>,
     "pattern": "lawnmower" | "crosshatch" | "perimeter" | "spiral",
     "sweep_deg": 30,                      # bearing of the lines; default: the longest edge
     "spiral": "outward" | "inward",
     "camera": {"hfov_deg": 70, "vfov_deg": 55} | {"footprint_width_m": 80,
                                                   "footprint_height_m": 60},
     "side_overlap_pct": 70, "front_overlap_pct": 80,
     # inspection of a structure
     "orbit": {"centre": <position>, "radius_m": 30},
     # patrol
     "route": [<position>, ...], "repeat": 2,
     # delivery
     "pickup": <position>, "dropoff": <position>, "payload_kg": 1.5, "handling_s": 30,
     # emergency
     "target": <position>, "hover_s": 60, "land": false,
     # schedule: POSIX seconds or ISO-8601 strings with a zone
     "not_before": ..., "not_after": ..., "scheduled_start": ...,
     "return_home": true}

A <position> is ``{"latitude": .., "longitude": ..}`` or ``"@name"``, a place of the
waypoint library resolved when the mission is planned.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from datetime import datetime
from typing import Any

from pyproj import Geod
from shapely.geometry import MultiPolygon, Polygon
from shapely.validation import explain_validity

from fleet_core.geo import GeoPoint
from fleet_core.planning.errors import RequestError
from fleet_core.planning.projection import unwrap_longitudes
from fleet_core.planning.types import (
    Area,
    Camera,
    MissionRequest,
    MissionType,
    Orbit,
    Pattern,
    PlaceRef,
    PolygonRings,
    Ring,
    SpiralDirection,
    Target,
)

_KEYS = {
    "type", "name", "altitude_m", "speed_mps", "area", "pattern", "sweep_deg", "spiral",
    "camera", "side_overlap_pct", "front_overlap_pct", "orbit", "route", "repeat", "pickup",
    "dropoff", "payload_kg", "handling_s", "target", "hover_s", "land", "not_before",
    "not_after", "scheduled_start", "return_home",
}
MAX_ALTITUDE_M = 500.0
MAX_SPEED_MPS = 30.0
MAX_VERTICES = 10_000
# Below this a polygon is a line or a point: nothing to survey or fly around.
MIN_AREA_M2 = 1.0
_GEOD = Geod(ellps="WGS84")


def _number(raw: object, field: str, *, low: float | None = None, high: float | None = None,
            low_open: bool = False, high_open: bool = False) -> float:
    if isinstance(raw, bool) or not isinstance(raw, int | float):
        raise RequestError(field, f"must be a number, got {raw!r}")
    value = float(raw)
    if not math.isfinite(value):
        raise RequestError(field, f"must be finite, got {raw!r}")
    if low is not None and (value < low or (low_open and value == low)):
        raise RequestError(field, f"must be {'>' if low_open else '>='} {low:g}, got {raw!r}")
    if high is not None and (value > high or (high_open and value == high)):
        raise RequestError(field, f"must be {'<' if high_open else '<='} {high:g}, got {raw!r}")
    return value


def _enum(raw: object, field: str, enum: type[Any]) -> Any:
    try:
        return enum(raw)
    except ValueError:
        raise RequestError(field, f"must be one of {[e.value for e in enum]}, "
                                  f"got {raw!r}") from None


def _time(raw: object, field: str) -> float | None:
    if raw is None:
        return None
    if isinstance(raw, str):
        try:
            stamp = datetime.fromisoformat(raw.replace("Z", "+00:00"))
        except ValueError:
            raise RequestError(field, f"must be POSIX seconds or ISO-8601, got {raw!r}") from None
        if stamp.tzinfo is None:
            raise RequestError(field, f"needs a time zone (e.g. 'Z'), got {raw!r}")
        return stamp.timestamp()
    return _number(raw, field, low=0.0)


def _position(raw: object, field: str) -> Target:
    if isinstance(raw, str):
        if not raw.startswith("@") or len(raw) < 2:
            raise RequestError(field, f"a place reference is written '@name', got {raw!r}")
        return PlaceRef(raw[1:])
    if not isinstance(raw, Mapping):
        raise RequestError(field, f"must be {{latitude, longitude}} or '@name', got {raw!r}")
    unknown = set(raw) - {"latitude", "longitude", "altitude"}
    if unknown or "latitude" not in raw or "longitude" not in raw:
        raise RequestError(field, f"needs exactly latitude and longitude, got keys {sorted(raw)}")
    lat = _number(raw["latitude"], f"{field}.latitude", low=-90.0, high=90.0)
    lon = _number(raw["longitude"], f"{field}.longitude", low=-180.0, high=180.0)
    return GeoPoint(lat, lon)


def _ring(raw: object, field: str) -> Ring:
    if not isinstance(raw, Sequence) or isinstance(raw, str):
        raise RequestError(field, f"must be a list of [longitude, latitude], got {raw!r}")
    # The closing vertex repeats the first, so it may come on top of the limit; refused
    # before parsing so that a huge ring costs nothing.
    if len(raw) > MAX_VERTICES + 1:
        distinct = len(raw) - (raw[0] == raw[-1])
        raise RequestError(field, f"has {distinct} vertices, more than {MAX_VERTICES}")
    pts: list[tuple[float, float]] = []
    for i, v in enumerate(raw):
        if (not isinstance(v, Sequence) or isinstance(v, str) or len(v) not in (2, 3)):
            raise RequestError(f"{field}[{i}]", f"must be [longitude, latitude], got {v!r}")
        lon = _number(v[0], f"{field}[{i}] longitude", low=-180.0, high=180.0)
        lat = _number(v[1], f"{field}[{i}] latitude", low=-90.0, high=90.0)
        pts.append((lon, lat))
    if pts and pts[0] != pts[-1]:
        pts.append(pts[0])
    if len(pts) - 1 > MAX_VERTICES:
        raise RequestError(field, f"has {len(pts) - 1} vertices, more than {MAX_VERTICES}")
    if len(set(pts)) < 3:
        raise RequestError(field, f"needs at least 3 distinct vertices, got {len(set(pts))}")
    return tuple(pts)


def _area(raw: object, field: str) -> Area:
    if not isinstance(raw, Mapping):
        raise RequestError(field, f"must be a GeoJSON geometry or Feature, got {raw!r}")
    if raw.get("type") == "Feature":
        return _area(raw.get("geometry"), f"{field}.geometry")
    kind = raw.get("type")
    coords = raw.get("coordinates")
    if kind == "Polygon":
        polys_raw: object = [coords]
    elif kind == "MultiPolygon":
        polys_raw = coords
    else:
        raise RequestError(f"{field}.type", f"must be Polygon, MultiPolygon or Feature, "
                                            f"got {kind!r}")
    if not isinstance(polys_raw, Sequence) or isinstance(polys_raw, str) or not polys_raw:
        raise RequestError(f"{field}.coordinates", f"must be a non-empty list, got {coords!r}")
    polygons: list[PolygonRings] = []
    for i, rings_raw in enumerate(polys_raw):
        where = f"{field}.coordinates" + (f"[{i}]" if kind == "MultiPolygon" else "")
        if not isinstance(rings_raw, Sequence) or isinstance(rings_raw, str) or not rings_raw:
            raise RequestError(where, f"must be a non-empty list of rings, got {rings_raw!r}")
        polygons.append(tuple(_ring(r, f"{where}[{j}]") for j, r in enumerate(rings_raw)))
    shape = _planar(polygons)
    if not shape.is_valid:
        raise RequestError(field, f"is not a valid polygon: {explain_validity(shape)}")
    for i, rings in enumerate(polygons):
        size = _area_m2(rings)
        if size < MIN_AREA_M2:
            where = f"{field}.coordinates" + (f"[{i}]" if kind == "MultiPolygon" else "")
            raise RequestError(where, f"has (almost) no area: {size:.4g} m²")
    return Area(tuple(polygons))


def _area_m2(rings: PolygonRings) -> float:
    """Return the geodesic area of a polygon: its exterior less its holes."""
    sizes = [abs(_GEOD.polygon_area_perimeter([v[0] for v in r], [v[1] for v in r])[0])
             for r in rings]
    return sizes[0] - sum(sizes[1:])


def _planar(polygons: Sequence[PolygonRings]) -> Polygon | MultiPolygon:
    """Return the polygons in lon/lat with longitudes unwrapped, so that a ring across the
    antimeridian is checked as the small shape it is, not one spanning the globe."""
    lons = iter(unwrap_longitudes([v[0] for rings in polygons for r in rings for v in r]))
    flat = [[[(float(next(lons)), v[1]) for v in r] for r in rings] for rings in polygons]
    if len(flat) == 1:
        return Polygon(flat[0][0], flat[0][1:])
    return MultiPolygon([Polygon(p[0], p[1:]) for p in flat])


def _camera(raw: object, field: str) -> Camera:
    if not isinstance(raw, Mapping):
        raise RequestError(field, f"must be a mapping, got {raw!r}")
    keys = set(raw)
    if keys == {"hfov_deg", "vfov_deg"}:
        return Camera(hfov_deg=_number(raw["hfov_deg"], f"{field}.hfov_deg", low=0.0,
                                       high=170.0, low_open=True),
                      vfov_deg=_number(raw["vfov_deg"], f"{field}.vfov_deg", low=0.0,
                                       high=170.0, low_open=True))
    if keys == {"footprint_width_m", "footprint_height_m"}:
        return Camera(
            footprint_width_m=_number(raw["footprint_width_m"], f"{field}.footprint_width_m",
                                      low=0.0, low_open=True, high=10_000.0),
            footprint_height_m=_number(raw["footprint_height_m"], f"{field}.footprint_height_m",
                                       low=0.0, low_open=True, high=10_000.0))
    raise RequestError(field, "needs either hfov_deg and vfov_deg, or footprint_width_m and "
                              f"footprint_height_m; got keys {sorted(keys)}")


def _require(m: Mapping[str, Any], key: str, mtype: MissionType) -> object:
    if m.get(key) is None:
        raise RequestError(key, f"is required for a {mtype.value} mission")
    return m[key]


def parse_request(obj: Mapping[str, object]) -> MissionRequest:
    """Build a MissionRequest from JSON-like data; RequestError names the bad field and value."""
    if not isinstance(obj, Mapping):
        raise RequestError("request", f"must be a mapping, got {type(obj).__name__}")
    unknown = set(obj) - _KEYS
    if unknown:
        raise RequestError("request", f"unknown keys {sorted(unknown)}")
    if "type" not in obj:
        raise RequestError("type", "is missing")
    mtype: MissionType = _enum(obj["type"], "type", MissionType)
    m: Mapping[str, Any] = obj
    name = m.get("name", "")
    if not isinstance(name, str):
        raise RequestError("name", f"must be a string, got {name!r}")
    altitude = _number(_require(m, "altitude_m", mtype), "altitude_m", low=0.0, low_open=True,
                       high=MAX_ALTITUDE_M)
    speed = (None if m.get("speed_mps") is None else
             _number(m["speed_mps"], "speed_mps", low=0.0, low_open=True, high=MAX_SPEED_MPS))
    fields: dict[str, Any] = {}
    if mtype is MissionType.SURVEY:
        fields["area"] = _area(_require(m, "area", mtype), "area")
        fields["pattern"] = _enum(m.get("pattern", "lawnmower"), "pattern", Pattern)
        fields["camera"] = _camera(_require(m, "camera", mtype), "camera")
        if m.get("sweep_deg") is not None:
            fields["sweep_deg"] = _number(m["sweep_deg"], "sweep_deg", low=-360.0, high=360.0)
        fields["spiral"] = _enum(m.get("spiral", "outward"), "spiral", SpiralDirection)
        fields["side_overlap_pct"] = _number(m.get("side_overlap_pct", 70.0),
                                             "side_overlap_pct", low=0.0, high=100.0,
                                             high_open=True)
        fields["front_overlap_pct"] = _number(m.get("front_overlap_pct", 80.0),
                                              "front_overlap_pct", low=0.0, high=100.0,
                                              high_open=True)
    elif mtype is MissionType.INSPECTION:
        has_area, has_orbit = m.get("area") is not None, m.get("orbit") is not None
        if has_area == has_orbit:
            raise RequestError("area", "an inspection needs exactly one of area (perimeter) "
                                       "or orbit (structure)")
        if has_area:
            fields["area"] = _area(m["area"], "area")
            fields["pattern"] = Pattern.PERIMETER
        else:
            o = m["orbit"]
            if not isinstance(o, Mapping) or set(o) != {"centre", "radius_m"}:
                raise RequestError("orbit", f"must be {{centre, radius_m}}, got {o!r}")
            fields["orbit"] = Orbit(_position(o["centre"], "orbit.centre"),
                                    _number(o["radius_m"], "orbit.radius_m", low=1.0,
                                            high=5000.0))
    elif mtype is MissionType.PATROL:
        route = _require(m, "route", mtype)
        if not isinstance(route, Sequence) or isinstance(route, str) or len(route) < 2:
            raise RequestError("route", f"must be a list of at least 2 positions, got {route!r}")
        fields["route"] = tuple(_position(p, f"route[{i}]") for i, p in enumerate(route))
        repeat = m.get("repeat", 1)
        if isinstance(repeat, bool) or not isinstance(repeat, int) or not 1 <= repeat <= 100:
            raise RequestError("repeat", f"must be an integer 1..100, got {repeat!r}")
        fields["repeat"] = repeat
    elif mtype is MissionType.DELIVERY:
        fields["pickup"] = _position(_require(m, "pickup", mtype), "pickup")
        fields["dropoff"] = _position(_require(m, "dropoff", mtype), "dropoff")
        fields["payload_kg"] = _number(_require(m, "payload_kg", mtype), "payload_kg",
                                       low=0.0, high=1000.0)
        fields["handling_s"] = _number(m.get("handling_s", 30.0), "handling_s", low=0.0,
                                       high=3600.0)
    else:
        fields["target"] = _position(_require(m, "target", mtype), "target")
        fields["hover_s"] = _number(m.get("hover_s", 0.0), "hover_s", low=0.0, high=7200.0)
        land = m.get("land", False)
        if not isinstance(land, bool):
            raise RequestError("land", f"must be true or false, got {land!r}")
        fields["land"] = land
    for key in ("not_before", "not_after", "scheduled_start"):
        fields[key] = _time(m.get(key), key)
    nb, na, ss = fields["not_before"], fields["not_after"], fields["scheduled_start"]
    if nb is not None and na is not None and nb >= na:
        raise RequestError("not_after", f"must be after not_before ({nb}), got {na}")
    if ss is not None and ((nb is not None and ss < nb) or (na is not None and ss >= na)):
        raise RequestError("scheduled_start", f"{ss} is outside the time window "
                                              f"[{nb}, {na}]")
    return_home = m.get("return_home", True)
    if not isinstance(return_home, bool):
        raise RequestError("return_home", f"must be true or false, got {return_home!r}")
    return MissionRequest(mission_type=mtype, altitude_m=altitude, name=name, speed_mps=speed,
                          return_home=return_home, **fields)


def _target_json(t: Target) -> object:
    if isinstance(t, PlaceRef):
        return str(t)
    return {"latitude": t.latitude, "longitude": t.longitude}


def area_to_geojson(area: Area) -> dict[str, object]:
    """Return the area as a GeoJSON geometry."""
    polys = [[[list(v) for v in ring] for ring in p] for p in area.polygons]
    if len(polys) == 1:
        return {"type": "Polygon", "coordinates": polys[0]}
    return {"type": "MultiPolygon", "coordinates": polys}


def request_to_dict(request: MissionRequest) -> dict[str, object]:
    """Return the JSON-able form that ``parse_request`` reads back into an equal request."""
    r = request
    out: dict[str, object] = {"type": r.mission_type.value, "altitude_m": r.altitude_m}
    if r.name:
        out["name"] = r.name
    if r.speed_mps is not None:
        out["speed_mps"] = r.speed_mps
    if r.mission_type is MissionType.SURVEY:
        assert r.area is not None
        assert r.camera is not None
        out["area"] = area_to_geojson(r.area)
        out["pattern"] = r.pattern.value
        out["spiral"] = r.spiral.value
        if r.sweep_deg is not None:
            out["sweep_deg"] = r.sweep_deg
        c = r.camera
        out["camera"] = ({"hfov_deg": c.hfov_deg, "vfov_deg": c.vfov_deg}
                         if c.hfov_deg is not None else
                         {"footprint_width_m": c.footprint_width_m,
                          "footprint_height_m": c.footprint_height_m})
        out["side_overlap_pct"] = r.side_overlap_pct
        out["front_overlap_pct"] = r.front_overlap_pct
    elif r.mission_type is MissionType.INSPECTION:
        if r.area is not None:
            out["area"] = area_to_geojson(r.area)
        if r.orbit is not None:
            out["orbit"] = {"centre": _target_json(r.orbit.centre),
                            "radius_m": r.orbit.radius_m}
    elif r.mission_type is MissionType.PATROL:
        out["route"] = [_target_json(t) for t in r.route]
        out["repeat"] = r.repeat
    elif r.mission_type is MissionType.DELIVERY:
        assert r.pickup is not None
        assert r.dropoff is not None
        out["pickup"] = _target_json(r.pickup)
        out["dropoff"] = _target_json(r.dropoff)
        out["payload_kg"] = r.payload_kg
        out["handling_s"] = r.handling_s
    else:
        assert r.target is not None
        out["target"] = _target_json(r.target)
        out["hover_s"] = r.hover_s
        out["land"] = r.land
    for key, value in (("not_before", r.not_before), ("not_after", r.not_after),
                       ("scheduled_start", r.scheduled_start)):
        if value is not None:
            out[key] = value
    out["return_home"] = r.return_home
    return out
