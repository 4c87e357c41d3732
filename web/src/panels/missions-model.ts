// What the missions list computes from the store without touching the DOM: which missions
// are still live, the order an operator reads them in, and the planned path of one mission
// (from the planner's "planned for" event or a later waypoint change).
import type { Feature, FeatureCollection, LineString, Polygon } from 'geojson';
import type { LngLat } from '../map/api';
import type { Mission } from '../types';

export const TERMINAL_STATES = new Set(['completed', 'aborted', 'failed']);
/** States in which a mission owns its vehicle (return-home makes sense). */
export const HOLDING_STATES = new Set(['assigned', 'active', 'paused']);
/** States in which the planner still moves the pin (before a vehicle took it). */
export const PINNABLE_STATES = new Set(['planned', 'queued']);

export const MISSION_STATE_COLORS: Record<string, string> = {
  planned: '#8a8f98',
  queued: '#a7b4c6',
  assigned: '#36c5d6',
  active: '#2f8cff',
  paused: '#f0a500',
  completed: '#3fb950',
  aborted: '#ff8c42',
  failed: '#ff4d4f',
};

// Within the live group, missions flying come before those still waiting.
const STATE_RANK: Record<string, number> = {
  active: 0, paused: 1, assigned: 2, queued: 3, planned: 4, failed: 5, aborted: 6, completed: 7,
};

export type MissionFilter = 'active' | 'finished' | 'all';

export function isLive(m: Pick<Mission, 'state'>): boolean {
  return !TERMINAL_STATES.has(m.state);
}

/** The site a mission belongs to, as far as the page knows it. */
export function missionSite(m: Mission, vehicleSite?: (id: string) => string | null | undefined): string | null {
  const own = (m as Mission & { site_id?: string | null }).site_id;
  if (own) return own;
  const vid = m.vehicle_id ?? m.pinned_vehicle_id;
  return (vid && vehicleSite?.(vid)) || null;
}

export interface ListOptions {
  filter: MissionFilter;
  text: string;
  site: string | null;
  vehicleSite?: (id: string) => string | null | undefined;
}

function matchesText(m: Mission, text: string): boolean {
  if (!text) return true;
  const hay = [m.mission_id, m.type, m.state, m.vehicle_id, m.pinned_vehicle_id, m.created_by, m.reason]
    .filter(Boolean).join(' ').toLowerCase();
  return text.toLowerCase().split(/\s+/).filter(Boolean).every((w) => hay.includes(w));
}

/** Live missions first, most urgent first; then the finished, newest first. */
export function compareMissions(a: Mission, b: Mission): number {
  const la = isLive(a) ? 0 : 1;
  const lb = isLive(b) ? 0 : 1;
  if (la !== lb) return la - lb;
  if (la === 0) {
    if (a.priority !== b.priority) return b.priority - a.priority;
    const sa = STATE_RANK[a.state] ?? 9;
    const sb = STATE_RANK[b.state] ?? 9;
    if (sa !== sb) return sa - sb;
  }
  const ua = a.updated ?? 0;
  const ub = b.updated ?? 0;
  if (ua !== ub) return ub - ua;
  return a.mission_id.localeCompare(b.mission_id);
}

export function listMissions(all: Iterable<Mission>, o: ListOptions): Mission[] {
  const out: Mission[] = [];
  for (const m of all) {
    if (o.filter === 'active' && !isLive(m)) continue;
    if (o.filter === 'finished' && isLive(m)) continue;
    if (o.site) {
      const s = missionSite(m, o.vehicleSite);
      if (s && s !== o.site) continue;
    }
    if (!matchesText(m, o.text.trim())) continue;
    out.push(m);
  }
  return out.sort(compareMissions);
}

export function countByFilter(all: Iterable<Mission>): Record<MissionFilter, number> {
  const c = { active: 0, finished: 0, all: 0 };
  for (const m of all) {
    c.all++;
    if (isLive(m)) c.active++;
    else c.finished++;
  }
  return c;
}

