"""Pages of the stored event logs: coordination events, mission events and the audit log.

Each list is newest first, ordered by (time, id) descending, and continues after a
``(time, id)`` key (keyset pagination: stable while rows are added). Filters are optional;
time ranges are half-open [t0, t1). Queries run on the caller's connection, so row-level
security (missions) applies; the tables without a site are restricted by the arguments
(``vehicle_ids`` the caller may see, ``site_ids`` of the audit entries).
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any, Literal

from sqlalchemy import Connection, text

from fleet_db.db import InvalidArgumentError, aware_utc

MAX_PAGE = 1000
Key = tuple[datetime, int]


@dataclass(frozen=True, slots=True)
class CoordinationRow:
    """A coordination event: opened once, re-issued when worse, closed once (a row per key)."""

    id: int
    key: str
    type: str
    severity: str
    state: Literal["open", "closed"]
    vehicle_id: str | None
    other_vehicle_id: str | None
    zone_id: str | None
    opened_at: datetime
    closed_at: datetime | None
    updated_at: datetime
    message: str | None
    details: dict[str, Any]

    @property
    def time(self) -> datetime:
        """Return the time pages are ordered by: the opening time."""
        return self.opened_at


@dataclass(frozen=True, slots=True)
class MissionEventRow:
    """A mission state transition."""

    id: int
    time: datetime
    mission_id: str
    vehicle_id: str | None  # the mission's vehicle now
    site_id: str | None
    from_state: str | None
    to_state: str
    reason: str | None
    actor: str | None
    details: dict[str, Any]


@dataclass(frozen=True, slots=True)
class AuditRow:
    """One audit log entry: who did what to which object, from where, with which result."""

    id: int
    time: datetime
    user_id: int | None
    username: str | None
    role: str | None
    api_key_id: int | None
    action: str
    method: str | None
    result: str | None
    status_code: int | None
    target_type: str | None
    target_id: str | None
    site_id: str | None
    remote_addr: str | None
    details: dict[str, Any]


def _utc(value: datetime) -> datetime:
    return value.astimezone(UTC)


class _Where:
    """Collects SQL conditions and their parameters."""

    def __init__(self) -> None:
        self.parts: list[str] = []
        self.params: dict[str, Any] = {}

    def add(self, sql: str, **params: Any) -> None:
        self.parts.append(sql)
        self.params.update(params)

    def equal(self, column: str, value: object, param: str) -> None:
        """Require ``column = value`` unless ``value`` is None (then there is no filter)."""
        if value is not None:
            self.add(f"{column} = :{param}", **{param: value})

    def sql(self) -> str:
        return " and ".join(self.parts) if self.parts else "true"


def _common(where: _Where, time_col: str, *, t0: datetime | None, t1: datetime | None,
            after: Key | None, limit: int, id_col: str = "id") -> None:
    if not 1 <= limit <= MAX_PAGE:
        raise InvalidArgumentError(f"limit {limit} is outside 1..{MAX_PAGE}")
    a = aware_utc(t0, "t0") if t0 is not None else None
    b = aware_utc(t1, "t1") if t1 is not None else None
    if a is not None and b is not None and b <= a:
        raise InvalidArgumentError(f"t1 {b.isoformat()} is not after t0 {a.isoformat()}")
    if a is not None:
        where.add(f"{time_col} >= :t0", t0=a)
    if b is not None:
        where.add(f"{time_col} < :t1", t1=b)
    if after is not None:
        where.add(f"({time_col}, {id_col}) < (:after_t, :after_id)",
                  after_t=aware_utc(after[0], "cursor time"), after_id=after[1])
    where.params["limit"] = limit


def coordination_events(conn: Connection, *, vehicle_ids: Sequence[str] | None = None,
                        type_: str | None = None, severity: str | None = None,
                        vehicle_id: str | None = None, state: str | None = None,
                        t0: datetime | None = None, t1: datetime | None = None,
                        after: Key | None = None, limit: int = 100) -> list[CoordinationRow]:
    """Return a page of coordination events by opening time, newest first.

    ``vehicle_ids`` restricts to events of those vehicles (None: no restriction); an event
    belongs to its ``vehicle_id`` (events without a vehicle only show unrestricted).
    ``state`` is open (not closed) or closed.
    """
    if state not in (None, "open", "closed"):
        raise InvalidArgumentError(f"state {state!r} is not open or closed")
    where = _Where()
    _common(where, "opened_at", t0=t0, t1=t1, after=after, limit=limit)
    if vehicle_ids is not None:
        where.add("vehicle_id = any(cast(:visible as text[]))", visible=list(vehicle_ids))
    where.equal("type", type_, "type")
    where.equal("severity", severity, "severity")
    if vehicle_id is not None:
        where.add("(vehicle_id = :vehicle or other_vehicle_id = :vehicle)", vehicle=vehicle_id)
    if state == "open":
        where.add("closed_at is null")
    elif state == "closed":
        where.add("closed_at is not null")
    rows = conn.execute(text(
        "select id, key, type, severity, vehicle_id, other_vehicle_id, zone_id, opened_at, "
        "closed_at, time, message, details from coordination_events "
        f"where {where.sql()} order by opened_at desc, id desc limit :limit"), where.params)
    return [CoordinationRow(
        id=r.id, key=r.key, type=r.type, severity=r.severity,
        state="open" if r.closed_at is None else "closed", vehicle_id=r.vehicle_id,
        other_vehicle_id=r.other_vehicle_id, zone_id=r.zone_id,
        opened_at=_utc(r.opened_at), closed_at=_utc(r.closed_at) if r.closed_at else None,
        updated_at=_utc(r.time), message=r.message, details=dict(r.details or {}))
        for r in rows]


def mission_events(conn: Connection, *, mission_id: str | None = None,
                   vehicle_id: str | None = None, site_id: str | None = None,
                   to_state: str | None = None, t0: datetime | None = None,
                   t1: datetime | None = None, after: Key | None = None,
                   limit: int = 100) -> list[MissionEventRow]:
    """Return a page of mission events, newest first, of the missions the connection sees."""
    where = _Where()
    _common(where, "e.time", t0=t0, t1=t1, after=after, limit=limit, id_col="e.id")
    where.equal("e.mission_id", mission_id, "mission")
    where.equal("m.vehicle_id", vehicle_id, "vehicle")
    where.equal("m.site_id", site_id, "site")
    where.equal("e.to_state", to_state, "to_state")
    # The join is the site scope: row-level security hides other sites' missions.
    rows = conn.execute(text(
        "select e.id, e.time, e.mission_id, m.vehicle_id, m.site_id, e.from_state, "
        "e.to_state, e.reason, e.actor, e.details "
        "from mission_events e join missions m on m.id = e.mission_id "
        f"where {where.sql()} order by e.time desc, e.id desc limit :limit"), where.params)
    return [MissionEventRow(
        id=r.id, time=_utc(r.time), mission_id=r.mission_id, vehicle_id=r.vehicle_id,
        site_id=r.site_id, from_state=r.from_state, to_state=r.to_state, reason=r.reason,
        actor=r.actor, details=dict(r.details or {})) for r in rows]


def _audit_where(*, site_ids: Sequence[str] | None, username: str | None,
                 user_id: int | None, action: str | None, result: str | None,
                 target_id: str | None, t0: datetime | None, t1: datetime | None,
                 after: Key | None, limit: int) -> _Where:
    where = _Where()
    _common(where, "time", t0=t0, t1=t1, after=after, limit=limit)
    if site_ids is not None:
        where.add("site_id = any(cast(:sites as text[]))", sites=list(site_ids))
    where.equal("username", username, "username")
    where.equal("user_id", user_id, "user_id")
    if action is not None:
        # A substring of the action ("login", "/missions"), with LIKE's wildcards escaped.
        escaped = action.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")
        where.add("action like :action escape '\\'", action=f"%{escaped}%")
    where.equal("result", result, "result")
    where.equal("target_id", target_id, "target_id")
    return where


def audit_entries(conn: Connection, *, site_ids: Sequence[str] | None = None,
                  username: str | None = None, user_id: int | None = None,
                  action: str | None = None, result: str | None = None,
                  target_id: str | None = None, t0: datetime | None = None,
                  t1: datetime | None = None, after: Key | None = None,
                  limit: int = 100) -> list[AuditRow]:
    """Return a page of audit entries, newest first.

    ``site_ids`` restricts to entries about those sites (None: every entry, including those
    without a site such as logins).
    """
    where = _audit_where(site_ids=site_ids, username=username, user_id=user_id,
                         action=action, result=result, target_id=target_id, t0=t0, t1=t1,
                         after=after, limit=limit)
    rows = conn.execute(text(
        "select id, time, user_id, username, role, api_key_id, action, method, result, "
        "status_code, target_type, target_id, site_id, remote_addr, details from audit_log "
        f"where {where.sql()} order by time desc, id desc limit :limit"), where.params)
    return [AuditRow(
        id=r.id, time=_utc(r.time), user_id=r.user_id, username=r.username, role=r.role,
        api_key_id=r.api_key_id, action=r.action, method=r.method, result=r.result,
        status_code=r.status_code, target_type=r.target_type, target_id=r.target_id,
        site_id=r.site_id, remote_addr=r.remote_addr, details=dict(r.details or {}))
        for r in rows]


def iter_audit_entries(conn: Connection, batch: int = 1000, **filters: Any
                       ) -> Iterator[AuditRow]:
    """Yield every audit entry matching ``filters`` (as audit_entries), newest first."""
    after: Key | None = filters.pop("after", None)
    while True:
        page = audit_entries(conn, after=after, limit=batch, **filters)
        yield from page
        if len(page) < batch:
            return
        after = (page[-1].time, page[-1].id)
