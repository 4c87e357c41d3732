import { describe, expect, it } from 'vitest';
import { padRange, toSample, windowOf } from '../src/panels/fleet-charts';

describe('vehicle charts', () => {
  it('turn history samples into chart samples', () => {
    expect(toSample({ time: '2026-01-01T00:00:10Z', altitude_rel: 12, ground_speed_mps: 3, battery_pct: 80, voltage_v: 15.1 }))
      .toEqual({ t: Date.parse('2026-01-01T00:00:10Z') / 1000, alt: 12, speed: 3, battery: 80, voltage: 15.1 });
    expect(toSample({ time: 'garbage', altitude_rel: null, ground_speed_mps: null, battery_pct: null, voltage_v: null })).toBeNull();
  });
  it('pad a constant series and keep non-negative values above zero', () => {
    expect(padRange(0, 0)).toEqual([0, 1]);
    expect(padRange(10, 20)).toEqual([9, 21]);
    expect(padRange(-5, 5)).toEqual([-6, 6]);
    expect(padRange(null, null)).toEqual([0, 1]);
  });
  it('end the window now, or at the last sample when all are older', () => {
    expect(windowOf([900, 990], 1000)).toEqual([400, 1000]);
    expect(windowOf([], 1000)).toEqual([400, 1000]);
    expect(windowOf([10, 20], 5000)).toEqual([-580, 20]);
  });
});
