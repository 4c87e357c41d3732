"""Reports as JSON models, streamed CSV and PDF (reportlab), from fleet_db.reports' figures.

The figures are computed in SQL (``fleet_db.reports``, whose docstring defines each one);
this module only presents them. CSV numbers are written with Python's shortest round-trip
``repr``, so a CSV value parses back to exactly the JSON value.
"""

from __future__ import annotations

import csv
import io
import math
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import asdict
from datetime import datetime
from typing import Any, Literal
from xml.sax.saxutils import escape

from pydantic import BaseModel
from reportlab.graphics.shapes import Circle, Drawing, Line, PolyLine, Rect, String  # type: ignore[import-untyped]
from reportlab.lib import colors  # type: ignore[import-untyped]
from reportlab.lib.pagesizes import A4  # type: ignore[import-untyped]
from reportlab.lib.styles import ParagraphStyle, getSampleStyleSheet  # type: ignore[import-untyped]
from reportlab.lib.units import mm  # type: ignore[import-untyped]
from reportlab.pdfbase.pdfmetrics import stringWidth  # type: ignore[import-untyped]
from reportlab.platypus import Paragraph, SimpleDocTemplate, Spacer, Table, TableStyle  # type: ignore[import-untyped]
from reportlab.platypus.flowables import Flowable  # type: ignore[import-untyped]

from fleet_db.models import MISSION_STATUSES
from fleet_db.reports import MissionFigures, MissionReport, PathPoint, Summary

Format = Literal["json", "csv", "pdf"]
PDF_EVENTS = 300  # events listed in a mission PDF (the JSON and CSV carry them all)


class OrganisationOut(BaseModel):
    """Every visible site's figures, and the same figures over all of them together."""

    t0: datetime
    t1: datetime
    total: Summary
    sites: list[Summary]


class LineString(BaseModel):
    """A GeoJSON LineString (longitude, latitude)."""

    type: Literal["LineString"] = "LineString"
    coordinates: list[tuple[float, float]]


class ReportEventOut(BaseModel):
    """A mission transition or a coordination event of its vehicle during the mission."""

    time: datetime
    kind: Literal["mission", "coordination"]
    name: str
    text: str
    closed_at: datetime | None


class MissionReportOut(BaseModel):
    """A mission's figures, flown path (with the time of each point), planned path, events."""

    figures: MissionFigures
    flown_path: LineString | None
    flown_times: list[datetime]
    planned_path: LineString | None
    events: list[ReportEventOut]


def _line(points: Sequence[PathPoint]) -> LineString | None:
    return LineString(coordinates=[(p.longitude, p.latitude) for p in points]) \
        if points else None


def mission_out(r: MissionReport) -> MissionReportOut:
    """Return the answer model of a mission report."""
    return MissionReportOut(
        figures=r.figures,
        flown_path=_line(r.flown_path),
        flown_times=[p.time for p in r.flown_path if p.time is not None],
        planned_path=_line(r.planned_path),
        events=[ReportEventOut.model_validate(e, from_attributes=True) for e in r.events])


# --- CSV -------------------------------------------------------------------------------------


def _cell(value: Any) -> str:
    if value is None:
        return ""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int | float):
        return repr(value)
    if isinstance(value, datetime):
        return value.isoformat()
    text = str(value)
    # A cell starting like a formula would run in a spreadsheet (CSV injection).
    return "'" + text if text[:1] in ("=", "+", "-", "@", "\t", "\r") else text


def csv_lines(rows: Iterable[Sequence[Any]]) -> Iterator[str]:
    """Yield each row as one CSV line (RFC 4180 quoting)."""
    buffer = io.StringIO()
    writer = csv.writer(buffer, lineterminator="\r\n")
    for row in rows:
        writer.writerow([_cell(v) for v in row])
        yield buffer.getvalue()
        buffer.seek(0)
        buffer.truncate()


SUMMARY_COLUMNS = (
    "site_id", "t0", "t1", "vehicles", *(f"missions_{s}" for s in MISSION_STATUSES),
    "finished", "completed", "success_rate", "flight_hours", "utilisation", "flights",
    "distance_km", "energy_wh", "energy_per_km_wh", "charging_sessions",
    "charging_wait_mean_s", "charging_wait_p95_s", "charging_wait_max_s")


def summary_rows(summaries: Iterable[Summary], total_label: str = "total"
                 ) -> Iterator[list[Any]]:
    """Yield the header and one row per summary (``site_id`` None is ``total_label``)."""
    yield list(SUMMARY_COLUMNS)
    for s in summaries:
        values = asdict(s)
        by_state = values.pop("missions_by_state")
        values["site_id"] = s.site_id if s.site_id is not None else total_label
        values.update({f"missions_{k}": by_state.get(k, 0) for k in MISSION_STATUSES})
        yield [values[c] for c in SUMMARY_COLUMNS]


