// The plan form as data: which shape each mission type needs, the planner's request
// (fleet_core.planning.request: its keys and nothing else) built from the form and the
// drawn shape, the bridge's request bodies, and the preview answer turned into a map overlay.
import type { Feature, FeatureCollection, LineString, Point, Polygon } from 'geojson';
import type { DrawMode, LngLat, PreviewOverlay } from '../map/api';
import type { ZoneFeature } from '../types';

export const PLAN_TYPES = ['survey', 'inspection', 'patrol', 'delivery', 'emergency'] as const;
export type PlanType = (typeof PLAN_TYPES)[number];
export const PATTERNS = ['lawnmower', 'crosshatch', 'perimeter', 'spiral'] as const;
export type Pattern = (typeof PATTERNS)[number];

/** The form as typed: numbers stay strings until the request is built (half-typed input). */
export interface PlanForm {
  type: PlanType;
  name: string;
  altitude: string;
  speed: string;
  // survey
  pattern: Pattern;
  spiral: 'outward' | 'inward';
  sweepDeg: string;
  cameraMode: 'footprint' | 'fov';
  footprintW: string;
  footprintH: string;
  hfov: string;
  vfov: string;
  sideOverlap: string;
  frontOverlap: string;
  // inspection
  inspection: 'perimeter' | 'orbit';
  orbitRadius: string;
  // patrol
  repeat: string;
  // delivery
  payloadKg: string;
  handlingS: string;
  // emergency
  hoverS: string;
  land: boolean;
  // all
  returnHome: boolean;
  /** datetime-local text, local time; empty: as soon as possible. */
  startAt: string;
  priority: string;
  site: string;
  vehicle: string;
}

export const DEFAULT_FORM: PlanForm = {
  type: 'survey', name: '', altitude: '40', speed: '8',
  pattern: 'lawnmower', spiral: 'outward', sweepDeg: '', cameraMode: 'footprint',
  footprintW: '40', footprintH: '30', hfov: '70', vfov: '55', sideOverlap: '70', frontOverlap: '80',
  inspection: 'perimeter', orbitRadius: '30', repeat: '1', payloadKg: '1', handlingS: '30',
  hoverS: '60', land: false, returnHome: true, startAt: '', priority: '5', site: '', vehicle: '',
};

/** The shape a mission type is drawn as. */
export function drawModeFor(f: Pick<PlanForm, 'type' | 'inspection'>): DrawMode {
  switch (f.type) {
    case 'survey': return 'polygon';
    case 'inspection': return f.inspection === 'orbit' ? 'point' : 'polygon';
    case 'patrol':
    case 'delivery': return 'linestring';
    case 'emergency': return 'point';
  }
}

export function drawLabel(mode: DrawMode, f: Pick<PlanForm, 'type'>): string {
  if (mode === 'polygon') return 'Draw area';
  if (mode === 'linestring') return f.type === 'delivery' ? 'Draw pickup → drop-off' : 'Draw route';
  return f.type === 'emergency' ? 'Pick target' : 'Pick centre';
}

export interface Drawn { mode: DrawMode; coords: LngLat[] }

export type Built<T> = { ok: true; value: T } | { ok: false; error: string };

class FormError extends Error {}

function num(raw: string, label: string, opts: { min?: number; max?: number; int?: boolean } = {}): number {
  const t = raw.trim();
  const v = Number(t);
  if (!t || !Number.isFinite(v)) throw new FormError(`${label}: enter a number`);
  if (opts.int && !Number.isInteger(v)) throw new FormError(`${label}: enter a whole number`);
  if (opts.min !== undefined && v < opts.min) throw new FormError(`${label}: at least ${opts.min}`);
  if (opts.max !== undefined && v > opts.max) throw new FormError(`${label}: at most ${opts.max}`);
  return v;
}

function optionalNum(raw: string, label: string, opts: { min?: number; max?: number } = {}): number | undefined {
  return raw.trim() ? num(raw, label, opts) : undefined;
}

function position(p: LngLat): { latitude: number; longitude: number } {
  return { latitude: p[1], longitude: p[0] };
}

/** A ring from the map (open) as a closed GeoJSON polygon. */
export function closedPolygon(coords: LngLat[]): Polygon {
  const ring = coords.map((c) => [c[0], c[1]]);
  const [a, b] = [ring[0], ring[ring.length - 1]];
  if (ring.length && (a[0] !== b[0] || a[1] !== b[1])) ring.push([a[0], a[1]]);
  return { type: 'Polygon', coordinates: [ring] };
}

/** "2026-01-02T03:04" in local time → POSIX seconds; null for empty or unreadable text. */
export function localToPosix(text: string): number | null {
  if (!text.trim()) return null;
  const t = new Date(text).getTime();
  return Number.isFinite(t) ? t / 1000 : null;
}

