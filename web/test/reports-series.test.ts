import { describe, expect, it } from 'vitest';
import {
  MAX_BUCKETS, buckets, dateInput, dayStart, groupStates, mapLimit, periodOf, toSeries, type Summary,
} from '../src/panels/reports-data';

function summary(over: Partial<Summary> = {}): Summary {
  return {
    site_id: 'zurich', t0: '', t1: '', vehicles: 4,
    missions_by_state: { planned: 0, queued: 1, assigned: 0, active: 2, paused: 0, completed: 5, aborted: 1, failed: 2 },
    finished: 8, completed: 5, success_rate: 0.625, flight_hours: 3, utilisation: 0.25, flights: 6,
    distance_km: 12, energy_wh: 600, energy_per_km_wh: 50, charging_sessions: 3,
    charging_wait_mean_s: 30, charging_wait_p95_s: 60, charging_wait_max_s: 70, ...over,
  };
}

describe('periods and buckets', () => {
  it('includes the "to" day', () => {
    const p = periodOf('2026-03-01', '2026-03-07')!;
    expect(dateInput(p.t0)).toBe('2026-03-01');
    expect(dateInput(p.t1)).toBe('2026-03-08');
    expect(buckets(p)).toHaveLength(7);
  });
  it('refuses a reversed or invalid period', () => {
    expect(periodOf('2026-03-07', '2026-03-01')).toBeNull();
    expect(periodOf('', '2026-03-01')).toBeNull();
    expect(dayStart('03/01/2026')).toBeNull();
  });
  it('buckets are contiguous and cover the period', () => {
    const p = periodOf('2026-01-01', '2026-01-30')!;
    const b = buckets(p);
    expect(b).toHaveLength(30);
    expect(b[0].t0).toBe(p.t0);
    expect(b[b.length - 1].t1).toBe(p.t1);
    for (let i = 1; i < b.length; i++) expect(b[i].t0).toBe(b[i - 1].t1);
  });
  it('switches to weeks for long periods and clips the last one', () => {
    const p = periodOf('2025-01-01', '2025-12-31')!;
    const b = buckets(p);
    expect(b.length).toBeLessThanOrEqual(MAX_BUCKETS);
    expect(b.length).toBe(53);
    expect(b[b.length - 1].t1).toBe(p.t1);
    expect(dateInput(b[1].t0)).toBe('2025-01-08');
  });
});

describe('toSeries', () => {
  it('groups states and stacks them bottom-up', () => {
    expect(groupStates(summary().missions_by_state)).toEqual({ completed: 5, aborted: 1, failed: 2, open: 3 });
    const s = toSeries([
      { bucket: { t0: 0, t1: 86400 }, summary: summary() },
      { bucket: { t0: 86400, t1: 172800 }, summary: null },
      { bucket: { t0: 172800, t1: 259200 }, summary: summary({ success_rate: null, utilisation: null, energy_per_km_wh: null }) },
    ]);
    expect(s.x).toEqual([0, 86400, 172800]);
    expect(s.byGroup.completed).toEqual([5, 0, 5]);
    expect(s.stacked.completed).toEqual([5, 0, 5]);
    expect(s.stacked.aborted).toEqual([6, 0, 6]);
    expect(s.stacked.failed).toEqual([8, 0, 8]);
    expect(s.stacked.open).toEqual([11, 0, 11]);
    expect(s.successPct).toEqual([62.5, null, null]);
    expect(s.utilisationPct).toEqual([25, null, null]);
    expect(s.energyPerKm).toEqual([50, null, null]);
    expect(s.flightHours).toEqual([3, 0, 3]);
    expect(s.waitP95).toEqual([60, null, 60]);
  });
});

describe('mapLimit', () => {
  it('keeps order and limits concurrency', async () => {
    let running = 0;
    let peak = 0;
    const out = await mapLimit([1, 2, 3, 4, 5, 6], 2, async (n) => {
      running++;
      peak = Math.max(peak, running);
      await new Promise((r) => setTimeout(r, 5 * (7 - n)));
      running--;
      return n * 10;
    });
    expect(out).toEqual([10, 20, 30, 40, 50, 60]);
    expect(peak).toBe(2);
  });
});
