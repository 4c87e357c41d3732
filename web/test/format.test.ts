import { describe, expect, it } from 'vitest';
import { can, roleAt } from '../src/api';
import { batteryLevel, fmtAge, fmtDistance, fmtDuration, fmtPct, humanize } from '../src/format';

describe('formatting', () => {
  it('writes durations the way people say them', () => {
    expect(fmtDuration(42)).toBe('42 s');
    expect(fmtDuration(125)).toBe('2 min 05 s');
    expect(fmtDuration(900)).toBe('15 min');
    expect(fmtDuration(3900)).toBe('1 h 05 min');
    expect(fmtDuration(null)).toBe('—');
  });
  it('writes distances in metres, then kilometres', () => {
    expect(fmtDistance(850)).toBe('850 m');
    expect(fmtDistance(1500)).toBe('1.50 km');
    expect(fmtDistance(12_345)).toBe('12.3 km');
  });
  it('writes ages and percentages', () => {
    expect(fmtAge(100, 101)).toBe('now');
    expect(fmtAge(100, 130)).toBe('30 s ago');
    expect(fmtAge(null)).toBe('never');
    expect(fmtPct(55.4)).toBe('55%');
    expect(fmtPct(null)).toBe('—');
  });
  it('classifies battery levels', () => {
    expect(batteryLevel(80)).toBe('ok');
    expect(batteryLevel(20)).toBe('low');
    expect(batteryLevel(9)).toBe('critical');
    expect(batteryLevel(null)).toBe('unknown');
  });
  it('humanizes names', () => expect(humanize('in_mission')).toBe('in mission'));
});

describe('roles', () => {
  const grants = [{ role: 'viewer' as const, site_id: null }, { role: 'operator' as const, site_id: 'zurich' }];
  it('takes the strongest grant that covers a site', () => {
    expect(roleAt(grants, 'zurich')).toBe('operator');
    expect(roleAt(grants, 'basel')).toBe('viewer');
  });
  it('lets an operator operate only where granted', () => {
    expect(can(grants, 'operate', 'zurich')).toBe(true);
    expect(can(grants, 'operate', 'basel')).toBe(false);
    expect(can(grants, 'operate')).toBe(true);
    expect(can(grants, 'admin')).toBe(false);
  });
  it('gives a site-less admin every site', () => {
    expect(can([{ role: 'admin', site_id: null }], 'admin', 'anywhere')).toBe(true);
  });
});