/** POSIX seconds → the local "YYYY-MM-DDTHH:MM" a datetime-local input shows. */
export function posixToLocal(s: number | null | undefined): string {
  if (s == null || !Number.isFinite(s)) return '';
  const d = new Date(s * 1000);
  const p = (n: number) => String(n).padStart(2, '0');
  return `${d.getFullYear()}-${p(d.getMonth() + 1)}-${p(d.getDate())}T${p(d.getHours())}:${p(d.getMinutes())}`;
}

function needShape(drawn: Drawn | null, mode: DrawMode, min: number, what: string): LngLat[] {
  if (!drawn || drawn.mode !== mode || drawn.coords.length < min) throw new FormError(what);
  return drawn.coords;
}

/** The planner's mission request (the `spec`), or the first thing the form lacks. */
export function buildSpec(f: PlanForm, drawn: Drawn | null): Built<Record<string, unknown>> {
  try {
    const spec: Record<string, unknown> = {
      type: f.type,
      altitude_m: num(f.altitude, 'Altitude', { min: 1, max: 500 }),
    };
    if (f.name.trim()) spec.name = f.name.trim();
    const speed = optionalNum(f.speed, 'Speed', { min: 0.1, max: 30 });
    if (speed !== undefined) spec.speed_mps = speed;
    const mode = drawModeFor(f);
    switch (f.type) {
      case 'survey': {
        spec.area = closedPolygon(needShape(drawn, 'polygon', 3, 'Draw the area to survey on the map'));
        spec.pattern = f.pattern;
        if (f.pattern === 'spiral') spec.spiral = f.spiral;
        const sweep = optionalNum(f.sweepDeg, 'Line bearing', { min: -360, max: 360 });
        if (sweep !== undefined) spec.sweep_deg = sweep;
        spec.camera = f.cameraMode === 'fov'
          ? { hfov_deg: num(f.hfov, 'Horizontal FOV', { min: 1, max: 170 }), vfov_deg: num(f.vfov, 'Vertical FOV', { min: 1, max: 170 }) }
          : { footprint_width_m: num(f.footprintW, 'Footprint width', { min: 0.1, max: 10_000 }),
            footprint_height_m: num(f.footprintH, 'Footprint height', { min: 0.1, max: 10_000 }) };
        spec.side_overlap_pct = num(f.sideOverlap, 'Side overlap', { min: 0, max: 99 });
        spec.front_overlap_pct = num(f.frontOverlap, 'Front overlap', { min: 0, max: 99 });
        break;
      }
      case 'inspection':
        if (mode === 'point') {
          const [c] = needShape(drawn, 'point', 1, 'Pick the structure\'s centre on the map');
          spec.orbit = { centre: position(c), radius_m: num(f.orbitRadius, 'Orbit radius', { min: 1, max: 5000 }) };
        } else {
          spec.area = closedPolygon(needShape(drawn, 'polygon', 3, 'Draw the perimeter to inspect on the map'));
        }
        break;
      case 'patrol':
        spec.route = needShape(drawn, 'linestring', 2, 'Draw the patrol route (2 points or more) on the map').map(position);
        spec.repeat = num(f.repeat, 'Laps', { min: 1, max: 100, int: true });
        break;
      case 'delivery': {
        const line = needShape(drawn, 'linestring', 2, 'Draw the pickup then the drop-off point on the map');
        spec.pickup = position(line[0]);
        spec.dropoff = position(line[line.length - 1]);
        spec.payload_kg = num(f.payloadKg, 'Payload', { min: 0, max: 1000 });
        spec.handling_s = num(f.handlingS, 'Handling time', { min: 0, max: 3600 });
        break;
      }
      case 'emergency': {
        const [t] = needShape(drawn, 'point', 1, 'Pick the target on the map');
        spec.target = position(t);
        spec.hover_s = num(f.hoverS, 'Hover time', { min: 0, max: 7200 });
        spec.land = f.land;
        break;
      }
    }
    if (f.startAt.trim()) {
      const at = localToPosix(f.startAt);
      if (at === null) throw new FormError('Start at: not a date and time');
      spec.scheduled_start = at;
    }
    spec.return_home = f.returnHome;
    return { ok: true, value: spec };
  } catch (err) {
    if (err instanceof FormError) return { ok: false, error: err.message };
    throw err;
  }
}

function priorityOf(f: PlanForm): number {
  return num(f.priority, 'Priority', { min: 1, max: 10, int: true });
}

function wrap<T>(fn: () => T): Built<T> {
  try {
    return { ok: true, value: fn() };
  } catch (err) {
    if (err instanceof FormError) return { ok: false, error: err.message };
    throw err;
  }
}

