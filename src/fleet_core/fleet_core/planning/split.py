"""Split a survey into parts of about equal area, one per vehicle."""

from __future__ import annotations

import math
from dataclasses import replace

from shapely import affinity
from shapely.geometry import MultiPolygon, Polygon, box

from fleet_core.planning import patterns
from fleet_core.planning.errors import RequestError
from fleet_core.planning.projection import Projection
from fleet_core.planning.simplify import as_area
from fleet_core.planning.types import Area, MissionRequest, MissionType

MAX_PARTS = 100
_BISECTIONS = 40


def split_survey(request: MissionRequest, parts: int) -> list[MissionRequest]:
    """Split a survey's area into ``parts`` strips of about equal area.

    The strips run along the sweep lines (the cuts are parallel to them), so every part
    keeps full-length lines; each part gets the whole request's sweep bearing so the parts'
    lines line up.
    """
    if request.mission_type is not MissionType.SURVEY or request.area is None:
        raise RequestError("type", f"only a survey can be split, got "
                                   f"{request.mission_type.value}")
    if isinstance(parts, bool) or not isinstance(parts, int) or not 1 <= parts <= MAX_PARTS:
        raise RequestError("parts", f"must be an integer 1..{MAX_PARTS}, got {parts!r}")
    if parts == 1:
        return [request]
    proj = Projection.around([v for poly in request.area.polygons for v in poly[0]])
    area = proj.area(request.area)
    bearing = (request.sweep_deg % 180.0 if request.sweep_deg is not None
               else patterns.longest_edge_bearing(area))
    rot = 90.0 - bearing
    flat = affinity.rotate(area, -rot, origin=(0.0, 0.0))
    minx, miny, maxx, maxy = flat.bounds
    total = flat.area

    def below(y: float) -> float:
        return float(flat.intersection(box(minx - 1, miny - 1, maxx + 1, y)).area)

    cuts = [miny - 1.0]
    for k in range(1, parts):
        lo, hi = cuts[-1], maxy
        target = total * k / parts
        for _ in range(_BISECTIONS):
            mid = (lo + hi) / 2
            if below(mid) < target:
                lo = mid
            else:
                hi = mid
        cuts.append((lo + hi) / 2)
    cuts.append(maxy + 1.0)
    out = []
    for k in range(parts):
        strip = as_area(flat.intersection(box(minx - 1, cuts[k], maxx + 1,
                                                       cuts[k + 1])))
        piece = as_area(affinity.rotate(strip, rot, origin=(0.0, 0.0)))
        polys = [p for p in patterns.parts(piece) if p.area > 1e-6 * total]
        if not polys:
            raise RequestError("parts", f"{parts} parts leave part {k} empty")
        rings = tuple(proj.unproject_polygon(_tidy(p)) for p in polys)
        out.append(replace(request, area=Area(rings), sweep_deg=bearing,
                           name=f"{request.name} part {k + 1}/{parts}".strip()))
    return out


def _tidy(p: Polygon) -> Polygon:
    # Drop the near-duplicate vertices a cut can leave, which fail validity after rounding.
    s = p.simplify(0.0)
    if isinstance(s, MultiPolygon):
        s = max(s.geoms, key=lambda g: g.area)
    assert isinstance(s, Polygon)
    return s if math.isfinite(s.area) else p
