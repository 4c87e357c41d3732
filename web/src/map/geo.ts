// The map's pure logic (no MapLibre, no DOM): what the grid, the zones, the vehicles and the
// mission paths look like as GeoJSON. Kept apart so it can be tested without a browser.
import type { Feature, FeatureCollection, LineString, Point, Position } from 'geojson';
import type { ChargingEntry, Mission, Vehicle, ZoneFeature } from '../types';

export type LonLat = [number, number];

export interface Bounds { w: number; s: number; e: number; n: number }

// ---------------------------------------------------------------------------- graticule

const NICE_STEPS = [30, 20, 10, 5, 2, 1, 0.5, 0.2, 0.1, 0.05, 0.02, 0.01, 0.005, 0.002, 0.001,
  0.0005, 0.0002, 0.0001];

/** The grid spacing (degrees) that puts at least `minLines` lines across a span. */
export function graticuleStep(spanDeg: number, minLines = 4): number {
  for (const s of NICE_STEPS) if (spanDeg / s >= minLines) return s;
  return NICE_STEPS[NICE_STEPS.length - 1];
}

function decimals(step: number): number {
  let d = 0;
  while (d < 6 && Math.abs(Math.round(step * 10 ** d) - step * 10 ** d) > 1e-9) d++;
  return d;
}

export function fmtLat(v: number, d: number): string {
  if (Math.abs(v) < 1e-9) return '0°';
  return `${Math.abs(v).toFixed(d)}°${v >= 0 ? 'N' : 'S'}`;
}
export function fmtLon(v: number, d: number): string {
  const w = ((v + 540) % 360) - 180; // wrap for a map panned past the antimeridian
  if (Math.abs(w) < 1e-9 || Math.abs(Math.abs(w) - 180) < 1e-9) return `${Math.abs(w).toFixed(0)}°`;
  return `${Math.abs(w).toFixed(d)}°${w >= 0 ? 'E' : 'W'}`;
}

/**
 * Lines of latitude and longitude over `b` (a little beyond, so panning does not show an
 * edge before the next update), and a label per line at the view's left and bottom edges.
 */
export function graticule(b: Bounds): FeatureCollection {
  const s = Math.max(-85, b.s);
  const n = Math.min(85, b.n);
  const span = Math.min(n - s, b.e - b.w);
  const step = graticuleStep(span);
  const d = decimals(step);
  const padX = (b.e - b.w) * 0.5;
  const padY = (n - s) * 0.5;
  const x0 = Math.floor((b.w - padX) / step) * step;
  const x1 = Math.ceil((b.e + padX) / step) * step;
  const y0 = Math.max(-85, Math.floor((s - padY) / step) * step);
  const y1 = Math.min(85, Math.ceil((n + padY) / step) * step);
  const features: Feature[] = [];
  // A step of 1e-4 over a whole-world view would be millions of lines: the span bounds it.
  const maxLines = 400;
  const nx = Math.min(maxLines, Math.round((x1 - x0) / step));
  const ny = Math.min(maxLines, Math.round((y1 - y0) / step));
  // Longitudes read along the top edge, latitudes along the right one: the corners and the
  // left and bottom edges hold the map's buttons, legend and scale.
  const labelLat = n - (n - s) * 0.006;
  const labelLon = b.e - (b.e - b.w) * 0.004;
  // A wide, short view gets many meridians: label every k-th so the labels do not touch.
  const everyX = Math.max(1, Math.ceil((b.e - b.w) / step / 7));
  const everyY = Math.max(1, Math.ceil((n - s) / step / 7));
  for (let i = 0; i <= nx; i++) {
    const x = +(x0 + i * step).toFixed(d + 2);
    features.push({ type: 'Feature', properties: { kind: 'line' },
      geometry: { type: 'LineString', coordinates: [[x, y0], [x, y1]] } });
    if (x > b.w && x < b.e && Math.round(x / step) % everyX === 0) features.push({ type: 'Feature', properties: { kind: 'lon', label: fmtLon(x, d) },
      geometry: { type: 'Point', coordinates: [x, labelLat] } });
  }
  for (let j = 0; j <= ny; j++) {
    const y = +(y0 + j * step).toFixed(d + 2);
    features.push({ type: 'Feature', properties: { kind: 'line' },
      geometry: { type: 'LineString', coordinates: [[x0, y], [x1, y]] } });
    if (y > s && y < n && Math.round(y / step) % everyY === 0) features.push({ type: 'Feature', properties: { kind: 'lat', label: fmtLat(y, d) },
      geometry: { type: 'Point', coordinates: [labelLon, y] } });
  }
  return { type: 'FeatureCollection', features };
}

// ---------------------------------------------------------------------------- zones

export type ZoneClass = 'active' | 'scheduled' | 'expired';

/** Whether a no-fly zone applies now, will later, or no longer does. */
export function zoneClass(z: ZoneFeature, nowS: number): ZoneClass {
  const from = z.properties.active_from;
  const until = z.properties.active_until;
  if (until != null && until <= nowS) return 'expired';
  if (from != null && from > nowS) return 'scheduled';
  return 'active';
}

