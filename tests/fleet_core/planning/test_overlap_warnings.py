"""A survey whose overlap is too low for photogrammetry is planned, with a warning."""

from __future__ import annotations

import pytest

from fleet_core.planning import PlanningContext, parse_request, plan_mission

from .conftest import rect, ring, survey_spec

FIELD = [ring(rect(0, 0, 300, 200))]


def overlap_warnings(ctx: PlanningContext, side: float, front: float) -> list[str]:
    spec = survey_spec(FIELD, side_overlap_pct=side, front_overlap_pct=front)
    plan = plan_mission(parse_request(spec), ctx)
    return [w for w in plan.warnings if "overlap" in w]


def test_the_usual_overlap_gives_no_warning(ctx: PlanningContext) -> None:
    assert overlap_warnings(ctx, 70.0, 80.0) == []
    assert overlap_warnings(ctx, 60.0, 70.0) == []


def test_no_overlap_at_all_is_planned_with_both_warnings(ctx: PlanningContext) -> None:
    warned = overlap_warnings(ctx, 0.0, 0.0)
    assert len(warned) == 2
    assert any(w.startswith("side overlap 0 % is below the 60 %") for w in warned)
    assert any(w.startswith("front overlap 0 % is below the 70 %") for w in warned)


@pytest.mark.parametrize(("side", "front", "which"), [(55.0, 80.0, "side"),
                                                      (70.0, 65.0, "front")])
def test_each_overlap_is_judged_on_its_own(ctx: PlanningContext, side: float, front: float,
                                           which: str) -> None:
    warned = overlap_warnings(ctx, side, front)
    assert len(warned) == 1
    assert warned[0].startswith(f"{which} overlap")
