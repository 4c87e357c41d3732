import { describe, expect, it } from 'vitest';
import {
  boundsOf, closeRing, featureCoords, graticule, graticuleStep, homeFeatures, nextZoneChange, openRing,
  splitPath, stationLoads, vehicleFeature, withAlpha, zoneClass, zoneFeatures,
} from '../src/map/geo';
import type { Vehicle, ZoneFeature } from '../src/types';

function vehicle(id: string, patch: Partial<Vehicle> = {}): Vehicle {
  return {
    vehicle_id: id, stamp: 1000, status: 'idle', liveness: 'fresh', mode: 'LOITER', armed: false,
    landed_state: 'on_ground', battery_pct: 80.4, voltage_v: 16, current_a: 1,
    position: { latitude: 47.39, longitude: 8.54, altitude: 400 }, relative_altitude_m: 0,
    heading_deg: 90, ground_speed_mps: 0, home: { latitude: 47.39, longitude: 8.54, altitude: 400 },
    mission_id: null, last_reached_item: 0, model: 'x500', site_id: 'zurich',
    health: { gps_ok: true, estimator_ok: true, sensors_ok: true, battery_ok: true, motors_ok: true, link_ok: true, warnings: [] },
    ...patch,
  };
}

function zone(id: string, from: number | null, until: number | null, site: string | null = null): ZoneFeature {
  return {
    type: 'Feature', id,
    geometry: { type: 'Polygon', coordinates: [[[0, 0], [1, 0], [1, 1], [0, 0]]] },
    properties: { id, name: id, floor_m: null, ceiling_m: null, active_from: from, active_until: until, site_id: site },
  };
}

describe('graticule', () => {
  it('picks a step that puts a handful of lines across the view', () => {
    expect(graticuleStep(360)).toBe(30);
    expect(graticuleStep(10)).toBe(2);
    expect(graticuleStep(0.01)).toBe(0.002);
    expect(graticuleStep(1e-6)).toBe(0.0001);
  });

  it('draws lines over the view and labels the ones inside it', () => {
    const g = graticule({ w: 8.5, s: 47.3, e: 8.6, n: 47.4 });
    const lines = g.features.filter((f) => f.properties?.kind === 'line');
    const lons = g.features.filter((f) => f.properties?.kind === 'lon').map((f) => f.properties?.label);
    expect(lines.length).toBeGreaterThan(8);
    expect(lons).toContain('8.52°E');
    expect(g.features.some((f) => f.properties?.label === '47.34°N')).toBe(true);
  });

  it('stays bounded for a whole-world view', () => {
    const g = graticule({ w: -540, s: -90, e: 540, n: 90 });
    expect(g.features.length).toBeLessThan(200);
    const world = graticule({ w: -180, s: -85, e: 180, n: 85 });
    const labels = world.features.map((f) => f.properties?.label).filter(Boolean);
    // Twelve meridians across: every other one is labelled, so the labels do not touch.
    expect(labels).toContain('60°W');
    expect(labels).toContain('0°');
    expect(labels).not.toContain('30°W');
  });
});

describe('zones', () => {
  it('classifies by the active window', () => {
    expect(zoneClass(zone('a', null, null), 100)).toBe('active');
    expect(zoneClass(zone('a', 50, 150), 100)).toBe('active');
    expect(zoneClass(zone('a', 150, null), 100)).toBe('scheduled');
    expect(zoneClass(zone('a', null, 100), 100)).toBe('expired');
  });

  it('drops expired zones and other sites, and knows when the next change is', () => {
    const zs = [zone('a', null, null), zone('b', 150, 300), zone('c', null, 50), zone('d', null, null, 'bern')];
    const fc = zoneFeatures(zs, 100, 'zurich');
    expect(fc.features.map((f) => [f.properties?.id, f.properties?.cls])).toEqual([['a', 'active'], ['b', 'scheduled']]);
    expect(zoneFeatures(zs, 100, null).features).toHaveLength(3);
    expect(nextZoneChange(zs, 100)).toBe(150);
    expect(nextZoneChange(zs, 400)).toBeNull();
  });
});

