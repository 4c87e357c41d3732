// Events as the panels show them: live ones from the WebSocket and stored ones from
// /events/coordination and /events/missions brought to one shape, merged without
// duplicates, filtered and ordered. No DOM here (see test/events-logic.test.ts).
import { humanize } from '../format';
import type { CoordinationEvent, FleetEvent, MissionEvent, Severity } from '../types';

/** A row of /events/coordination (routes/events.py CoordinationEventOut). */
export interface StoredCoordination {
  id: number; key: string; type: string; severity: string; state: 'open' | 'closed';
  vehicle_id: string | null; other_vehicle_id: string | null; zone_id: string | null;
  opened_at: string; closed_at: string | null; updated_at: string; message: string | null;
  details: Record<string, unknown>;
}

/** A row of /events/missions (routes/events.py MissionEventOut). */
export interface StoredMissionEvent {
  id: number; time: string; mission_id: string; vehicle_id: string | null; site_id: string | null;
  from_state: string | null; to_state: string; reason: string | null; actor: string | null;
  details: Record<string, unknown>;
}

export interface Page<T> { items: T[]; next_cursor: string | null }

function epoch(iso: string | null | undefined): number | null {
  if (!iso) return null;
  const t = Date.parse(iso);
  return Number.isFinite(t) ? t / 1000 : null;
}

function asText(v: unknown): string {
  return typeof v === 'string' ? v : JSON.stringify(v);
}

/** A stored coordination event in the live shape (its key is the live event id). */
export function fromStoredCoordination(r: StoredCoordination): CoordinationEvent {
  const { vehicle_ids: ids, ...rest } = r.details ?? {};
  const vehicles = Array.isArray(ids)
    ? ids.map(String)
    : [r.vehicle_id, r.other_vehicle_id].filter((v): v is string => !!v);
  const data: Record<string, string> = {};
  for (const [k, v] of Object.entries(rest)) data[k] = asText(v);
  return {
    kind: 'coordination', event_id: r.key, type: r.type as CoordinationEvent['type'],
    stamp: epoch(r.closed_at) ?? epoch(r.updated_at) ?? epoch(r.opened_at),
    vehicle_ids: vehicles, severity: (r.severity as Severity) ?? 'info',
    state: r.state === 'closed' ? 'resolved' : 'open', resolution: r.message ?? '', data,
  };
}

export function fromStoredMission(r: StoredMissionEvent): MissionEvent {
  return {
    kind: 'mission', mission_id: r.mission_id, stamp: epoch(r.time), from_state: r.from_state,
    to_state: r.to_state, reason: r.reason ?? '', actor: r.actor ?? '', vehicle_id: r.vehicle_id,
    details: r.details ?? {},
  };
}

/** Mission transitions carry no severity; a mission that failed or was aborted needs a look. */
export function severityOf(e: FleetEvent): Severity {
  if (e.kind === 'coordination') return e.severity;
  return e.to_state === 'failed' || e.to_state === 'aborted' ? 'warning' : 'info';
}

/** The type a row is filtered and tagged by: the coordination type, or "mission_<to_state>". */
export function typeOf(e: FleetEvent): string {
  return e.kind === 'coordination' ? e.type : `mission_${e.to_state}`;
}

export function vehiclesOf(e: FleetEvent): string[] {
  if (e.kind === 'coordination') return e.vehicle_ids;
  return e.vehicle_id ? [e.vehicle_id] : [];
}

export function stateOf(e: FleetEvent): 'open' | 'resolved' | null {
  return e.kind === 'coordination' ? e.state : null;
}

export function titleOf(e: FleetEvent): string {
  return e.kind === 'coordination' ? humanize(e.type) : `mission ${humanize(e.to_state)}`;
}

const UNITS: [string, string][] = [['_pct', '%'], ['_mps', ' m/s'], ['_deg', '°'], ['_m', ' m'], ['_s', ' s'], ['_wh', ' Wh']];

/** "distance_m", "8.4" → "distance 8.4 m": the unit moves from the key to the value. */
export function dataText(key: string, value: string): string {
  for (const [suffix, unit] of UNITS) {
    if (key.endsWith(suffix) && value !== '' && Number.isFinite(Number(value))) {
      return `${humanize(key.slice(0, -suffix.length))} ${value}${unit}`;
    }
  }
  return `${humanize(key)}: ${value}`;
}