/** POST /missions/preview: plan for the pinned vehicle when there is one. */
export function previewBody(spec: Record<string, unknown>, f: PlanForm): Record<string, unknown> {
  return f.vehicle ? { spec, vehicle_id: f.vehicle } : { spec };
}

/** POST /missions. */
export function createBody(spec: Record<string, unknown>, f: PlanForm): Built<Record<string, unknown>> {
  return wrap(() => {
    const body: Record<string, unknown> = { spec, priority: priorityOf(f) };
    if (f.vehicle) body.vehicle_id = f.vehicle;
    if (f.site) body.site_id = f.site;
    return body;
  });
}

/** POST /missions/recurring. */
export function recurringBody(spec: Record<string, unknown>, f: PlanForm, recurrence: string): Built<Record<string, unknown>> {
  return wrap(() => {
    const r = recurrence.trim();
    if (!r) throw new FormError('Recurrence: e.g. "every 15 minutes" or a cron line in UTC');
    // A schedule's occurrences get their own start; a fixed start would pin them all.
    const { scheduled_start: _s, ...rest } = spec;
    const body: Record<string, unknown> = { spec: rest, recurrence: r, priority: priorityOf(f) };
    if (f.vehicle) body.vehicle_id = f.vehicle;
    if (f.site) body.site_id = f.site;
    return body;
  });
}

// ---- the preview answer ----------------------------------------------------------------

export interface PreviewOut {
  path: { type: 'LineString'; coordinates: number[][] };
  distance_m: number;
  duration_s: number;
  energy_wh: number;
  reserve_wh: number;
  coverage_pct: number | null;
  waypoint_count: number;
  legs: number;
  warnings: string[];
  plan: {
    line_spacing_m?: number | null;
    waypoints?: { latitude: number; longitude: number; kind?: string }[];
    legs?: { start_index: number; end_index: number; charge_station?: string | null; distance_m?: number; energy_wh?: number }[];
  } & Record<string, unknown>;
}

export interface ChargeStop { station: string | null; at: LngLat }

export interface PlanSummary {
  distance_m: number;
  duration_s: number;
  energy_wh: number;
  reserve_wh: number;
  coverage_pct: number | null;
  waypoints: number;
  legs: number;
  line_spacing_m: number | null;
  stops: ChargeStop[];
  warnings: string[];
}

/** Charging stops: the waypoints the planner marked "charge", else the ends of legs that recharge. */
export function chargeStops(a: PreviewOut): ChargeStop[] {
  const wps = a.plan?.waypoints ?? [];
  const coords = a.path.coordinates;
  const at = (i: number): LngLat | null => {
    const w = wps[i];
    if (w && Number.isFinite(w.longitude) && Number.isFinite(w.latitude)) return [w.longitude, w.latitude];
    const c = coords[i];
    return c ? [c[0], c[1]] : null;
  };
  const legs = a.plan?.legs ?? [];
  const stationAt = new Map<number, string>();
  for (const leg of legs) if (leg.charge_station) stationAt.set(leg.end_index, leg.charge_station);
  const found = new Map<number, ChargeStop>();
  wps.forEach((w, i) => {
    const p = at(i);
    if (w.kind === 'charge' && p) found.set(i, { station: stationAt.get(i) ?? null, at: p });
  });
  if (!found.size) {
    for (const [i, station] of stationAt) {
      const p = at(i);
      if (p) found.set(i, { station, at: p });
    }
  }
  return [...found.entries()].sort((x, y) => x[0] - y[0]).map(([, s]) => s);
}

/** One LineString per leg flown on one charge (the whole path when there is one leg). */
export function legPaths(a: PreviewOut): Feature<LineString>[] {
  const coords = a.path.coordinates;
  const legs = a.plan?.legs ?? [];
  const line = (c: number[][], leg: number): Feature<LineString> => ({
    type: 'Feature', properties: { leg }, geometry: { type: 'LineString', coordinates: c },
  });
  if (legs.length < 2) return coords.length >= 2 ? [line(coords, 0)] : [];
  return legs
    .map((l, k) => line(coords.slice(Math.max(0, l.start_index), l.end_index + 1), k))
    .filter((f) => f.geometry.coordinates.length >= 2);
}

export function parsePreview(a: PreviewOut, spec: Record<string, unknown>): { overlay: PreviewOverlay; summary: PlanSummary } {
  const stops = chargeStops(a);
  const area = spec.area && (spec.area as Polygon).type === 'Polygon'
    ? { type: 'Feature', properties: {}, geometry: spec.area as Polygon } as Feature<Polygon> : null;
  const overlay: PreviewOverlay = {
    paths: legPaths(a),
    area,
    stops: stops.map((s): Feature<Point> => ({
      type: 'Feature', properties: { kind: 'charge', station: s.station ?? '', label: s.station ?? 'charge' },
      geometry: { type: 'Point', coordinates: s.at },
    })),
    offendingZoneId: null,
  };
  const summary: PlanSummary = {
    distance_m: a.distance_m, duration_s: a.duration_s, energy_wh: a.energy_wh, reserve_wh: a.reserve_wh,
    coverage_pct: a.coverage_pct, waypoints: a.waypoint_count, legs: a.legs,
    line_spacing_m: typeof a.plan?.line_spacing_m === 'number' ? a.plan.line_spacing_m : null,
    stops, warnings: a.warnings ?? [],
  };
  return { overlay, summary };
}