describe('vehicles', () => {
  it('makes a point with status, liveness, heading and a label', () => {
    const f = vehicleFeature(vehicle('uav1', { heading_deg: -90 }), null)!;
    expect(f.geometry.coordinates).toEqual([8.54, 47.39]);
    expect(f.properties).toMatchObject({ id: 'uav1', status: 'idle', live: 'fresh', hdg: 270, bat: 80.4, label: 'uav1 · 80%' });
  });

  it('marks an unknown heading and battery, and skips vehicles without a position or of another site', () => {
    const f = vehicleFeature(vehicle('uav2', { heading_deg: null, battery_pct: null }), null)!;
    expect(f.properties.hdg).toBe(-1);
    expect(f.properties.bat).toBe(-1);
    expect(f.properties.label).toBe('uav2');
    expect(vehicleFeature(vehicle('uav3', { position: null }), null)).toBeNull();
    expect(vehicleFeature(vehicle('uav4'), 'bern')).toBeNull();
  });

  it('draws a shared home once', () => {
    const vs = [vehicle('b'), vehicle('a'), vehicle('c', { home: { latitude: 1, longitude: 2, altitude: 0 } })];
    const fc = homeFeatures(vs, null);
    expect(fc.features).toHaveLength(2);
    expect(fc.features[0].properties).toMatchObject({ ids: 'a, b', n: 2 });
  });
});

describe('charging', () => {
  it('counts queued, flying and charging vehicles per station', () => {
    const e = (station_id: string | null, state: string) => ({
      vehicle_id: 'v', state, queue_position: 0, station_id, pad: null, battery_pct: null, target_pct: null,
      estimated_wait_s: null, time_to_full_s: null,
    });
    const loads = stationLoads([e('s1', 'queued'), e('s1', 'queued'), e('s1', 'charging'), e('s2', 'flying_to_pad'), e(null, 'queued')]);
    expect(loads.get('s1')).toEqual({ queued: 2, flying: 0, charging: 1 });
    expect(loads.get('s2')).toEqual({ queued: 0, flying: 1, charging: 0 });
    expect(loads.size).toBe(2);
  });
});

describe('splitPath', () => {
  const path = [[0, 0], [0.001, 0], [0.001, 0.001], [0, 0.001]];

  it('splits where the vehicle is', () => {
    const s = splitPath(path, [0.0015, 0.0005]);
    expect(s.segment).toBe(1);
    expect(s.flown).toEqual([[0, 0], [0.001, 0], [0.001, 0.0005]]);
    expect(s.remaining[0]).toEqual([0.001, 0.0005]);
    expect(s.remaining.slice(1)).toEqual([[0.001, 0.001], [0, 0.001]]);
  });

  it('does not go back to an earlier leg that passes closer', () => {
    // A lawn-mower: leg 0 and leg 2 lie side by side; the vehicle is on leg 2, nearer leg 0.
    const mower = [[0, 0], [0.01, 0], [0.01, 0.0001], [0, 0.0001]];
    const s = splitPath(mower, [0.005, 0.00004], 2);
    expect(s.segment).toBe(2);
    // Without the hint it would pick leg 0.
    expect(splitPath(mower, [0.005, 0.00004], 0).segment).toBe(0);
  });

  it('starts from the current waypoint when the path is one point per waypoint', () => {
    const mower = [[0, 0], [0.01, 0], [0.01, 0.0001], [0, 0.0001]];
    expect(splitPath(mower, [0.005, 0.00004], 0, 3).segment).toBe(2);
  });

  it('leaves the path whole without a position', () => {
    expect(splitPath(path, null)).toEqual({ flown: [], remaining: path, segment: 0 });
  });
});

describe('helpers', () => {
  it('finds bounds and walks feature coordinates', () => {
    expect(boundsOf([[1, 2], [3, -1], [NaN, 5]])).toEqual([[1, -1], [3, 2]]);
    expect(boundsOf([])).toBeNull();
    const coords = [...featureCoords({ type: 'FeatureCollection', features: [
      { type: 'Feature', properties: {}, geometry: { type: 'Point', coordinates: [1, 1] } },
      { type: 'Feature', properties: {}, geometry: { type: 'Polygon', coordinates: [[[0, 0], [2, 0], [0, 0]]] } },
    ] })];
    expect(coords).toHaveLength(4);
  });

  it('opens and closes rings', () => {
    expect(openRing([[0, 0], [1, 0], [1, 1], [0, 0]])).toEqual([[0, 0], [1, 0], [1, 1]]);
    expect(closeRing([[0, 0], [1, 0], [1, 1]])).toEqual([[0, 0], [1, 0], [1, 1], [0, 0]]);
    expect(closeRing([[0, 0], [1, 0], [0, 0]])).toEqual([[0, 0], [1, 0], [0, 0]]);
  });

  it('adds alpha to hex colours', () => {
    expect(withAlpha('#2f8cff', 0.5)).toBe('rgba(47, 140, 255, 0.5)');
    expect(withAlpha('#fff', 0)).toBe('rgba(255, 255, 255, 0)');
    expect(withAlpha('red', 0.5)).toBe('red');
  });
});
