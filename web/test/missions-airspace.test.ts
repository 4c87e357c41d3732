import { describe, expect, it } from 'vitest';
import {
  OPEN_CEILING_M, cleanZone, fmtBand, formOf, openRing, replaceBody, slugId, sortZones, zoneFeature, zoneStatus,
  type ZoneForm,
} from '../src/panels/airspace-model';
import { posixToLocal } from '../src/panels/plan-model';
import type { ZoneFeature } from '../src/types';

function zone(id: string, from: number | null, until: number | null, name = id): ZoneFeature {
  return {
    type: 'Feature', id,
    geometry: { type: 'Polygon', coordinates: [[[8, 47], [8.01, 47], [8.01, 47.01], [8, 47]]] },
    properties: { id, name, floor_m: 0, ceiling_m: 120, active_from: from, active_until: until, site_id: null },
  };
}

const NOW = 1_000_000;

describe('zoneStatus', () => {
  it('classifies active, scheduled and expired windows', () => {
    expect(zoneStatus(zone('a', null, null), NOW)).toBe('active');
    expect(zoneStatus(zone('a', NOW - 10, NOW + 10), NOW)).toBe('active');
    expect(zoneStatus(zone('a', NOW + 10, null), NOW)).toBe('scheduled');
    expect(zoneStatus(zone('a', null, NOW), NOW)).toBe('expired');
    expect(zoneStatus(zone('a', NOW - 100, NOW - 10), NOW)).toBe('expired');
  });

  it('sorts active, then scheduled, then expired, by name', () => {
    const ids = sortZones([
      zone('old', null, NOW - 1), zone('later', NOW + 5, null), zone('b', null, null, 'Bravo'), zone('a', null, null, 'Alpha'),
    ], NOW).map((z) => z.id);
    expect(ids).toEqual(['a', 'b', 'later', 'old']);
  });
});

describe('zone figures', () => {
  it('writes the altitude band', () => {
    expect(fmtBand(0, 120)).toBe('0–120 m');
    expect(fmtBand(null, OPEN_CEILING_M)).toBe('ground and up');
    expect(fmtBand(50, null)).toBe('50 m and up');
  });

  it('opens the closed ring for editing', () => {
    expect(openRing(zone('a', null, null))).toEqual([[8, 47], [8.01, 47], [8.01, 47.01]]);
  });

  it('makes an id from a name, unique', () => {
    expect(slugId('Airport East!', [])).toBe('airport-east');
    expect(slugId('Airport East', ['airport-east', 'airport-east-2'])).toBe('airport-east-3');
    expect(slugId('***', [])).toBe('zone');
  });
});

describe('zoneFeature', () => {
  const ring: [number, number][] = [[8, 47], [8.01, 47], [8.01, 47.01]];
  const f = (patch: Partial<ZoneForm> = {}): ZoneForm => ({ id: 'z1', name: 'Stadium', floor: '0', ceiling: '150', from: '', until: '', ...patch });

  it('builds the Feature the bridge accepts (closed ring, seconds, open ceiling)', () => {
    const b = zoneFeature(f({ ceiling: '', from: '2030-01-02T03:04' }), ring);
    expect(b).toEqual({
      ok: true,
      value: {
        type: 'Feature', id: 'z1',
        geometry: { type: 'Polygon', coordinates: [[[8, 47], [8.01, 47], [8.01, 47.01], [8, 47]]] },
        properties: {
          id: 'z1', name: 'Stadium', floor_m: 0, ceiling_m: OPEN_CEILING_M,
          active_from: new Date('2030-01-02T03:04').getTime() / 1000, active_until: null,
        },
      },
    });
  });

  it('names what is wrong', () => {
    expect(zoneFeature(f({ id: '-bad' }), ring).ok).toBe(false);
    expect(zoneFeature(f(), null)).toEqual({ ok: false, error: 'Draw the zone on the map (3 corners or more)' });
    expect(zoneFeature(f({ floor: '200' }), ring)).toEqual({ ok: false, error: 'Ceiling: above the floor (empty: no ceiling)' });
    expect(zoneFeature(f({ from: '2030-01-02T03:04', until: '2030-01-01T00:00' }), ring))
      .toEqual({ ok: false, error: 'Active until: after active from' });
  });

  it('round-trips through the edit form', () => {
    const z = zone('z9', NOW, NOW + 3600, 'Crane');
    const form = formOf(z);
    expect(form).toEqual({ id: 'z9', name: 'Crane', floor: '0', ceiling: '120', from: posixToLocal(NOW), until: posixToLocal(NOW + 3600) });
    expect(formOf(null).id).toBe('');
  });
});

describe('replaceBody', () => {
  it('swaps one zone into the whole set, with only the keys the bridge allows', () => {
    const edited = cleanZone(zone('b', null, null, 'Bravo 2'));
    const body = replaceBody([zone('a', null, null), zone('b', null, null)], 'b', edited);
    expect(body.type).toBe('FeatureCollection');
    expect(body.features.map((z) => z.properties.name)).toEqual(['a', 'Bravo 2']);
    expect(Object.keys(body.features[0].properties).sort())
      .toEqual(['active_from', 'active_until', 'ceiling_m', 'floor_m', 'id', 'name']);
  });
});
