import { describe, expect, it } from 'vitest';
import type { LngLat } from '../src/map/api';
import {
  DEFAULT_FORM, buildSpec, chargeStops, closedPolygon, createBody, describeDrawn, drawModeFor, drawnOverlay, drawnPoints, legPaths,
  lineLengthM, localToPosix, parsePreview, posixToLocal, previewBody, recurringBody, ringAreaM2, zoneInMessage,
  type Drawn, type PlanForm, type PreviewOut,
} from '../src/panels/plan-model';
import type { ZoneFeature } from '../src/types';

const square: LngLat[] = [[8.5, 47.3], [8.501, 47.3], [8.501, 47.301], [8.5, 47.301]];
const poly: Drawn = { mode: 'polygon', coords: square };
const form = (patch: Partial<PlanForm> = {}): PlanForm => ({ ...DEFAULT_FORM, ...patch });

function spec(f: PlanForm, d: Drawn | null): Record<string, unknown> {
  const b = buildSpec(f, d);
  if (!b.ok) throw new Error(b.error);
  return b.value;
}

describe('drawModeFor', () => {
  it('maps each mission type to the shape the planner reads', () => {
    expect(drawModeFor({ type: 'survey', inspection: 'perimeter' })).toBe('polygon');
    expect(drawModeFor({ type: 'inspection', inspection: 'perimeter' })).toBe('polygon');
    expect(drawModeFor({ type: 'inspection', inspection: 'orbit' })).toBe('point');
    expect(drawModeFor({ type: 'patrol', inspection: 'perimeter' })).toBe('linestring');
    expect(drawModeFor({ type: 'delivery', inspection: 'perimeter' })).toBe('linestring');
    expect(drawModeFor({ type: 'emergency', inspection: 'perimeter' })).toBe('point');
  });
});

describe('buildSpec', () => {
  it('builds a survey like the bridge tests do (closed ring, camera footprint, overlaps)', () => {
    const s = spec(form({ altitude: '20', speed: '8', sideOverlap: '20', frontOverlap: '20' }), poly);
    expect(s).toEqual({
      type: 'survey', altitude_m: 20, speed_mps: 8,
      area: { type: 'Polygon', coordinates: [[...square, square[0]]] },
      pattern: 'lawnmower',
      camera: { footprint_width_m: 40, footprint_height_m: 30 },
      side_overlap_pct: 20, front_overlap_pct: 20, return_home: true,
    });
  });

  it('uses field-of-view cameras, spiral direction and bearing only when chosen', () => {
    const s = spec(form({ cameraMode: 'fov', hfov: '80', vfov: '60', pattern: 'spiral', spiral: 'inward' }), poly);
    expect(s.camera).toEqual({ hfov_deg: 80, vfov_deg: 60 });
    expect(s.spiral).toBe('inward');
    expect(s.sweep_deg).toBeUndefined();
    const t = spec(form({ sweepDeg: '30' }), poly);
    expect(t.sweep_deg).toBe(30);
    expect(t.spiral).toBeUndefined();
  });

  it('leaves the speed out when empty (the vehicle cruise speed)', () => {
    expect(spec(form({ speed: '' }), poly).speed_mps).toBeUndefined();
  });

  it('names what is missing or wrong', () => {
    expect(buildSpec(form(), null)).toEqual({ ok: false, error: 'Draw the area to survey on the map' });
    expect(buildSpec(form({ altitude: 'abc' }), poly)).toEqual({ ok: false, error: 'Altitude: enter a number' });
    expect(buildSpec(form({ altitude: '900' }), poly)).toEqual({ ok: false, error: 'Altitude: at most 500' });
    // A route drawn for another type does not stand in for an area.
    expect(buildSpec(form(), { mode: 'linestring', coords: square }).ok).toBe(false);
  });

  it('builds inspections: a perimeter or an orbit around a point', () => {
    const p = spec(form({ type: 'inspection' }), poly);
    expect(p.area).toEqual(closedPolygon(square));
    expect(p.pattern).toBeUndefined();
    expect(p.camera).toBeUndefined();
    const o = spec(form({ type: 'inspection', inspection: 'orbit', orbitRadius: '25' }), { mode: 'point', coords: [[8.5, 47.3]] });
    expect(o.orbit).toEqual({ centre: { latitude: 47.3, longitude: 8.5 }, radius_m: 25 });
    expect(o.area).toBeUndefined();
  });

  it('builds patrols from the route and deliveries from its first and last point', () => {
    const line: Drawn = { mode: 'linestring', coords: [[8.5, 47.3], [8.51, 47.31], [8.52, 47.32]] };
    const p = spec(form({ type: 'patrol', repeat: '3' }), line);
    expect(p.route).toEqual([
      { latitude: 47.3, longitude: 8.5 }, { latitude: 47.31, longitude: 8.51 }, { latitude: 47.32, longitude: 8.52 },
    ]);
    expect(p.repeat).toBe(3);
    expect(buildSpec(form({ type: 'patrol', repeat: '1.5' }), line)).toEqual({ ok: false, error: 'Laps: enter a whole number' });
    const d = spec(form({ type: 'delivery', payloadKg: '2.5', handlingS: '20' }), line);
    expect(d).toMatchObject({
      pickup: { latitude: 47.3, longitude: 8.5 }, dropoff: { latitude: 47.32, longitude: 8.52 },
      payload_kg: 2.5, handling_s: 20,
    });
    expect(d.route).toBeUndefined();
  });

  it('builds an emergency at a target', () => {
    const e = spec(form({ type: 'emergency', hoverS: '30', land: true }), { mode: 'point', coords: [[8.5, 47.3]] });
    expect(e).toMatchObject({ type: 'emergency', target: { latitude: 47.3, longitude: 8.5 }, hover_s: 30, land: true });
  });

  it('adds a scheduled start from the local date-time input', () => {
    const s = spec(form({ startAt: '2030-05-06T07:08' }), poly);
    expect(s.scheduled_start).toBe(new Date('2030-05-06T07:08').getTime() / 1000);
    expect(posixToLocal(s.scheduled_start as number)).toBe('2030-05-06T07:08');
    expect(localToPosix('')).toBeNull();
  });

  it('keeps the request to the planner\'s keys', () => {
    const allowed = new Set(['type', 'name', 'altitude_m', 'speed_mps', 'area', 'pattern', 'sweep_deg', 'spiral',
      'camera', 'side_overlap_pct', 'front_overlap_pct', 'orbit', 'route', 'repeat', 'pickup', 'dropoff',
      'payload_kg', 'handling_s', 'target', 'hover_s', 'land', 'not_before', 'not_after', 'scheduled_start',
      'return_home']);
    const s = spec(form({ name: ' roof 3 ', startAt: '2030-01-01T00:00', pattern: 'spiral', sweepDeg: '10' }), poly);
    for (const k of Object.keys(s)) expect(allowed.has(k)).toBe(true);
    expect(s.name).toBe('roof 3');
  });
});