def mission_rows(r: MissionReportOut) -> Iterator[list[Any]]:
    """Yield a mission report as ``record,time,name,value,latitude,longitude`` rows:
    figures, then the flown path, the planned path and the events."""
    yield ["record", "time", "name", "value", "latitude", "longitude"]
    for name, value in asdict(r.figures).items():
        yield ["figure", None, name, value, None, None]
    if r.flown_path is not None:
        for (lon, lat), t in zip(r.flown_path.coordinates, r.flown_times, strict=True):
            yield ["flown", t, None, None, lat, lon]
    if r.planned_path is not None:
        for lon, lat in r.planned_path.coordinates:
            yield ["planned", None, None, None, lat, lon]
    for e in r.events:
        yield [f"{e.kind}_event", e.time, e.name, e.text, None, None]


# --- PDF -------------------------------------------------------------------------------------

_STYLES = getSampleStyleSheet()
_SMALL = ParagraphStyle("small", parent=_STYLES["BodyText"], fontSize=8, leading=10)
_GRID = TableStyle([
    ("FONT", (0, 0), (-1, -1), "Helvetica", 9),
    ("FONT", (0, 0), (-1, 0), "Helvetica-Bold", 9),
    ("BACKGROUND", (0, 0), (-1, 0), colors.HexColor("#e8edf3")),
    ("GRID", (0, 0), (-1, -1), 0.25, colors.HexColor("#9aa5b1")),
    ("VALIGN", (0, 0), (-1, -1), "TOP"),
    ("ROWBACKGROUNDS", (0, 1), (-1, -1), [colors.white, colors.HexColor("#f7f9fb")]),
])


def _fmt(value: Any, unit: str = "", digits: int = 1) -> str:
    if value is None:
        return "—"
    if isinstance(value, datetime):
        return value.strftime("%Y-%m-%d %H:%M:%S UTC")
    if isinstance(value, float):
        return f"{value:,.{digits}f}{' ' + unit if unit else ''}"
    return f"{value}{' ' + unit if unit else ''}"


def _pct(value: float | None) -> str:
    return "—" if value is None else f"{value * 100:.1f} %"


def _duration(seconds: float | None) -> str:
    if seconds is None:
        return "—"
    s = round(seconds)
    return f"{s // 3600:d} h {s % 3600 // 60:02d} min {s % 60:02d} s"


def _doc(buffer: io.BytesIO, title: str) -> SimpleDocTemplate:
    return SimpleDocTemplate(buffer, pagesize=A4, title=title, author="fleet web bridge",
                             leftMargin=18 * mm, rightMargin=18 * mm, topMargin=16 * mm,
                             bottomMargin=16 * mm)


def _footer(canvas: Any, doc: Any) -> None:
    canvas.saveState()
    canvas.setFont("Helvetica", 7)
    canvas.setFillColor(colors.grey)
    canvas.drawString(18 * mm, 10 * mm, f"{doc.title} — page {doc.page}")
    canvas.restoreState()