/** A mission id in a URL path: split parts keep their "/", everything else is escaped. */
export function missionPath(id: string): string {
  return id.split('/').map(encodeURIComponent).join('/');
}

// ---- the planned path ------------------------------------------------------------------

export interface PlannedShape {
  path: LngLat[];
  area: Polygon | null;
}

function lngLat(p: unknown): LngLat | null {
  if (!Array.isArray(p) || p.length < 2) return null;
  const [lon, lat] = p;
  return typeof lon === 'number' && typeof lat === 'number' && Number.isFinite(lon) && Number.isFinite(lat)
    ? [lon, lat] : null;
}

function points(list: unknown): LngLat[] | null {
  if (!Array.isArray(list)) return null;
  const out = list.map(lngLat).filter((p): p is LngLat => p !== null);
  return out.length >= 2 ? out : null;
}

function polygonOf(a: unknown): Polygon | null {
  if (!a || typeof a !== 'object') return null;
  const g = a as { type?: string; coordinates?: unknown; geometry?: unknown };
  if (g.type === 'Feature') return polygonOf(g.geometry);
  if (g.type === 'Polygon' && Array.isArray(g.coordinates)) return g as Polygon;
  if (g.type === 'MultiPolygon' && Array.isArray(g.coordinates) && Array.isArray(g.coordinates[0])) {
    // The highlight shows the outline; the first polygon is the area drawn.
    return { type: 'Polygon', coordinates: g.coordinates[0] as number[][][] };
  }
  return null;
}

/**
 * The shape a mission event's details carry: a later waypoint change (`waypoints` rows
 * [lon, lat, alt, kind, hold]) or the planner's plan (`plan.path`), and the area.
 */
export function shapeFromDetails(details: unknown): PlannedShape | null {
  if (!details || typeof details !== 'object') return null;
  const d = details as { waypoints?: unknown; plan?: { path?: unknown }; area?: unknown };
  const path = points(d.plan?.path) ?? points(d.waypoints);
  if (!path) return null;
  return { path, area: polygonOf(d.area) };
}

export interface DetailsAt { stamp: number | null; details: unknown }

/** The newest shape among a mission's events (any order), keeping the area of an older one. */
export function latestShape(events: DetailsAt[]): PlannedShape | null {
  const sorted = [...events].sort((a, b) => (b.stamp ?? 0) - (a.stamp ?? 0));
  let found: PlannedShape | null = null;
  for (const e of sorted) {
    const s = shapeFromDetails(e.details);
    if (!s) continue;
    if (!found) found = s;
    if (found.area) break;
    if (s.area) { found = { ...found, area: s.area }; break; }
  }
  return found;
}

export function shapeCollection(id: string, s: PlannedShape): FeatureCollection {
  const features: Feature[] = [];
  if (s.area) features.push({ type: 'Feature', properties: { kind: 'area', mission_id: id }, geometry: s.area });
  const line: Feature<LineString> = {
    type: 'Feature', properties: { kind: 'path', mission_id: id },
    geometry: { type: 'LineString', coordinates: s.path },
  };
  features.push(line);
  return { type: 'FeatureCollection', features };
}

export function shapeCoords(s: PlannedShape): LngLat[] {
  const ring = (s.area?.coordinates[0] ?? []).map(lngLat).filter((p): p is LngLat => p !== null);
  return [...s.path, ...ring];
}

/** The figures the command answers carry, as one line. */
export function ackText(answer: unknown): string {
  const a = answer as { message?: string; vehicle_mode?: string | null } | undefined;
  const msg = a?.message || 'acknowledged';
  return a?.vehicle_mode ? `${msg} (vehicle ${a.vehicle_mode})` : msg;
}

// ---- which mission the Missions tab opens on -------------------------------------------
// The Plan tab hands over the mission it just created; the tab also remembers its own
// selection while the operator looks at another tab (panels unmount on a tab switch).
let remembered: string | null = null;

export function focusMission(id: string | null): void {
  remembered = id;
}

export function rememberedMission(): string | null {
  return remembered;
}
