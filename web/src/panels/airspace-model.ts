// No-fly zones as data: whether one is in force now, the edit form and the bodies of
// routes/zones.py (a zone is a GeoJSON Feature whose properties are exactly id, name,
// floor_m, ceiling_m, active_from, active_until; an edit replaces the whole set with PUT).
import type { LngLat } from '../map/api';
import type { ZoneFeature } from '../types';
import { localToPosix, posixToLocal } from './plan-model';

export type ZoneStatus = 'active' | 'scheduled' | 'expired';
/** The bridge's default ceiling: "from the floor up". */
export const OPEN_CEILING_M = 10_000;
export const ZONE_ID_RE = /^[A-Za-z0-9][A-Za-z0-9_.-]{0,63}$/;

export function zoneStatus(z: Pick<ZoneFeature, 'properties'>, nowS = Date.now() / 1000): ZoneStatus {
  const { active_from: from, active_until: until } = z.properties;
  if (until != null && until <= nowS) return 'expired';
  if (from != null && from > nowS) return 'scheduled';
  return 'active';
}

const STATUS_RANK: Record<ZoneStatus, number> = { active: 0, scheduled: 1, expired: 2 };

export function sortZones(zones: ZoneFeature[], nowS = Date.now() / 1000): ZoneFeature[] {
  return [...zones].sort((a, b) => {
    const d = STATUS_RANK[zoneStatus(a, nowS)] - STATUS_RANK[zoneStatus(b, nowS)];
    return d || (a.properties.name || a.id).localeCompare(b.properties.name || b.id);
  });
}

export function fmtBand(floor: number | null, ceiling: number | null): string {
  const f = floor ?? 0;
  if (ceiling == null || ceiling >= OPEN_CEILING_M) return f > 0 ? `${Math.round(f)} m and up` : 'ground and up';
  return `${Math.round(f)}–${Math.round(ceiling)} m`;
}

/** The outer ring without its closing point (what the map edits). */
export function openRing(z: Pick<ZoneFeature, 'geometry'>): LngLat[] {
  const ring = (z.geometry.coordinates[0] ?? []).map((p) => [p[0], p[1]] as LngLat);
  if (ring.length > 1) {
    const [a, b] = [ring[0], ring[ring.length - 1]];
    if (a[0] === b[0] && a[1] === b[1]) ring.pop();
  }
  return ring;
}

export interface ZoneForm {
  id: string;
  name: string;
  floor: string;
  ceiling: string;
  /** datetime-local text; empty: no bound. */
  from: string;
  until: string;
}

export function formOf(z: ZoneFeature | null): ZoneForm {
  if (!z) return { id: '', name: '', floor: '0', ceiling: '', from: '', until: '' };
  const p = z.properties;
  return {
    id: z.id, name: p.name ?? '', floor: String(p.floor_m ?? 0),
    ceiling: p.ceiling_m == null || p.ceiling_m >= OPEN_CEILING_M ? '' : String(p.ceiling_m),
    from: posixToLocal(p.active_from), until: posixToLocal(p.active_until),
  };
}

/** A zone id from its name ("Airport East" → "airport-east"), unique among `taken`. */
export function slugId(name: string, taken: Iterable<string>): string {
  const base = name.toLowerCase().normalize('NFKD').replace(/[^a-z0-9]+/g, '-').replace(/^-+|-+$/g, '').slice(0, 56) || 'zone';
  const used = new Set(taken);
  if (!used.has(base)) return base;
  for (let i = 2; ; i++) if (!used.has(`${base}-${i}`)) return `${base}-${i}`;
}

export type Built<T> = { ok: true; value: T } | { ok: false; error: string };

/** The Feature routes/zones.py accepts, or what is wrong with the form. */
export function zoneFeature(f: ZoneForm, ring: LngLat[] | null): Built<ZoneFeature> {
  const id = f.id.trim();
  if (!ZONE_ID_RE.test(id)) return { ok: false, error: 'Id: letters, digits, "-", "_" or "." (starting with a letter or digit), at most 64' };
  if (!ring || ring.length < 3) return { ok: false, error: 'Draw the zone on the map (3 corners or more)' };
  const floor = f.floor.trim() ? Number(f.floor) : 0;
  if (!Number.isFinite(floor) || floor < 0) return { ok: false, error: 'Floor: a height of 0 m or more' };
  const ceiling = f.ceiling.trim() ? Number(f.ceiling) : OPEN_CEILING_M;
  if (!Number.isFinite(ceiling) || ceiling <= floor) return { ok: false, error: 'Ceiling: above the floor (empty: no ceiling)' };
  const from = localToPosix(f.from);
  const until = localToPosix(f.until);
  if (f.from.trim() && from === null) return { ok: false, error: 'Active from: not a date and time' };
  if (f.until.trim() && until === null) return { ok: false, error: 'Active until: not a date and time' };
  if (from !== null && until !== null && from >= until) return { ok: false, error: 'Active until: after active from' };
  const coords = ring.map((p) => [p[0], p[1]]);
  coords.push([ring[0][0], ring[0][1]]);
  return {
    ok: true,
    value: {
      type: 'Feature', id,
      geometry: { type: 'Polygon', coordinates: [coords] },
      properties: { id, name: f.name.trim() || id, floor_m: floor, ceiling_m: ceiling, active_from: from, active_until: until },
    },
  };
}

/** A zone as the bridge accepts it back (only the keys its model allows). */
export function cleanZone(z: ZoneFeature): ZoneFeature {
  const p = z.properties;
  return {
    type: 'Feature', id: z.id,
    geometry: { type: 'Polygon', coordinates: z.geometry.coordinates },
    properties: {
      id: z.id, name: p.name ?? '', floor_m: p.floor_m, ceiling_m: p.ceiling_m,
      active_from: p.active_from, active_until: p.active_until,
    },
  };
}

/** PUT /zones: the set in force with `replaced` (by its id `oldId`) swapped in. */
export function replaceBody(zones: ZoneFeature[], oldId: string, replaced: ZoneFeature): { type: 'FeatureCollection'; features: ZoneFeature[] } {
  let found = false;
  const features = zones.map((z) => {
    if (z.id !== oldId) return cleanZone(z);
    found = true;
    return replaced;
  });
  if (!found) features.push(replaced);
  return { type: 'FeatureCollection', features };
}
