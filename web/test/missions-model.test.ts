import { describe, expect, it } from 'vitest';
import {
  ackText, compareMissions, countByFilter, latestShape, listMissions, missionPath, shapeCollection, shapeCoords,
  shapeFromDetails,
} from '../src/panels/missions-model';
import type { Mission } from '../src/types';

function m(id: string, patch: Partial<Mission> = {}): Mission {
  return {
    mission_id: id, parent_id: null, type: 'survey', state: 'queued', priority: 5, vehicle_id: null,
    pinned_vehicle_id: null, progress_pct: 0, current_waypoint: 0, waypoint_count: 10, distance_m: 1000,
    distance_remaining_m: 1000, eta_s: null, created_by: 'operator', reason: '', updated: 100, ...patch,
  };
}

const all = [
  m('m-done', { state: 'completed', priority: 10, updated: 500 }),
  m('m-low', { state: 'active', priority: 2, vehicle_id: 'uav1' }),
  m('m-urgent', { state: 'queued', priority: 9 }),
  m('m-paused', { state: 'paused', priority: 9, vehicle_id: 'uav2' }),
  m('m-failed', { state: 'failed', priority: 1, updated: 900, created_by: 'admin', type: 'patrol' }),
];

describe('listMissions', () => {
  it('puts live missions first, most urgent first, flying before waiting', () => {
    const ids = listMissions(all, { filter: 'all', text: '', site: null }).map((x) => x.mission_id);
    expect(ids).toEqual(['m-paused', 'm-urgent', 'm-low', 'm-failed', 'm-done']);
  });

  it('filters live and finished missions', () => {
    expect(listMissions(all, { filter: 'active', text: '', site: null }).map((x) => x.mission_id))
      .toEqual(['m-paused', 'm-urgent', 'm-low']);
    expect(listMissions(all, { filter: 'finished', text: '', site: null }).map((x) => x.mission_id))
      .toEqual(['m-failed', 'm-done']);
    expect(countByFilter(all)).toEqual({ active: 3, finished: 2, all: 5 });
  });

  it('matches every word of the text against id, type, vehicle, user', () => {
    expect(listMissions(all, { filter: 'all', text: 'uav2', site: null }).map((x) => x.mission_id)).toEqual(['m-paused']);
    expect(listMissions(all, { filter: 'all', text: 'patrol ADMIN', site: null }).map((x) => x.mission_id)).toEqual(['m-failed']);
  });

  it('hides missions of another site, keeps those whose site is unknown', () => {
    const sites: Record<string, string> = { uav1: 'north', uav2: 'south' };
    const ids = listMissions(all, { filter: 'active', text: '', site: 'north', vehicleSite: (v) => sites[v] })
      .map((x) => x.mission_id);
    expect(ids).toEqual(['m-urgent', 'm-low']);
  });

  it('orders equal missions by last change', () => {
    expect(compareMissions(m('a', { updated: 1 }), m('b', { updated: 2 }))).toBeGreaterThan(0);
  });
});

describe('missionPath', () => {
  it('keeps the slash of split parts and escapes the rest', () => {
    expect(missionPath('m-1/2')).toBe('m-1/2');
    expect(missionPath('r-abc@2030-01-01T00:00')).toBe('r-abc%402030-01-01T00%3A00');
  });
});

describe('planned shape', () => {
  const area = { type: 'Polygon', coordinates: [[[0, 0], [1, 0], [1, 1], [0, 0]]] };
  it('reads the plan the planner publishes', () => {
    const s = shapeFromDetails({ type: 'survey', area, plan: { path: [[8, 47], [8.1, 47.1]] }, waypoints: '300 points' });
    expect(s).toEqual({ path: [[8, 47], [8.1, 47.1]], area });
  });

  it('reads waypoint rows of a change, and ignores summaries', () => {
    expect(shapeFromDetails({ waypoints: [[8, 47, 20, 'transit', 0], [8.2, 47.2, 20, 'land', 0]] }))
      .toEqual({ path: [[8, 47], [8.2, 47.2]], area: null });
    expect(shapeFromDetails({ waypoints: '1200 items' })).toBeNull();
    expect(shapeFromDetails({ type: 'survey', priority: 5 })).toBeNull();
    expect(shapeFromDetails(null)).toBeNull();
  });

  it('takes the newest path and keeps the area of the first plan', () => {
    const s = latestShape([
      { stamp: 10, details: { area, plan: { path: [[0, 0], [1, 1]] } } },
      { stamp: 30, details: { waypoints: [[5, 5, 20, 'transit', 0], [6, 6, 20, 'land', 0]] } },
      { stamp: 20, details: { type: 'survey' } },
    ]);
    expect(s).toEqual({ path: [[5, 5], [6, 6]], area });
    const fc = shapeCollection('m-1', s!);
    expect(fc.features.map((f) => f.geometry.type)).toEqual(['Polygon', 'LineString']);
    expect(shapeCoords(s!)).toHaveLength(6);
    expect(latestShape([])).toBeNull();
  });
});

describe('ackText', () => {
  it('shows the planner answer and the vehicle mode', () => {
    expect(ackText({ message: 'paused', vehicle_mode: 'AUTO.LOITER' })).toBe('paused (vehicle AUTO.LOITER)');
    expect(ackText({ message: 'priority set' })).toBe('priority set');
    expect(ackText(undefined)).toBe('acknowledged');
  });
});
