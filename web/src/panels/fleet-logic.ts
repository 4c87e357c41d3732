// The fleet table's filtering, sorting and counting, kept free of the DOM so they can be
// tested and so 1,000 vehicles cost one pass each per render.
import type { Grant, Liveness, Vehicle, VehicleStatusName } from '../types';
import { can } from '../api';

/** Below this the "low battery" toggle keeps a vehicle (the battery bar turns amber too). */
export const LOW_BATTERY_PCT = 30;
/** Rows rendered at once; "show more" adds another page. */
export const PAGE_ROWS = 200;

export type SortKey = 'vehicle' | 'site' | 'status' | 'liveness' | 'battery' | 'mode' | 'mission' | 'seen';
export type SortDir = 'asc' | 'desc';

export interface FleetFilter {
  text: string;
  status: VehicleStatusName | '';
  /** 'degraded': stale or lost. */
  liveness: Liveness | 'degraded' | '';
  site: string | null;
  lowBattery: boolean;
}

export const NO_FILTER: FleetFilter = { text: '', status: '', liveness: '', site: null, lowBattery: false };

export function isLowBattery(v: Vehicle): boolean {
  return v.battery_pct != null && Number.isFinite(v.battery_pct) && v.battery_pct < LOW_BATTERY_PCT;
}

export function matchesFilter(v: Vehicle, f: FleetFilter): boolean {
  if (f.site && v.site_id !== f.site) return false;
  if (f.status && v.status !== f.status) return false;
  if (f.liveness === 'degraded' ? v.liveness === 'fresh' : f.liveness && v.liveness !== f.liveness) return false;
  if (f.lowBattery && !isLowBattery(v)) return false;
  const needle = f.text.trim().toLowerCase();
  if (needle) {
    const hay = [v.vehicle_id, v.model, v.mission_id ?? ''];
    if (!hay.some((s) => s.toLowerCase().includes(needle))) return false;
  }
  return true;
}

export function filterVehicles(list: Iterable<Vehicle>, f: FleetFilter): Vehicle[] {
  const out: Vehicle[] = [];
  for (const v of list) if (matchesFilter(v, f)) out.push(v);
  return out;
}

// "uav2" before "uav10": operators read ids as names with numbers, not as byte strings.
const collator = new Intl.Collator(undefined, { numeric: true, sensitivity: 'base' });

// Statuses in the order an operator triages them (airborne work first, parked last).
const STATUS_RANK: Record<string, number> = {
  returning: 0, in_mission: 1, charging: 2, idle: 3, maintenance: 4, offline: 5, unknown: 6,
};
const LIVENESS_RANK: Record<string, number> = { lost: 0, stale: 1, fresh: 2 };

type Key = string | number | null;

function keyOf(v: Vehicle, k: SortKey): Key {
  switch (k) {
    case 'vehicle': return v.vehicle_id;
    case 'site': return v.site_id;
    case 'status': return STATUS_RANK[v.status] ?? 9;
    case 'liveness': return LIVENESS_RANK[v.liveness] ?? 9;
    case 'battery': return v.battery_pct != null && Number.isFinite(v.battery_pct) ? v.battery_pct : null;
    case 'mode': return v.mode || null;
    case 'mission': return v.mission_id;
    case 'seen': return v.stamp ?? null;
  }
}

function compareKeys(a: Key, b: Key): number {
  if (typeof a === 'number' && typeof b === 'number') return a - b;
  return collator.compare(String(a), String(b));
}

/**
 * Sort a copy by `key`; unknown values (no battery, no mission) go last in either direction,
 * and ties fall back to the vehicle id so rows do not jump between renders.
 */
export function sortVehicles(list: Vehicle[], key: SortKey, dir: SortDir): Vehicle[] {
  const sign = dir === 'asc' ? 1 : -1;
  const rows = list.map((v) => ({ v, k: keyOf(v, key) }));
  rows.sort((a, b) => {
    if (a.k === null || b.k === null) {
      if (a.k === null && b.k !== null) return 1;
      if (b.k === null && a.k !== null) return -1;
    } else {
      const c = compareKeys(a.k, b.k);
      if (c) return c * sign;
    }
    return collator.compare(a.v.vehicle_id, b.v.vehicle_id);
  });
  return rows.map((r) => r.v);
}

/** The direction a first click on a column sorts: numbers that matter most when high/recent. */
export function defaultDir(key: SortKey): SortDir {
  return key === 'seen' ? 'desc' : 'asc';
}

/** Clicking the sorted column flips it; another column starts at its default direction. */
export function nextSort(cur: { key: SortKey; dir: SortDir }, key: SortKey): { key: SortKey; dir: SortDir } {
  if (cur.key === key) return { key, dir: cur.dir === 'asc' ? 'desc' : 'asc' };
  return { key, dir: defaultDir(key) };
}

export interface FleetSummary {
  total: number;
  byStatus: Record<string, number>;
  lowBattery: number;
  stale: number;
  lost: number;
}

export function summarize(list: Iterable<Vehicle>): FleetSummary {
  const s: FleetSummary = { total: 0, byStatus: {}, lowBattery: 0, stale: 0, lost: 0 };
  for (const v of list) {
    s.total++;
    s.byStatus[v.status] = (s.byStatus[v.status] ?? 0) + 1;
    if (isLowBattery(v)) s.lowBattery++;
    if (v.liveness === 'stale') s.stale++;
    else if (v.liveness === 'lost') s.lost++;
  }
  return s;
}

/** "12 s" rather than "12 s ago": the column header already says "last seen". */
export function shortAge(stamp: number | null | undefined, nowS: number): string {
  if (!stamp) return 'never';
  const d = Math.max(0, nowS - stamp);
  if (d < 2) return 'now';
  if (d < 60) return `${Math.round(d)} s`;
  if (d < 3600) return `${Math.floor(d / 60)} min`;
  if (d < 86_400) return `${Math.floor(d / 3600)} h`;
  return `${Math.floor(d / 86_400)} d`;
}

/** "AUTO.MISSION" → "MISSION": in a narrow column the flight mode, not its family, matters. */
export function shortMode(mode: string | null | undefined): string {
  if (!mode) return '—';
  return mode.startsWith('AUTO.') ? mode.slice(5) : mode;
}

/**
 * May these grants command a vehicle of `site`? A vehicle without a site needs a grant at
 * every site, as the bridge decides.
 */
export function canOperateAt(grants: Grant[], site: string | null | undefined): boolean {
  return can(grants, 'operate', site ?? null);
}
