import { describe, expect, it } from 'vitest';
import {
  NO_FILTER, canOperateAt, filterVehicles, isLowBattery, nextSort, shortAge, sortVehicles, summarize,
} from '../src/panels/fleet-logic';
import type { Vehicle } from '../src/types';

function v(id: string, patch: Partial<Vehicle> = {}): Vehicle {
  return {
    vehicle_id: id, stamp: 1000, status: 'idle', liveness: 'fresh', mode: 'AUTO.LOITER', armed: false,
    landed_state: 'on_ground', battery_pct: 80, voltage_v: 16, current_a: 1, position: null,
    relative_altitude_m: 0, heading_deg: 0, ground_speed_mps: 0, home: null, mission_id: null,
    last_reached_item: 0, model: 'multirotor', site_id: 'north',
    health: { gps_ok: true, estimator_ok: true, sensors_ok: true, battery_ok: true, motors_ok: true, link_ok: true, warnings: [] },
    ...patch,
  };
}

const fleet = [
  v('uav10', { battery_pct: 20, status: 'in_mission', mission_id: 'survey-7', site_id: 'south' }),
  v('uav2', { battery_pct: null, liveness: 'stale', stamp: 900 }),
  v('uav1', { battery_pct: 55, model: 'fixedwing', liveness: 'lost', stamp: 800 }),
  v('rover3', { battery_pct: 10, status: 'charging' }),
];
const ids = (l: Vehicle[]) => l.map((x) => x.vehicle_id);

describe('filterVehicles', () => {
  it('matches text on id, model and mission, case-insensitively', () => {
    expect(ids(filterVehicles(fleet, { ...NO_FILTER, text: 'UAV1' }))).toEqual(['uav10', 'uav1']);
    expect(ids(filterVehicles(fleet, { ...NO_FILTER, text: 'fixed' }))).toEqual(['uav1']);
    expect(ids(filterVehicles(fleet, { ...NO_FILTER, text: 'survey' }))).toEqual(['uav10']);
  });
  it('filters by status, site, liveness and low battery', () => {
    expect(ids(filterVehicles(fleet, { ...NO_FILTER, status: 'charging' }))).toEqual(['rover3']);
    expect(ids(filterVehicles(fleet, { ...NO_FILTER, site: 'south' }))).toEqual(['uav10']);
    expect(ids(filterVehicles(fleet, { ...NO_FILTER, liveness: 'lost' }))).toEqual(['uav1']);
    expect(ids(filterVehicles(fleet, { ...NO_FILTER, liveness: 'degraded' }))).toEqual(['uav2', 'uav1']);
    expect(ids(filterVehicles(fleet, { ...NO_FILTER, lowBattery: true }))).toEqual(['uav10', 'rover3']);
  });
  it('does not call an unknown battery low', () => {
    expect(isLowBattery(fleet[1])).toBe(false);
  });
});

describe('sortVehicles', () => {
  it('sorts ids naturally (uav2 before uav10)', () => {
    expect(ids(sortVehicles(fleet, 'vehicle', 'asc'))).toEqual(['rover3', 'uav1', 'uav2', 'uav10']);
    expect(ids(sortVehicles(fleet, 'vehicle', 'desc'))).toEqual(['uav10', 'uav2', 'uav1', 'rover3']);
  });
  it('puts unknown values last in both directions', () => {
    expect(ids(sortVehicles(fleet, 'battery', 'asc'))).toEqual(['rover3', 'uav10', 'uav1', 'uav2']);
    expect(ids(sortVehicles(fleet, 'battery', 'desc'))).toEqual(['uav1', 'uav10', 'rover3', 'uav2']);
    expect(ids(sortVehicles(fleet, 'mission', 'asc'))[0]).toBe('uav10');
  });
  it('orders liveness worst first and breaks ties by id', () => {
    expect(ids(sortVehicles(fleet, 'liveness', 'asc'))).toEqual(['uav1', 'uav2', 'rover3', 'uav10']);
  });
  it('does not change its input', () => {
    const before = ids(fleet);
    sortVehicles(fleet, 'battery', 'desc');
    expect(ids(fleet)).toEqual(before);
  });
  it('handles 1,000 vehicles quickly', () => {
    const many = Array.from({ length: 1000 }, (_, i) => v(`uav${i}`, { battery_pct: (i * 37) % 100 }));
    const t = performance.now();
    for (let i = 0; i < 20; i++) sortVehicles(filterVehicles(many, { ...NO_FILTER, text: 'uav' }), 'battery', 'asc');
    expect((performance.now() - t) / 20).toBeLessThan(50);
  });
});

describe('nextSort', () => {
  it('flips the current column and starts others at their default', () => {
    expect(nextSort({ key: 'vehicle', dir: 'asc' }, 'vehicle')).toEqual({ key: 'vehicle', dir: 'desc' });
    expect(nextSort({ key: 'vehicle', dir: 'asc' }, 'seen')).toEqual({ key: 'seen', dir: 'desc' });
    expect(nextSort({ key: 'seen', dir: 'desc' }, 'battery')).toEqual({ key: 'battery', dir: 'asc' });
  });
});

describe('summarize and shortAge', () => {
  it('counts statuses, low battery and degraded links', () => {
    const s = summarize(fleet);
    expect(s.total).toBe(4);
    expect(s.byStatus).toEqual({ in_mission: 1, idle: 2, charging: 1 });
    expect([s.lowBattery, s.stale, s.lost]).toEqual([2, 1, 1]);
  });
  it('writes ages short', () => {
    expect(shortAge(null, 100)).toBe('never');
    expect(shortAge(99.5, 100)).toBe('now');
    expect(shortAge(88, 100)).toBe('12 s');
    expect(shortAge(100 - 300, 100)).toBe('5 min');
    expect(shortAge(100 - 7300, 100)).toBe('2 h');
  });
});

describe('canOperateAt', () => {
  it('follows the bridge: a vehicle without a site needs a grant everywhere', () => {
    const local = [{ role: 'operator' as const, site_id: 'north' }];
    const global = [{ role: 'operator' as const, site_id: null }];
    const viewer = [{ role: 'viewer' as const, site_id: null }];
    expect(canOperateAt(local, 'north')).toBe(true);
    expect(canOperateAt(local, 'south')).toBe(false);
    expect(canOperateAt(local, null)).toBe(false);
    expect(canOperateAt(global, null)).toBe(true);
    expect(canOperateAt(viewer, 'north')).toBe(false);
  });
});
