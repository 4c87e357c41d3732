import { describe, expect, it } from 'vitest';
import { buildStations, recentSessions, stationsFromFeatures, waitingLine } from '../src/panels/charging-logic';
import type { ChargingEntry } from '../src/types';

function entry(vehicle: string, patch: Partial<ChargingEntry>): ChargingEntry {
  return {
    vehicle_id: vehicle, state: 'queued', queue_position: 0, station_id: null, pad: null, battery_pct: 20,
    target_pct: 90, estimated_wait_s: null, time_to_full_s: null, ...patch,
  };
}

const stations = stationsFromFeatures({
  source: 'planner',
  features: [
    { id: 's1', geometry: { type: 'Point', coordinates: [8.5, 47.3] },
      properties: { station_id: 's1', name: 'North pads', site_id: 'north', pads: 2, charge_rate_w: 500 } },
    { id: 's2', geometry: { type: 'Point', coordinates: [8.6, 47.4] },
      properties: { station_id: 's2', name: '', site_id: null, pads: 1, charge_rate_w: null } },
  ],
});

describe('charging', () => {
  it('reads stations from the GeoJSON', () => {
    expect(stations.map((s) => [s.id, s.name, s.pads, s.lonLat])).toEqual([
      ['s1', 'North pads', 2, [8.5, 47.3]], ['s2', 's2', 1, [8.6, 47.4]],
    ]);
  });
  it('fills pads from the queue and counts who waits', () => {
    const entries = [
      entry('uav1', { state: 'charging', station_id: 's1', pad: 1, time_to_full_s: 300 }),
      entry('uav2', { state: 'flying_to_pad', station_id: 's2', pad: 0 }),
      entry('uav3', { queue_position: 2, station_id: 's1' }),
      entry('uav4', { queue_position: 1 }),
    ];
    const view = buildStations(stations, entries);
    expect(view[0].padViews.map((p) => p.entry?.vehicle_id ?? null)).toEqual([null, 'uav1']);
    expect(view[0].waiting).toBe(1);
    expect(view[1].padViews.map((p) => p.entry?.vehicle_id ?? null)).toEqual(['uav2']);
    expect(waitingLine(entries).map((e) => e.vehicle_id)).toEqual(['uav4', 'uav3']);
  });
  it('shows a pad beyond the known count rather than losing its vehicle', () => {
    const view = buildStations(stations, [entry('uav9', { state: 'charging', station_id: 's2', pad: 2 })]);
    expect(view[1].padViews.map((p) => p.entry?.vehicle_id ?? null)).toEqual([null, null, 'uav9']);
  });
  it('orders recent sessions newest first and skips junk', () => {
    const s = (v: string, started: number, ended: number | null) => ({
      vehicle_id: v, station_id: 's1', pad: 0, requested_at: started - 10, started_at: started, ended_at: ended,
      queue_wait_s: 10, start_pct: 20, end_pct: 90, energy_wh: 50, completed: ended !== null,
    });
    expect(recentSessions([s('a', 100, 200), null, s('b', 300, null), { nope: 1 }, s('c', 50, 400)]).map((x) => x.vehicle_id))
      .toEqual(['c', 'b', 'a']);
  });
});