def path_drawing(flown: Sequence[PathPoint], planned: Sequence[PathPoint],
                 width: float = 174 * mm, height: float = 110 * mm) -> Drawing:
    """Return a map of the flown path (blue) over the planned path (grey, dashed)."""
    d = Drawing(width, height)
    d.add(Rect(0, 0, width, height, fillColor=colors.HexColor("#fbfcfd"),
               strokeColor=colors.HexColor("#9aa5b1"), strokeWidth=0.5))
    points = [*flown, *planned]
    if not points:
        d.add(String(width / 2, height / 2, "no path: nothing flown and nothing planned",
                     textAnchor="middle", fontSize=10, fillColor=colors.grey))
        return d
    lat0 = sum(p.latitude for p in points) / len(points)
    lon0 = sum(p.longitude for p in points) / len(points)
    kx = 111_320.0 * math.cos(math.radians(lat0))  # metres per degree, local equirectangular
    ky = 110_540.0
    xs = [(p.longitude - lon0) * kx for p in points]
    ys = [(p.latitude - lat0) * ky for p in points]
    span_x, span_y = max(max(xs) - min(xs), 1.0), max(max(ys) - min(ys), 1.0)
    margin, legend = 10.0, 16.0
    scale = min((width - 2 * margin) / span_x, (height - 2 * margin - legend) / span_y)
    cx, cy = (max(xs) + min(xs)) / 2, (max(ys) + min(ys)) / 2

    def xy(p: PathPoint) -> tuple[float, float]:
        x = ((p.longitude - lon0) * kx - cx) * scale + width / 2
        y = ((p.latitude - lat0) * ky - cy) * scale + (height + legend) / 2
        return x, y

    def poly(path: Sequence[PathPoint], colour: Any, stroke: float,
             dash: list[float] | None = None) -> None:
        coords = [c for p in path for c in xy(p)]
        if len(coords) >= 4:
            d.add(PolyLine(coords, strokeColor=colour, strokeWidth=stroke,
                           strokeDashArray=dash))

    poly(planned, colors.HexColor("#8a949e"), 1.0, [4, 3])
    poly(flown, colors.HexColor("#1f5fbf"), 1.6)
    main = flown or planned
    sx, sy = xy(main[0])
    ex, ey = xy(main[-1])
    d.add(Circle(sx, sy, 3, fillColor=colors.HexColor("#2e9d4a"), strokeColor=colors.white))
    d.add(Rect(ex - 3, ey - 3, 6, 6, fillColor=colors.HexColor("#c73a3a"),
               strokeColor=colors.white))
    # Legend (each entry after the previous one's text) and a scale bar of a round length.
    y, x = 6.0, 8.0
    for label, mark in (("flown" if flown else "flown (nothing)", "flown"),
                        ("planned", "planned"), ("start", "start"), ("end", "end")):
        if mark == "flown":
            d.add(Line(x, y + 3, x + 18, y + 3, strokeColor=colors.HexColor("#1f5fbf"),
                       strokeWidth=1.6))
            x += 22
        elif mark == "planned":
            d.add(Line(x, y + 3, x + 18, y + 3, strokeColor=colors.HexColor("#8a949e"),
                       strokeDashArray=[4, 3]))
            x += 22
        elif mark == "start":
            d.add(Circle(x + 3, y + 3, 3, fillColor=colors.HexColor("#2e9d4a")))
            x += 9
        else:
            d.add(Rect(x, y, 6, 6, fillColor=colors.HexColor("#c73a3a")))
            x += 9
        d.add(String(x, y, label, fontSize=8))
        x += stringWidth(label, "Helvetica", 8) + 14
    target = (width / 4) / scale
    bar_m = 10 ** math.floor(math.log10(target))
    for step in (5, 2):
        if bar_m * step <= target:
            bar_m *= step
            break
    bar = bar_m * scale
    d.add(Line(width - 10 - bar, y + 3, width - 10, y + 3, strokeWidth=2))
    d.add(String(width - 10 - bar / 2, y + 6, f"{bar_m:g} m" if bar_m < 1000
                 else f"{bar_m / 1000:g} km", fontSize=8, textAnchor="middle"))
    return d


def mission_pdf(report: MissionReport) -> bytes:
    """Render a mission report (figures, path map, events) as a PDF."""
    f = report.figures
    buffer = io.BytesIO()
    doc = _doc(buffer, f"Mission {f.mission_id}")
    story: list[Flowable] = [
        Paragraph(escape(f"Mission {f.mission_id}"), _STYLES["Title"]),
        Paragraph(escape(f"{f.type}, {f.status} — vehicle {f.vehicle_id or 'none'}, site "
                         f"{f.site_id or 'none'}, priority {f.priority}, created by "
                         f"{f.created_by or 'unknown'}"), _STYLES["BodyText"]),
        Spacer(1, 4 * mm),
    ]
    rows = [
        ["Figure", "Planned", "Flown"],
        ["Distance", _fmt(f.planned_distance_m, "m"), _fmt(f.flown_distance_m, "m")],
        ["Duration", _duration(f.planned_duration_s), _duration(f.duration_s)],
        ["Energy", _fmt(f.planned_energy_wh, "Wh"), _fmt(f.energy_wh, "Wh")],
        ["Created", _fmt(f.created_at), ""],
        ["Started / ended", "", f"{_fmt(f.started_at)} / {_fmt(f.ended_at)}"],
        ["Samples", "", _fmt(f.samples)],
        ["Max altitude (rel.)", "", _fmt(f.max_alt_rel_m, "m")],
        ["Battery", "", f"{_fmt(f.battery_start_pct, '%')} → {_fmt(f.battery_end_pct, '%')}"
                        f" (used {_fmt(f.battery_used_pct, '%')})"],
        ["Average speed", "", _fmt(f.avg_speed_mps, "m/s", 2)],
    ]
    table = Table(rows, colWidths=[40 * mm, 52 * mm, 82 * mm])
    table.setStyle(_GRID)
    story += [table, Spacer(1, 5 * mm),
              Paragraph("Path" + ("" if report.flown_path else
                                  " (nothing was flown: the planned path)"),
                        _STYLES["Heading3"]),
              path_drawing(report.flown_path, report.planned_path), Spacer(1, 5 * mm),
              Paragraph(f"Events ({len(report.events)})", _STYLES["Heading3"])]
    if report.events:
        event_rows: list[list[Any]] = [["Time (UTC)", "Kind", "What", "Detail"]]
        for e in report.events[:PDF_EVENTS]:
            event_rows.append([e.time.strftime("%Y-%m-%d %H:%M:%S"), e.kind, e.name,
                               Paragraph(escape(e.text), _SMALL)])
        events = Table(event_rows, colWidths=[34 * mm, 24 * mm, 34 * mm, 82 * mm],
                       repeatRows=1)
        events.setStyle(_GRID)
        story.append(events)
        if len(report.events) > PDF_EVENTS:
            story.append(Paragraph(f"… and {len(report.events) - PDF_EVENTS} more (see the "
                                   "JSON or CSV report)", _SMALL))
    else:
        story.append(Paragraph("No event.", _STYLES["BodyText"]))
    doc.build(story, onFirstPage=_footer, onLaterPages=_footer)
    return buffer.getvalue()


