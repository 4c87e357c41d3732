// Signed distance fields for the map's icons. An SDF icon is drawn once and coloured by the
// style (icon-color per status, a halo for contrast on any theme), so 1,000 vehicles in seven
// colours need one image, not seven, and a theme change needs no new images.
// The encoding matches MapLibre's SDF shader (the edge at alpha 0.75), as tiny-sdf does.

const INF = 1e20;

/** Felzenszwalb–Huttenlocher 1-D squared distance transform, in place along a strided run. */
function edt1d(grid: Float64Array, offset: number, stride: number, length: number,
  f: Float64Array, v: Uint16Array, z: Float64Array): void {
  v[0] = 0;
  z[0] = -INF;
  z[1] = INF;
  f[0] = grid[offset];
  for (let q = 1, k = 0, s = 0; q < length; q++) {
    f[q] = grid[offset + q * stride];
    const q2 = q * q;
    do {
      const r = v[k];
      s = (f[q] - f[r] + q2 - r * r) / (q - r) / 2;
    } while (s <= z[k] && --k > -1);
    k++;
    v[k] = q;
    z[k] = s;
    z[k + 1] = INF;
  }
  for (let q = 0, k = 0; q < length; q++) {
    while (z[k + 1] < q) k++;
    const r = v[k];
    const qr = q - r;
    grid[offset + q * stride] = f[r] + qr * qr;
  }
}

function edt(grid: Float64Array, w: number, h: number): void {
  const n = Math.max(w, h);
  const f = new Float64Array(n);
  const v = new Uint16Array(n);
  const z = new Float64Array(n + 1);
  for (let x = 0; x < w; x++) edt1d(grid, x, w, h, f, v, z);
  for (let y = 0; y < h; y++) edt1d(grid, y * w, 1, w, f, v, z);
}

/**
 * Turn a coverage mask (0..255 per pixel, anti-aliased edges allowed) into SDF alpha values:
 * 191 on the edge, rising inside, falling to 0 `radius` pixels outside.
 */
export function sdfFromCoverage(cov: ArrayLike<number>, w: number, h: number, radius = 8, cutoff = 0.25): Uint8ClampedArray {
  const size = w * h;
  const outer = new Float64Array(size).fill(INF);
  const inner = new Float64Array(size).fill(0);
  for (let i = 0; i < size; i++) {
    const a = cov[i] / 255;
    if (a <= 0) continue;
    if (a >= 1) {
      outer[i] = 0;
      inner[i] = INF;
    } else {
      const d = 0.5 - a;
      outer[i] = d > 0 ? d * d : 0;
      inner[i] = d < 0 ? d * d : 0;
    }
  }
  edt(outer, w, h);
  edt(inner, w, h);
  const out = new Uint8ClampedArray(size);
  for (let i = 0; i < size; i++) {
    const d = Math.sqrt(outer[i]) - Math.sqrt(inner[i]);
    out[i] = Math.round(255 - 255 * (d / radius + cutoff));
  }
  return out;
}