/** What the drawn shape looks like before the planner answered. */
export function drawnOverlay(d: Drawn | null): PreviewOverlay | null {
  if (!d || !d.coords.length) return null;
  if (d.mode === 'polygon' && d.coords.length >= 3) {
    return { paths: [], area: { type: 'Feature', properties: {}, geometry: closedPolygon(d.coords) } };
  }
  if (d.mode === 'linestring' && d.coords.length >= 2) {
    return { paths: [{ type: 'Feature', properties: { drawn: true }, geometry: { type: 'LineString', coordinates: d.coords } }] };
  }
  // A target or an orbit centre is not a charging stop: the panel marks it with a highlight.
  return { paths: [] };
}

/** The drawn point (target, orbit centre) as a highlight the map draws as a dot. */
export function drawnPoints(d: Drawn | null): FeatureCollection | null {
  if (!d || d.mode !== 'point' || !d.coords.length) return null;
  return {
    type: 'FeatureCollection',
    features: d.coords.map((c): Feature<Point> => ({ type: 'Feature', properties: { kind: 'target' }, geometry: { type: 'Point', coordinates: c } })),
  };
}

/**
 * The no-fly zone a refusal names ("... crosses no-fly zone 'z-airport'"), if it is one the
 * page knows; else the first known zone whose id or name the message mentions.
 */
export function zoneInMessage(message: string, zones: ZoneFeature[]): string | null {
  const ids = new Set(zones.map((z) => z.id));
  for (const m of message.matchAll(/zone\s+['"]([^'"]+)['"]/gi)) {
    if (ids.has(m[1])) return m[1];
  }
  const lower = message.toLowerCase();
  for (const z of zones) {
    if (lower.includes(`'${z.id.toLowerCase()}'`) || lower.includes(`"${z.id.toLowerCase()}"`)) return z.id;
  }
  for (const z of zones) {
    const name = z.properties?.name?.trim();
    if (name && name.length >= 3 && lower.includes(name.toLowerCase())) return z.id;
  }
  return null;
}

/** The sites a user may plan for: their own sites (or every site) where they operate. */
export function plannableSites(all: string[], canOperate: (site: string) => boolean): string[] {
  return [...new Set(all)].filter(canOperate).sort();
}

// ---- figures of the drawn shape (before the planner answered) ---------------------------
const EARTH_R = 6_371_008.8;
const RAD = Math.PI / 180;

/** Metres east/north of `o` (equirectangular: fine at the size of a mission). */
function local(p: LngLat, o: LngLat): [number, number] {
  return [(p[0] - o[0]) * RAD * EARTH_R * Math.cos(o[1] * RAD), (p[1] - o[1]) * RAD * EARTH_R];
}

export function ringAreaM2(ring: LngLat[]): number {
  if (ring.length < 3) return 0;
  const o = ring[0];
  let s = 0;
  for (let i = 0; i < ring.length; i++) {
    const [x1, y1] = local(ring[i], o);
    const [x2, y2] = local(ring[(i + 1) % ring.length], o);
    s += x1 * y2 - x2 * y1;
  }
  return Math.abs(s) / 2;
}

export function lineLengthM(line: LngLat[]): number {
  let d = 0;
  for (let i = 1; i < line.length; i++) {
    const [x, y] = local(line[i], line[i - 1]);
    d += Math.hypot(x, y);
  }
  return d;
}

export function describeDrawn(d: Drawn | null): string {
  if (!d || !d.coords.length) return 'nothing drawn yet';
  if (d.mode === 'polygon') {
    const a = ringAreaM2(d.coords);
    const size = a >= 10_000 ? `${(a / 10_000).toFixed(a >= 1e6 ? 0 : 2)} ha` : `${Math.round(a)} m²`;
    return `area of ${d.coords.length} corners, ${size}`;
  }
  if (d.mode === 'linestring') {
    const m = lineLengthM(d.coords);
    return `route of ${d.coords.length} points, ${m >= 1000 ? `${(m / 1000).toFixed(2)} km` : `${Math.round(m)} m`}`;
  }
  const [lon, lat] = d.coords[0];
  return `point ${lat.toFixed(5)}, ${lon.toFixed(5)}`;
}
