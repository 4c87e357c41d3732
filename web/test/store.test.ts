import { describe, expect, it } from 'vitest';
import { FleetStore, MAX_EVENTS, TRAIL_POINTS } from '../src/store';
import type { CoordinationEvent, Vehicle } from '../src/types';

function vehicle(id: string, over: Partial<Vehicle> = {}): Vehicle {
  return {
    vehicle_id: id, stamp: 1000, status: 'idle', liveness: 'fresh', mode: 'AUTO.LOITER', armed: false,
    landed_state: 'on_ground', battery_pct: 90, voltage_v: 24, current_a: 1, relative_altitude_m: 0,
    position: { latitude: 47, longitude: 8, altitude: 500 }, heading_deg: 0, ground_speed_mps: 0,
    home: null, mission_id: null, last_reached_item: -1, model: 'x500', site_id: 'zurich',
    health: { gps_ok: true, estimator_ok: true, sensors_ok: true, battery_ok: true, motors_ok: true, link_ok: true, warnings: [] },
    ...over,
  };
}

function critical(id: string, state: 'open' | 'resolved' = 'open'): CoordinationEvent {
  return { kind: 'coordination', event_id: id, type: 'low_battery', stamp: 1, vehicle_ids: ['uav0'],
    severity: 'critical', state, resolution: '', data: {} };
}

describe('the fleet store', () => {
  it('replaces the picture on a snapshot and marks everything for redrawing', () => {
    const s = new FleetStore();
    s.dirtyAll = false;
    s.applySnapshot('fleet', [vehicle('a'), vehicle('b')]);
    expect([...s.vehicles.keys()]).toEqual(['a', 'b']);
    expect(s.dirtyAll).toBe(true);
  });

  it('marks only the updated vehicles dirty and removes removed ones', () => {
    const s = new FleetStore();
    s.applySnapshot('fleet', [vehicle('a'), vehicle('b')]);
    s.applyUpdate('fleet', 'vehicles', [vehicle('a', { battery_pct: 50 }), { vehicle_id: 'b', removed: true }]);
    expect(s.vehicles.get('a')!.battery_pct).toBe(50);
    expect(s.vehicles.has('b')).toBe(false);
    expect([...s.dirty].sort()).toEqual(['a', 'b']);
  });

  it('keeps a short trail per vehicle', () => {
    const s = new FleetStore();
    for (let i = 0; i < TRAIL_POINTS + 10; i++) {
      s.updateVehicles([vehicle('a', { position: { latitude: 47 + i * 1e-4, longitude: 8, altitude: 0 } })]);
    }
    const t = s.trails.get('a')!;
    expect(t).toHaveLength(TRAIL_POINTS);
    expect(t[t.length - 1][1]).toBeCloseTo(47 + (TRAIL_POINTS + 9) * 1e-4);
  });

  it('records chart samples only for the selected vehicle, after its backfill', () => {
    const s = new FleetStore();
    s.updateVehicles([vehicle('a', { stamp: 1 })]);
    expect(s.seriesOf('b')).toHaveLength(0);
    s.select('a');
    s.backfill('a', [{ t: 0.5, alt: 1, speed: 0, battery: 99, voltage: 24 }]);
    s.updateVehicles([vehicle('a', { stamp: 2, relative_altitude_m: 12 })]);
    expect(s.seriesOf('a').map((x) => x.alt)).toEqual([1, 12]);
  });

  it('raises an alert for a critical open event until it is acknowledged or resolved', () => {
    const s = new FleetStore();
    s.applyUpdate('events', 'event', critical('e1'));
    expect(s.alerts).toHaveLength(1);
    s.applyUpdate('events', 'event', critical('e1', 'resolved'));
    expect(s.alerts).toHaveLength(0);
    expect(s.events).toHaveLength(1); // the resolution replaced the open event
    s.applyUpdate('events', 'event', critical('e2'));
    s.acknowledge(s.alerts[0]);
    expect(s.alerts).toHaveLength(0);
    s.applyUpdate('events', 'event', critical('e2'));
    expect(s.alerts).toHaveLength(0); // acknowledged stays acknowledged
  });

  it('bounds the event list', () => {
    const s = new FleetStore();
    for (let i = 0; i < MAX_EVENTS + 20; i++) {
      s.applyUpdate('events', 'event', { ...critical(`e${i}`), severity: 'info' });
    }
    expect(s.events).toHaveLength(MAX_EVENTS);
  });

  it('tells listeners which slice changed', () => {
    const s = new FleetStore();
    const seen: string[] = [];
    s.on('missions', () => seen.push('missions'));
    s.on('vehicles', () => seen.push('vehicles'));
    s.applyUpdate('missions', 'mission', { mission_id: 'm1' });
    s.applyUpdate('missions', 'mission_removed', { mission_id: 'm1', removed: true });
    expect(seen).toEqual(['missions', 'missions']);
    expect(s.missions.size).toBe(0);
  });
});
