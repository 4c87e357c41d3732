import { describe, expect, it } from 'vitest';
import {
  NO_EVENT_FILTER, eventsOfVehicle, filterEvents, fromStoredCoordination, fromStoredMission, mergeEvents,
  messageOf, severityOf, typeOf, typesPresent,
} from '../src/panels/events-logic';
import type { CoordinationEvent, MissionEvent } from '../src/types';

function coord(id: string, patch: Partial<CoordinationEvent> = {}): CoordinationEvent {
  return {
    kind: 'coordination', event_id: id, type: 'low_battery', stamp: 100, vehicle_ids: ['uav1'],
    severity: 'warning', state: 'open', resolution: '', data: {}, ...patch,
  };
}
function mev(mission: string, to: string, stamp: number, patch: Partial<MissionEvent> = {}): MissionEvent {
  return {
    kind: 'mission', mission_id: mission, stamp, from_state: 'active', to_state: to, reason: '', actor: 'planner',
    vehicle_id: 'uav2', details: {}, ...patch,
  };
}

describe('stored events', () => {
  it('take the live shape', () => {
    const c = fromStoredCoordination({
      id: 7, key: 'lb-uav1', type: 'low_battery', severity: 'critical', state: 'closed', vehicle_id: 'uav1',
      other_vehicle_id: null, zone_id: null, opened_at: '2026-01-01T00:00:00Z', closed_at: '2026-01-01T00:01:00Z',
      updated_at: '2026-01-01T00:01:00Z', message: 'charged', details: { vehicle_ids: ['uav1'], battery_pct: 12 },
    });
    expect(c).toMatchObject({ event_id: 'lb-uav1', state: 'resolved', vehicle_ids: ['uav1'], resolution: 'charged', data: { battery_pct: '12' } });
    expect(c.stamp).toBe(Date.parse('2026-01-01T00:01:00Z') / 1000);
    const m = fromStoredMission({
      id: 3, time: '2026-01-01T00:00:00.5Z', mission_id: 'm1', vehicle_id: null, site_id: 's', from_state: null,
      to_state: 'queued', reason: null, actor: null, details: {},
    });
    expect(m).toMatchObject({ kind: 'mission', mission_id: 'm1', reason: '', actor: '', stamp: Date.parse('2026-01-01T00:00:00.5Z') / 1000 });
  });
  it('fall back to the two vehicle columns without details', () => {
    const c = fromStoredCoordination({
      id: 1, key: 'k', type: 'collision_avoidance', severity: 'critical', state: 'open', vehicle_id: 'a',
      other_vehicle_id: 'b', zone_id: null, opened_at: '2026-01-01T00:00:00Z', closed_at: null,
      updated_at: '2026-01-01T00:00:00Z', message: null, details: {},
    });
    expect(c.vehicle_ids).toEqual(['a', 'b']);
    expect(c.state).toBe('open');
  });
});

describe('mergeEvents', () => {
  it('drops stored copies of live events and sorts newest first', () => {
    const live = [coord('a', { stamp: 50, state: 'resolved' }), mev('m1', 'completed', 200.0000004)];
    const older = [coord('a', { stamp: 40 }), mev('m1', 'completed', 200.0003), mev('m1', 'active', 150), coord('b', { stamp: 10 })];
    const merged = mergeEvents(live, older);
    expect(merged.map((e) => (e.kind === 'coordination' ? e.event_id : `${e.mission_id}:${e.to_state}`)))
      .toEqual(['m1:completed', 'm1:active', 'a', 'b']);
    expect((merged[2] as CoordinationEvent).state).toBe('resolved');
  });
  it('puts the more severe first at the same time', () => {
    const merged = mergeEvents([coord('i', { severity: 'info' }), coord('c', { severity: 'critical' })], []);
    expect(merged.map(severityOf)).toEqual(['critical', 'info']);
  });
});

describe('filterEvents', () => {
  const list = [
    coord('a', { severity: 'critical', type: 'collision_avoidance', vehicle_ids: ['uav1', 'uav9'] }),
    coord('b', { state: 'resolved', vehicle_ids: ['uav3'] }),
    mev('survey', 'failed', 100, { vehicle_id: 'uav3' }),
    mev('other', 'completed', 100, { vehicle_id: null }),
  ];
  const sites: Record<string, string> = { uav1: 'north', uav9: 'north', uav3: 'south' };
  const siteOf = (id: string) => sites[id];
  const f = (patch: object) => filterEvents(list, { ...NO_EVENT_FILTER, ...patch }, siteOf).length;
  it('filters by each field', () => {
    expect(f({ severity: 'critical' })).toBe(1);
    expect(f({ severity: 'warning' })).toBe(2); // the open low battery and the failed mission
    expect(f({ kind: 'mission' })).toBe(2);
    expect(f({ type: 'mission_failed' })).toBe(1);
    expect(f({ state: 'open' })).toBe(1);
    expect(f({ state: 'resolved' })).toBe(1);
    expect(f({ vehicle: 'UAV9' })).toBe(1);
    expect(f({ vehicle: 'survey' })).toBe(1);
  });
  it('keeps events of no known site under a site filter', () => {
    expect(f({ site: 'south' })).toBe(3);
    expect(f({ site: 'north' })).toBe(2);
  });
  it('tells type and message', () => {
    expect(typeOf(list[2])).toBe('mission_failed');
    expect(messageOf(list[2])).toBe('survey: active → failed · by planner');
    expect(messageOf(coord('x', { resolution: 'landed', data: { battery_pct: '9', distance_m: '4.2', zone: 'z1' } }))).toBe('landed — battery 9% · distance 4.2 m · zone: z1');
    expect(typesPresent(list)).toEqual(['collision_avoidance', 'low_battery', 'mission_completed', 'mission_failed']);
    expect(eventsOfVehicle(list, 'uav3').length).toBe(2);
  });
});