describe('request bodies', () => {
  const s = { type: 'survey', scheduled_start: 5 };
  it('previews for the pinned vehicle only when one is chosen', () => {
    expect(previewBody(s, form())).toEqual({ spec: s });
    expect(previewBody(s, form({ vehicle: 'uav3' }))).toEqual({ spec: s, vehicle_id: 'uav3' });
  });
  it('creates with priority, site and vehicle', () => {
    expect(createBody(s, form({ priority: '7', site: 'north' }))).toEqual({ ok: true, value: { spec: s, priority: 7, site_id: 'north' } });
    expect(createBody(s, form({ priority: '7', vehicle: 'uav1' }))).toEqual({ ok: true, value: { spec: s, priority: 7, vehicle_id: 'uav1' } });
    expect(createBody(s, form({ priority: '11' }))).toEqual({ ok: false, error: 'Priority: at most 10' });
  });
  it('schedules without a fixed start and needs a recurrence', () => {
    expect(recurringBody(s, form({ site: 'north' }), ' every 15 minutes ')).toEqual({
      ok: true, value: { spec: { type: 'survey' }, recurrence: 'every 15 minutes', priority: 5, site_id: 'north' },
    });
    expect(recurringBody(s, form(), '  ').ok).toBe(false);
  });
});

const answer = (patch: Partial<PreviewOut> = {}): PreviewOut => ({
  path: { type: 'LineString', coordinates: [[8.5, 47.3, 0], [8.5, 47.3, 20], [8.501, 47.3, 20], [8.51, 47.31, 20], [8.51, 47.31, 0], [8.52, 47.32, 20], [8.5, 47.3, 0]] },
  distance_m: 1234, duration_s: 300, energy_wh: 45, reserve_wh: 10, coverage_pct: 98.5,
  waypoint_count: 7, legs: 2, warnings: ['close to zone z1'],
  plan: {
    line_spacing_m: 12,
    waypoints: [
      { latitude: 47.3, longitude: 8.5, kind: 'takeoff' }, { latitude: 47.3, longitude: 8.5, kind: 'survey' },
      { latitude: 47.3, longitude: 8.501, kind: 'survey' }, { latitude: 47.31, longitude: 8.51, kind: 'transit' },
      { latitude: 47.31, longitude: 8.51, kind: 'charge' }, { latitude: 47.32, longitude: 8.52, kind: 'survey' },
      { latitude: 47.3, longitude: 8.5, kind: 'land' },
    ],
    legs: [
      { start_index: 0, end_index: 4, charge_station: 'pad-a' },
      { start_index: 4, end_index: 6, charge_station: null },
    ],
  },
  ...patch,
});