/** The zones to draw (expired ones are not), with their class, filtered to a site. */
export function zoneFeatures(zones: ZoneFeature[], nowS: number, site: string | null): FeatureCollection {
  const features: Feature[] = [];
  for (const z of zones) {
    const cls = zoneClass(z, nowS);
    if (cls === 'expired') continue;
    if (site && z.properties.site_id && z.properties.site_id !== site) continue;
    features.push({
      type: 'Feature', id: z.id, geometry: z.geometry,
      properties: { ...z.properties, id: z.properties.id ?? z.id, cls },
    });
  }
  return { type: 'FeatureCollection', features };
}

/** When the next zone changes class (so the map redraws then), or null. */
export function nextZoneChange(zones: ZoneFeature[], nowS: number): number | null {
  let next: number | null = null;
  for (const z of zones) {
    for (const t of [z.properties.active_from, z.properties.active_until]) {
      if (t != null && t > nowS && (next === null || t < next)) next = t;
    }
  }
  return next;
}

// ---------------------------------------------------------------------------- vehicles

export interface VehicleProps {
  id: string;
  status: string;
  live: string;
  /** Heading in degrees, -1 when unknown (the icon is then a dot). */
  hdg: number;
  /** Battery percent, -1 when unknown. */
  bat: number;
  label: string;
}

export function vehicleLabel(v: Vehicle): string {
  const b = v.battery_pct;
  return b == null || !Number.isFinite(b) ? v.vehicle_id : `${v.vehicle_id} · ${Math.round(b)}%`;
}

/** A vehicle as a map point, or null when it has no position (or belongs to another site). */
export function vehicleFeature(v: Vehicle, site: string | null): Feature<Point, VehicleProps> | null {
  const p = v.position;
  if (!p || !Number.isFinite(p.longitude) || !Number.isFinite(p.latitude)) return null;
  if (site && v.site_id !== site) return null;
  const h = v.heading_deg;
  return {
    type: 'Feature', id: v.vehicle_id,
    geometry: { type: 'Point', coordinates: [p.longitude, p.latitude] },
    properties: {
      id: v.vehicle_id, status: v.status, live: v.liveness,
      hdg: h == null || !Number.isFinite(h) ? -1 : ((h % 360) + 360) % 360,
      bat: v.battery_pct == null || !Number.isFinite(v.battery_pct) ? -1 : v.battery_pct,
      label: vehicleLabel(v),
    },
  };
}

/** Homes shared by several vehicles (a station's pads) are drawn once. */
export function homeFeatures(vehicles: Iterable<Vehicle>, site: string | null): FeatureCollection {
  const byPlace = new Map<string, { at: LonLat; ids: string[] }>();
  for (const v of vehicles) {
    const h = v.home;
    if (!h || (site && v.site_id !== site)) continue;
    const key = `${h.longitude.toFixed(6)},${h.latitude.toFixed(6)}`;
    let e = byPlace.get(key);
    if (!e) byPlace.set(key, (e = { at: [h.longitude, h.latitude], ids: [] }));
    e.ids.push(v.vehicle_id);
  }
  const features: Feature[] = [];
  for (const e of byPlace.values()) {
    e.ids.sort();
    const shown = e.ids.slice(0, 6).join(', ') + (e.ids.length > 6 ? ` +${e.ids.length - 6}` : '');
    features.push({ type: 'Feature', geometry: { type: 'Point', coordinates: e.at },
      properties: { kind: 'home', ids: shown, n: e.ids.length } });
  }
  return { type: 'FeatureCollection', features };
}

// ---------------------------------------------------------------------------- charging

export interface StationLoad { queued: number; flying: number; charging: number }

/** Per station: how many vehicles wait, fly to a pad, and charge. */
export function stationLoads(entries: ChargingEntry[]): Map<string, StationLoad> {
  const out = new Map<string, StationLoad>();
  for (const e of entries) {
    if (!e.station_id) continue;
    let l = out.get(e.station_id);
    if (!l) out.set(e.station_id, (l = { queued: 0, flying: 0, charging: 0 }));
    if (e.state === 'charging') l.charging++;
    else if (e.state === 'flying_to_pad') l.flying++;
    else l.queued++;
  }
  return out;
}

// ---------------------------------------------------------------------------- paths

/** The missions whose planned path the live map shows. */
export const PATH_STATES = new Set(['assigned', 'active', 'paused', 'running']);

export function showsPath(m: Mission): boolean {
  return PATH_STATES.has(m.state) && !!m.vehicle_id;
}

const M_PER_DEG = 111_320;