/** One line saying what happened, for the row's second line (and its tooltip). */
export function messageOf(e: FleetEvent): string {
  if (e.kind === 'coordination') {
    const data = Object.entries(e.data).map(([k, v]) => dataText(k, v)).join(' · ');
    return [e.resolution, data].filter(Boolean).join(' — ');
  }
  const move = `${e.from_state ? humanize(e.from_state) : 'new'} → ${humanize(e.to_state)}`;
  return [`${e.mission_id}: ${move}`, e.reason, e.actor ? `by ${e.actor}` : ''].filter(Boolean).join(' · ');
}

function sameMissionEvent(a: MissionEvent, b: MissionEvent): boolean {
  // The database keeps microseconds, the live stamp nanoseconds: a second of slack.
  return a.mission_id === b.mission_id && a.to_state === b.to_state && a.from_state === b.from_state
    && Math.abs((a.stamp ?? 0) - (b.stamp ?? 0)) < 1;
}

/**
 * Live events plus older stored ones, without duplicates (the live copy wins: it may be a
 * newer state of the same event), newest first.
 */
export function mergeEvents(live: FleetEvent[], older: FleetEvent[]): FleetEvent[] {
  const coord = new Set<string>();
  const missions = new Map<string, MissionEvent[]>();
  const out: FleetEvent[] = [];
  const take = (e: FleetEvent): void => {
    if (e.kind === 'coordination') {
      if (coord.has(e.event_id)) return;
      coord.add(e.event_id);
    } else {
      const seen = missions.get(e.mission_id) ?? [];
      if (seen.some((m) => sameMissionEvent(m, e))) return;
      seen.push(e);
      missions.set(e.mission_id, seen);
    }
    out.push(e);
  };
  live.forEach(take);
  older.forEach(take);
  return sortNewestFirst(out);
}

export function sortNewestFirst(list: FleetEvent[]): FleetEvent[] {
  const rank: Record<Severity, number> = { critical: 0, warning: 1, info: 2 };
  return list
    .map((e, i) => ({ e, i }))
    .sort((a, b) => (b.e.stamp ?? 0) - (a.e.stamp ?? 0)
      || rank[severityOf(a.e)] - rank[severityOf(b.e)]
      || b.i - a.i)
    .map((x) => x.e);
}

export interface EventFilter {
  severity: Severity | '';
  kind: FleetEvent['kind'] | '';
  type: string;
  state: 'open' | 'resolved' | '';
  vehicle: string;
  site: string | null;
}

export const NO_EVENT_FILTER: EventFilter = { severity: '', kind: '', type: '', state: '', vehicle: '', site: null };

/**
 * Whether `e` passes `f`. `siteOf` gives a vehicle's site; an event none of whose vehicles
 * has a known site is kept under a site filter (it cannot be told apart, and hiding an
 * alarm is worse than showing one too many).
 */
export function matchesEvent(e: FleetEvent, f: EventFilter, siteOf: (id: string) => string | null | undefined): boolean {
  if (f.kind && e.kind !== f.kind) return false;
  if (f.severity && severityOf(e) !== f.severity) return false;
  if (f.type && typeOf(e) !== f.type) return false;
  if (f.state && stateOf(e) !== f.state) return false;
  const vehicles = vehiclesOf(e);
  const needle = f.vehicle.trim().toLowerCase();
  if (needle && !vehicles.some((v) => v.toLowerCase().includes(needle))
      && !(e.kind === 'mission' && e.mission_id.toLowerCase().includes(needle))) return false;
  if (f.site) {
    const sites = vehicles.map(siteOf).filter((s) => s !== undefined && s !== null);
    if (sites.length && !sites.includes(f.site)) return false;
  }
  return true;
}

export function filterEvents(list: FleetEvent[], f: EventFilter, siteOf: (id: string) => string | null | undefined): FleetEvent[] {
  return list.filter((e) => matchesEvent(e, f, siteOf));
}

/** The events about one vehicle (either vehicle of a pair, or a mission's vehicle). */
export function eventsOfVehicle(list: FleetEvent[], id: string): FleetEvent[] {
  return list.filter((e) => vehiclesOf(e).includes(id));
}

/** Every type present, for the type filter's options (coordination types first). */
export function typesPresent(list: FleetEvent[]): string[] {
  const set = new Set(list.map(typeOf));
  return [...set].sort((a, b) => Number(a.startsWith('mission_')) - Number(b.startsWith('mission_')) || a.localeCompare(b));
}