DEFINITIONS = (
    "Missions by state: created in the period, by current state. Success rate: completed / "
    "finished (completed, aborted, failed) among missions that ended in the period. Flight "
    "hours: flights of the site's vehicles clipped to the period. Utilisation: flight hours / "
    "(vehicles × period hours). Flights, distance, energy per km: flights started in the "
    "period (energy per km over those with a measured energy). Charging waits: sessions at "
    "the site's stations requested in the period.")


def _summary_table(s: Summary) -> Table:
    rows = [
        ["Figure", "Value"],
        ["Vehicles", _fmt(s.vehicles)],
        ["Missions finished / completed", f"{s.finished} / {s.completed}"],
        ["Success rate", _pct(s.success_rate)],
        ["Flight hours", _fmt(s.flight_hours, "h", 2)],
        ["Utilisation", _pct(s.utilisation)],
        ["Flights started", _fmt(s.flights)],
        ["Distance flown", _fmt(s.distance_km, "km", 2)],
        ["Energy", _fmt(s.energy_wh, "Wh")],
        ["Energy per km", _fmt(s.energy_per_km_wh, "Wh/km", 2)],
        ["Charging sessions", _fmt(s.charging_sessions)],
        ["Charging wait mean / p95 / max",
         f"{_fmt(s.charging_wait_mean_s, 's')} / {_fmt(s.charging_wait_p95_s, 's')} / "
         f"{_fmt(s.charging_wait_max_s, 's')}"],
    ]
    table = Table(rows, colWidths=[70 * mm, 70 * mm], hAlign="LEFT")
    table.setStyle(_GRID)
    return table


def _states_table(s: Summary) -> Table:
    table = Table([list(MISSION_STATUSES), [s.missions_by_state.get(k, 0)
                                            for k in MISSION_STATUSES]],
                  colWidths=[21.5 * mm] * len(MISSION_STATUSES))
    table.setStyle(_GRID)
    return table


def summary_pdf(title: str, total: Summary, sites: Sequence[Summary] = ()) -> bytes:
    """Render a site or organisation summary as a PDF (with a per-site table when given)."""
    buffer = io.BytesIO()
    doc = _doc(buffer, title)
    story: list[Flowable] = [
        Paragraph(escape(title), _STYLES["Title"]),
        Paragraph(escape(f"{_fmt(total.t0)} to {_fmt(total.t1)}"), _STYLES["BodyText"]),
        Spacer(1, 4 * mm), _summary_table(total), Spacer(1, 4 * mm),
        Paragraph("Missions created in the period, by state", _STYLES["Heading3"]),
        _states_table(total), Spacer(1, 4 * mm)]
    if sites:
        rows: list[list[Any]] = [["Site", "Vehicles", "Finished", "Success", "Flight h",
                                  "Utilisation", "Wh/km", "Mean wait"]]
        rows += [[s.site_id or "", s.vehicles, s.finished, _pct(s.success_rate),
                  _fmt(s.flight_hours, "", 2), _pct(s.utilisation),
                  _fmt(s.energy_per_km_wh, "", 1), _fmt(s.charging_wait_mean_s, "s")]
                 for s in sites]
        table = Table(rows, repeatRows=1, hAlign="LEFT")
        table.setStyle(_GRID)
        story += [Paragraph("Per site", _STYLES["Heading3"]), table, Spacer(1, 4 * mm)]
    story.append(Paragraph(escape(DEFINITIONS), _SMALL))
    doc.build(story, onFirstPage=_footer, onLaterPages=_footer)
    return buffer.getvalue()
