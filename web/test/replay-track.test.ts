import { describe, expect, it } from 'vitest';
import {
  GAP_S, advance, bearing, flownCoords, indexAt, isoZ, lerpAngle, missionWindow, stateAt, toTrack,
  type SampleIn, type TimelineEntry,
} from '../src/panels/history-replay';

const T0 = 1_700_000_000;

function sample(t: number, lon: number, lat: number, extra: Partial<SampleIn> = {}): SampleIn {
  return {
    vehicle_id: 'uav-1', time: new Date(t * 1000).toISOString(), latitude: lat, longitude: lon,
    altitude_amsl: 500 + t - T0, altitude_rel: t - T0, heading_deg: null, ground_speed_mps: 5,
    battery_pct: 100 - (t - T0), mission_id: null, ...extra,
  };
}



describe('toTrack', () => {
  it('sorts, drops invalid positions and duplicate times', () => {
    const track = toTrack([
      sample(T0 + 2, 8.2, 47.2), sample(T0, 8.0, 47.0), sample(T0 + 1, 8.1, 47.1),
      sample(T0 + 1, 9, 9), { ...sample(T0 + 3, 0, 0), latitude: Number.NaN },
      { ...sample(T0 + 4, 0, 0), time: 'garbage' },
    ]);
    expect(track.map((p) => p.t)).toEqual([T0, T0 + 1, T0 + 2]);
    expect(track[1].lon).toBe(8.1);
    expect(track[0].alt).toBe(0); // relative altitude preferred over AMSL
  });
});

describe('indexAt', () => {
  const track = toTrack([0, 1, 2, 3, 4].map((i) => sample(T0 + i * 10, i, i)));
  it('finds the last sample at or before t', () => {
    expect(indexAt(track, T0 - 1)).toBe(-1);
    expect(indexAt(track, T0)).toBe(0);
    expect(indexAt(track, T0 + 15)).toBe(1);
    expect(indexAt(track, T0 + 20)).toBe(2);
    expect(indexAt(track, T0 + 999)).toBe(4);
    expect(indexAt([], T0)).toBe(-1);
  });
});

describe('stateAt', () => {
  const track = toTrack([sample(T0, 8.0, 47.0), sample(T0 + 10, 8.1, 47.2, { battery_pct: 80 })]);
  it('interpolates position, altitude and battery between samples', () => {
    const s = stateAt(track, T0 + 5);
    expect(s.position![0]).toBeCloseTo(8.05, 10);
    expect(s.position![1]).toBeCloseTo(47.1, 10);
    expect(s.alt).toBeCloseTo(5);
    expect(s.battery).toBeCloseTo(90);
    expect(s.gap).toBe(false);
    // No heading stored: the bearing of the leg (north-east-ish).
    expect(s.headingDeg!).toBeGreaterThan(0);
    expect(s.headingDeg!).toBeLessThan(90);
  });
  it('holds at the ends', () => {
    expect(stateAt(track, T0 - 5).position).toEqual([8.0, 47.0]);
    expect(stateAt(track, T0 - 5).index).toBe(-1);
    expect(stateAt(track, T0 + 50).position).toEqual([8.1, 47.2]);
  });
  it('does not draw across a hole in the recording', () => {
    const gappy = toTrack([sample(T0, 8, 47), sample(T0 + GAP_S + 60, 9, 48)]);
    const s = stateAt(gappy, T0 + 30);
    expect(s.position).toEqual([8, 47]);
    expect(s.gap).toBe(true);
  });
  it('interpolates a stored heading the short way round', () => {
    const t = toTrack([sample(T0, 8, 47, { heading_deg: 350 }), sample(T0 + 2, 8, 47, { heading_deg: 10 })]);
    expect(stateAt(t, T0 + 1).headingDeg).toBeCloseTo(0);
  });
});

describe('flownCoords', () => {
  const track = toTrack([0, 1, 2].map((i) => sample(T0 + i * 10, 8 + i, 47)));
  it('is the samples up to t plus the interpolated position', () => {
    const s = stateAt(track, T0 + 15);
    expect(flownCoords(track, s)).toEqual([[8, 47], [9, 47], [9.5, 47]]);
  });
  it('adds no duplicate point on a sample', () => {
    expect(flownCoords(track, stateAt(track, T0 + 10))).toEqual([[8, 47], [9, 47]]);
  });
  it('is empty before the track starts', () => {
    expect(flownCoords(track, stateAt(track, T0 - 1))).toEqual([]);
  });
});

describe('angles and time', () => {
  it('lerpAngle and bearing', () => {
    expect(lerpAngle(10, 350, 0.5)).toBeCloseTo(0);
    expect(lerpAngle(90, 180, 0.5)).toBeCloseTo(135);
    expect(bearing([8, 47], [8, 48])).toBeCloseTo(0);
    expect(bearing([8, 47], [9, 47])).toBeCloseTo(90, 0);
  });
  it('advance scales wall time by the speed and stops at the end', () => {
    expect(advance(100, 500, 10, 200)).toEqual([105, false]);
    expect(advance(195, 1000, 10, 200)).toEqual([200, true]);
  });
  it('isoZ', () => {
    expect(isoZ(0)).toBe('1970-01-01T00:00:00Z');
  });
});

describe('missionWindow', () => {
  const at = (s: number, to: string, details: Record<string, unknown> = {}): TimelineEntry => ({
    time: new Date((T0 + s) * 1000).toISOString(), from_state: null, to_state: to, reason: null, actor: null, details,
  });
  it('runs from the first assignment to the final state', () => {
    const w = missionWindow([at(0, 'queued'), at(5, 'assigned', { vehicle_id: 'uav-3' }), at(8, 'active'), at(300, 'completed')], T0 + 9999);
    expect(w).toEqual({ t0: T0 + 5, t1: T0 + 300, running: false, vehicleId: 'uav-3' });
  });
  it('runs until now while the mission flies', () => {
    const w = missionWindow([at(0, 'queued'), at(8, 'active')], T0 + 100);
    expect(w).toMatchObject({ t0: T0 + 8, t1: T0 + 100, running: true });
  });
  it('is null without transitions', () => {
    expect(missionWindow([], T0)).toBeNull();
  });
});

describe('fillForward', () => {
  it('carries a recent value over a sample that lacks it, not an old one', () => {
    const track = toTrack([
      sample(T0, 8, 47), sample(T0 + 1, 8, 47, { battery_pct: null, mode: null }),
      sample(T0 + 2, 8, 47, { mode: 'AUTO.MISSION' }),
      sample(T0 + 60, 8, 47, { battery_pct: null }),
    ]);
    expect(track[1].battery).toBe(100);
    expect(track[1].mode).toBeNull();
    expect(track[2].mode).toBe('AUTO.MISSION');
    expect(track[3].battery).toBeNull(); // 58 s later: unknown, not a stale value
  });
});
