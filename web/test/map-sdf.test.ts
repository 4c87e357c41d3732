import { describe, expect, it } from 'vitest';
import { sdfFromCoverage } from '../src/map/sdf';
import { coordsOf } from '../src/map/draw';

describe('sdfFromCoverage', () => {
  it('puts the edge at 0.75 and falls off outside within the radius', () => {
    const w = 21, h = 21;
    const cov = new Uint8Array(w * h);
    // A filled square 7..13 (inclusive) in both axes.
    for (let y = 7; y <= 13; y++) for (let x = 7; x <= 13; x++) cov[y * w + x] = 255;
    const sdf = sdfFromCoverage(cov, w, h, 4);
    const at = (x: number, y: number) => sdf[y * w + x];
    expect(at(10, 10)).toBeGreaterThan(191); // inside
    expect(at(7, 10)).toBeGreaterThanOrEqual(191); // the first pixel inside the edge
    expect(at(6, 10)).toBeLessThan(191); // the first pixel outside
    expect(at(6, 10)).toBeGreaterThan(at(4, 10)); // falls off with distance
    expect(at(0, 0)).toBe(0); // beyond the radius
  });

  it('treats partial coverage as a sub-pixel edge', () => {
    const cov = new Uint8Array(9).fill(0);
    cov[4] = 128;
    const sdf = sdfFromCoverage(cov, 3, 3, 4);
    expect(Math.abs(sdf[4] - 191)).toBeLessThan(2);
  });
});

describe('draw coordinates', () => {
  it('gives a polygon without its closing point, rounded', () => {
    const f = { type: 'Feature', properties: {}, geometry: { type: 'Polygon', coordinates: [[[8.123456789, 47.1], [8.2, 47.1], [8.2, 47.2], [8.123456789, 47.1]]] } };
    expect(coordsOf(f as never)).toEqual([[8.1234568, 47.1], [8.2, 47.1], [8.2, 47.2]]);
  });

  it('gives a line as is and a point as one coordinate', () => {
    expect(coordsOf({ type: 'Feature', properties: {}, geometry: { type: 'LineString', coordinates: [[1, 2], [3, 4]] } } as never)).toEqual([[1, 2], [3, 4]]);
    expect(coordsOf({ type: 'Feature', properties: {}, geometry: { type: 'Point', coordinates: [1, 2] } } as never)).toEqual([[1, 2]]);
    expect(coordsOf(undefined)).toEqual([]);
  });
});