/** Where on segment a→b (0..1) the point p is nearest, and the squared distance (m²). */
export function projectOnSegment(p: Position, a: Position, b: Position): { t: number; d2: number } {
  const k = Math.cos((p[1] * Math.PI) / 180);
  const ax = (a[0] - p[0]) * k, ay = a[1] - p[1];
  const bx = (b[0] - p[0]) * k, by = b[1] - p[1];
  const dx = bx - ax, dy = by - ay;
  const len2 = dx * dx + dy * dy;
  const t = len2 > 0 ? Math.max(0, Math.min(1, -(ax * dx + ay * dy) / len2)) : 0;
  const x = ax + t * dx, y = ay + t * dy;
  return { t, d2: (x * x + y * y) * M_PER_DEG * M_PER_DEG };
}

export interface PathSplit {
  flown: Position[];
  remaining: Position[];
  /** The segment the vehicle is on (start index); the next search starts here. */
  segment: number;
}

/**
 * Split a planned path where the vehicle is. The search starts at the segment found last time
 * (`from`) and at the mission's current waypoint when the path is one point per waypoint, and
 * only looks ahead, so a lawn-mower pattern whose legs lie side by side does not make the
 * split jump back to an earlier leg.
 */
export function splitPath(path: Position[], pos: Position | null, from = 0, waypoint: number | null = null): PathSplit {
  if (path.length < 2 || !pos) return { flown: [], remaining: path, segment: 0 };
  let start = Math.max(0, Math.min(from, path.length - 2));
  if (waypoint != null && waypoint > 0) start = Math.max(start, Math.min(waypoint - 1, path.length - 2));
  let best = start, bestT = 0, bestD = Infinity;
  // Look ahead a bounded number of segments: enough for a vehicle that moved several
  // waypoints between two looks, not so far that a leg crossing the past one wins.
  const end = Math.min(path.length - 1, start + 40);
  for (let i = start; i < end; i++) {
    const { t, d2 } = projectOnSegment(pos, path[i], path[i + 1]);
    if (d2 < bestD - 1e-6) { bestD = d2; best = i; bestT = t; }
  }
  const a = path[best], b = path[best + 1];
  const at: Position = [a[0] + (b[0] - a[0]) * bestT, a[1] + (b[1] - a[1]) * bestT];
  return {
    flown: [...path.slice(0, best + 1), at],
    remaining: [at, ...path.slice(best + 1)],
    segment: best,
  };
}

// ---------------------------------------------------------------------------- bounds

export function boundsOf(coords: Iterable<Position>): [LonLat, LonLat] | null {
  let w = Infinity, s = Infinity, e = -Infinity, n = -Infinity;
  for (const c of coords) {
    if (!Number.isFinite(c[0]) || !Number.isFinite(c[1])) continue;
    if (c[0] < w) w = c[0];
    if (c[0] > e) e = c[0];
    if (c[1] < s) s = c[1];
    if (c[1] > n) n = c[1];
  }
  if (!Number.isFinite(w)) return null;
  return [[w, s], [e, n]];
}

export function* featureCoords(fc: FeatureCollection | Feature | null | undefined): Generator<Position> {
  if (!fc) return;
  const feats = fc.type === 'FeatureCollection' ? fc.features : [fc];
  for (const f of feats) {
    const g = f.geometry;
    if (!g) continue;
    if (g.type === 'Point') yield g.coordinates;
    else if (g.type === 'LineString' || g.type === 'MultiPoint') yield* g.coordinates;
    else if (g.type === 'Polygon' || g.type === 'MultiLineString') for (const r of g.coordinates) yield* r;
    else if (g.type === 'MultiPolygon') for (const p of g.coordinates) for (const r of p) yield* r;
  }
}

export function line(coords: Position[], properties: Record<string, unknown> = {}): Feature<LineString> {
  return { type: 'Feature', properties, geometry: { type: 'LineString', coordinates: coords } };
}

/** A polygon's ring as the draw tool gives it back: no closing point. */
export function openRing(ring: Position[]): LonLat[] {
  const out = ring.map((c) => [c[0], c[1]] as LonLat);
  if (out.length > 1) {
    const a = out[0], b = out[out.length - 1];
    if (a[0] === b[0] && a[1] === b[1]) out.pop();
  }
  return out;
}

/** A ring closed (first point repeated at the end), as GeoJSON wants. */
export function closeRing(coords: LonLat[]): LonLat[] {
  if (coords.length < 1) return coords;
  const a = coords[0], b = coords[coords.length - 1];
  return a[0] === b[0] && a[1] === b[1] ? coords : [...coords, a];
}

/** "#rrggbb"/"#rgb" with an alpha, as an rgba() string (anything else is returned as is). */
export function withAlpha(color: string, alpha: number): string {
  const m = /^#([0-9a-f]{3}|[0-9a-f]{6})$/i.exec(color.trim());
  if (!m) return color;
  let h = m[1];
  if (h.length === 3) h = h.split('').map((c) => c + c).join('');
  const n = parseInt(h, 16);
  return `rgba(${(n >> 16) & 255}, ${(n >> 8) & 255}, ${n & 255}, ${alpha})`;
}
