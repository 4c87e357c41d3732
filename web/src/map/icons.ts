// The map's icons, drawn at start-up on a canvas (no image files, no requests): SDF shapes the
// style colours, and the hatch pattern of scheduled no-fly zones (patterns cannot be SDF, so
// that one is redrawn when the theme changes).
import type { Map as MlMap } from 'maplibre-gl';
import { sdfFromCoverage } from './sdf';

const RATIO = 2;
const BUFFER = 8; // image pixels around the shape, room for the halo

type Painter = (c: CanvasRenderingContext2D, s: number) => void;

function poly(c: CanvasRenderingContext2D, s: number, pts: number[][]): void {
  c.beginPath();
  pts.forEach(([x, y], i) => (i ? c.lineTo(x * s, y * s) : c.moveTo(x * s, y * s)));
  c.closePath();
  c.fill();
}

const SHAPES: Record<string, { size: number; paint: Painter }> = {
  // A navigation arrow pointing north; icon-rotate turns it to the heading.
  'veh-arrow': { size: 22, paint: (c, s) => poly(c, s, [[0.5, 0.04], [0.9, 0.94], [0.5, 0.74], [0.1, 0.94]]) },
  // No heading known: a dot the size of the arrow's body.
  'veh-dot': { size: 22, paint: (c, s) => { c.beginPath(); c.arc(s / 2, s / 2, s * 0.3, 0, Math.PI * 2); c.fill(); } },
  // Stale or lost: a dashed ring around the vehicle.
  'veh-ring': {
    size: 32, paint: (c, s) => {
      c.lineWidth = s * 0.07;
      c.setLineDash([s * 0.12, s * 0.09]);
      c.beginPath();
      c.arc(s / 2, s / 2, s * 0.44, 0, Math.PI * 2);
      c.stroke();
    },
  },
  home: {
    size: 14, paint: (c, s) => {
      poly(c, s, [[0.5, 0.06], [0.96, 0.48], [0.82, 0.48], [0.82, 0.94], [0.18, 0.94], [0.18, 0.48], [0.04, 0.48]]);
      c.globalCompositeOperation = 'destination-out';
      c.fillRect(s * 0.41, s * 0.6, s * 0.18, s * 0.34);
      c.globalCompositeOperation = 'source-over';
    },
  },
  station: {
    size: 20, paint: (c, s) => {
      const r = s * 0.2;
      c.beginPath();
      c.roundRect(s * 0.04, s * 0.04, s * 0.92, s * 0.92, r);
      c.fill();
      c.globalCompositeOperation = 'destination-out';
      poly(c, s, [[0.58, 0.14], [0.26, 0.56], [0.48, 0.56], [0.4, 0.86], [0.74, 0.42], [0.52, 0.42]]);
      c.globalCompositeOperation = 'source-over';
    },
  },
  // Along a path (symbol-placement line lays the x axis along the line): points forward.
  chevron: {
    size: 12, paint: (c, s) => poly(c, s, [[0.2, 0.1], [0.9, 0.5], [0.2, 0.9], [0.38, 0.5]]),
  },
  'stop-pin': {
    size: 14, paint: (c, s) => { c.beginPath(); c.arc(s / 2, s / 2, s * 0.42, 0, Math.PI * 2); c.fill(); },
  },
};

function canvas(w: number, h: number): CanvasRenderingContext2D {
  const el = document.createElement('canvas');
  el.width = w;
  el.height = h;
  return el.getContext('2d', { willReadFrequently: true })!;
}

function sdfImage(size: number, paint: Painter): { width: number; height: number; data: Uint8Array } {
  const inner = size * RATIO;
  const dim = inner + BUFFER * 2;
  const c = canvas(dim, dim);
  c.translate(BUFFER, BUFFER);
  c.fillStyle = c.strokeStyle = '#000';
  paint(c, inner);
  const rgba = c.getImageData(0, 0, dim, dim).data;
  const cov = new Uint8ClampedArray(dim * dim);
  for (let i = 0; i < cov.length; i++) cov[i] = rgba[i * 4 + 3];
  const alpha = sdfFromCoverage(cov, dim, dim, BUFFER);
  const data = new Uint8Array(dim * dim * 4);
  for (let i = 0; i < alpha.length; i++) {
    data[i * 4] = data[i * 4 + 1] = data[i * 4 + 2] = 255;
    data[i * 4 + 3] = alpha[i];
  }
  return { width: dim, height: dim, data };
}

function hatch(color: string): { width: number; height: number; data: Uint8Array } {
  const n = 12 * RATIO;
  const c = canvas(n, n);
  c.strokeStyle = color;
  c.globalAlpha = 0.55;
  c.lineWidth = 1.6 * RATIO;
  // Three strokes so the diagonal continues across tile edges without a seam.
  for (const o of [-n, 0, n]) {
    c.beginPath();
    c.moveTo(o, n);
    c.lineTo(o + n, 0);
    c.stroke();
  }
  const d = c.getImageData(0, 0, n, n).data;
  return { width: n, height: n, data: new Uint8Array(d.buffer.slice(0)) };
}

export function addIcons(map: MlMap, hatchColor: string): void {
  for (const [name, s] of Object.entries(SHAPES)) {
    if (!map.hasImage(name)) map.addImage(name, sdfImage(s.size, s.paint), { pixelRatio: RATIO, sdf: true });
  }
  setHatch(map, hatchColor);
}

export function setHatch(map: MlMap, color: string): void {
  const img = hatch(color);
  if (map.hasImage('hatch')) map.updateImage('hatch', img);
  else map.addImage('hatch', img, { pixelRatio: RATIO });
}