describe('parsePreview', () => {
  it('splits the path per leg and marks the charging stops', () => {
    const { overlay, summary } = parsePreview(answer(), { area: closedPolygon(square) });
    expect(overlay.paths).toHaveLength(2);
    expect(overlay.paths[0].geometry.coordinates).toHaveLength(5);
    expect(overlay.paths[1].geometry.coordinates[0]).toEqual([8.51, 47.31, 0]);
    expect(overlay.stops).toHaveLength(1);
    expect(overlay.stops![0].geometry.coordinates).toEqual([8.51, 47.31]);
    expect(overlay.stops![0].properties).toMatchObject({ station: 'pad-a' });
    expect(overlay.area?.geometry).toEqual(closedPolygon(square));
    expect(overlay.offendingZoneId).toBeNull();
    expect(summary).toMatchObject({
      distance_m: 1234, duration_s: 300, energy_wh: 45, reserve_wh: 10, coverage_pct: 98.5, waypoints: 7,
      legs: 2, line_spacing_m: 12, warnings: ['close to zone z1'],
    });
    expect(summary.stops).toEqual([{ station: 'pad-a', at: [8.51, 47.31] }]);
  });

  it('shows one path and no area for a single-leg route', () => {
    const a = answer({ legs: 1, plan: { waypoints: [], legs: [{ start_index: 0, end_index: 6 }] } });
    const { overlay, summary } = parsePreview(a, { route: [] });
    expect(overlay.paths).toHaveLength(1);
    expect(overlay.area).toBeNull();
    expect(summary.stops).toEqual([]);
    expect(summary.line_spacing_m).toBeNull();
  });

  it('falls back to the ends of recharging legs when no waypoint is marked', () => {
    const a = answer({ plan: { legs: [{ start_index: 0, end_index: 3, charge_station: 'st1' }, { start_index: 4, end_index: 6 }] } });
    expect(chargeStops(a)).toEqual([{ station: 'st1', at: [8.51, 47.31] }]);
    expect(legPaths(a)).toHaveLength(2);
  });
});

describe('zoneInMessage', () => {
  const zone = (id: string, name: string): ZoneFeature => ({
    type: 'Feature', id, geometry: { type: 'Polygon', coordinates: [[[0, 0], [1, 0], [1, 1], [0, 0]]] },
    properties: { id, name, floor_m: 0, ceiling_m: 120, active_from: null, active_until: null },
  });
  const zones = [zone('z-airport', 'Airport'), zone('hospital', 'Hospital Helipad')];
  it('finds the zone id the planner quotes', () => {
    expect(zoneInMessage("the planner cannot plan this mission: leg 0 crosses no-fly zone 'z-airport'", zones)).toBe('z-airport');
    expect(zoneInMessage("waypoint 3 is inside no-fly zone 'hospital'", zones)).toBe('hospital');
  });
  it('falls back to a zone name, and ignores unknown zones', () => {
    expect(zoneInMessage('the target is inside Hospital Helipad', zones)).toBe('hospital');
    expect(zoneInMessage("crosses no-fly zone 'elsewhere'", zones)).toBeNull();
    expect(zoneInMessage('altitude_m: must be <= 500', zones)).toBeNull();
  });
});

describe('drawn shape figures', () => {
  it('measures areas and routes roughly right', () => {
    // ~75 m × ~111 m at 47.3° N.
    expect(ringAreaM2(square)).toBeGreaterThan(8000);
    expect(ringAreaM2(square)).toBeLessThan(8800);
    expect(lineLengthM([[8.5, 47.3], [8.5, 47.301]])).toBeCloseTo(111.2, 0);
    expect(describeDrawn(poly)).toMatch(/^area of 4 corners, 8\d{3} m²$/);
    expect(describeDrawn(null)).toBe('nothing drawn yet');
  });
});

describe('drawn shape on the map', () => {
  it('shows an area, a route, or a point as a highlight (never as a charging stop)', () => {
    expect(drawnOverlay(poly)?.area?.geometry).toEqual(closedPolygon(square));
    expect(drawnOverlay({ mode: 'linestring', coords: square })?.paths).toHaveLength(1);
    const pt: Drawn = { mode: 'point', coords: [[8.5, 47.3]] };
    expect(drawnOverlay(pt)).toEqual({ paths: [] });
    expect(drawnPoints(pt)?.features[0].geometry).toEqual({ type: 'Point', coordinates: [8.5, 47.3] });
    expect(drawnPoints(poly)).toBeNull();
    expect(drawnOverlay(null)).toBeNull();
  });
});
