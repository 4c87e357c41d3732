// The map's style: one background and GeoJSON layers, all coloured from the page's theme
// variables. `layers(theme, state)` is the single description of every layer; `syncLayers`
// re-applies only the paint properties and filters that changed (theme switch, selection,
// replay dimming, highlighted zone), so nothing is ever removed and re-added.
import type {
  ExpressionSpecification, FilterSpecification, LayerSpecification, Map as MlMap, StyleSpecification,
} from 'maplibre-gl';
import { STATUS_COLORS } from '../format';
import { withAlpha } from './geo';

export interface Theme {
  bg: string; bg2: string; fg: string; muted: string; line: string; accent: string;
  ok: string; warn: string; crit: string; mapBg: string; grid: string;
}

const FALLBACK: Theme = {
  bg: '#0f1216', bg2: '#161b22', fg: '#e6eaf0', muted: '#8d98a8', line: '#2b3440', accent: '#2f8cff',
  ok: '#3fb950', warn: '#f0a500', crit: '#ff4d4f', mapBg: '#0c1014', grid: '#1f2833',
};

export function readTheme(el: Element = document.documentElement): Theme {
  const css = getComputedStyle(el);
  const v = (name: string, fb: string) => css.getPropertyValue(name).trim() || fb;
  return {
    bg: v('--bg', FALLBACK.bg), bg2: v('--bg2', FALLBACK.bg2), fg: v('--fg', FALLBACK.fg),
    muted: v('--muted', FALLBACK.muted), line: v('--line', FALLBACK.line), accent: v('--accent', FALLBACK.accent),
    ok: v('--ok', FALLBACK.ok), warn: v('--warn', FALLBACK.warn), crit: v('--crit', FALLBACK.crit),
    mapBg: v('--map-bg', FALLBACK.mapBg), grid: v('--grid', FALLBACK.grid),
  };
}

export interface LayerState {
  selected: string | null;
  dimmed: boolean;
  zone: string | null;
  offendingZone: string | null;
}

export const SOURCES = [
  'grid', 'zones', 'homes', 'stations', 'missions', 'trails', 'highlight',
  'preview-area', 'preview-paths', 'preview-stops', 'preview-offending',
  'replay-track', 'replay-pos', 'vehicles',
] as const;
export type SourceId = (typeof SOURCES)[number];

/** Layers the pointer can hover or click, most important first. */
export const INTERACTIVE = ['veh-icon-sel', 'veh-icon', 'station-icon', 'station-badge', 'home-icon',
  'mission-flown', 'mission-planned', 'zone-fill-active', 'zone-fill-scheduled'];

// Symbol text is drawn by MapLibre from the browser's own fonts (the style has no glyphs URL,
// so no request is made); the names only pick a weight.
const FONT = ['Noto Sans Regular'];
const FONT_BOLD = ['Noto Sans Bold'];

export function statusColorExpr(): ExpressionSpecification {
  const pairs = Object.entries(STATUS_COLORS).flat();
  return ['match', ['get', 'status'], ...pairs, STATUS_COLORS.unknown] as unknown as ExpressionSpecification;
}

function idIs(id: string | null): FilterSpecification {
  return ['==', ['get', 'id'], id ?? '\u0000none'];
}

const EMPTY = { type: 'FeatureCollection', features: [] } as const;

/** The style at start: empty GeoJSON sources and every layer (a basemap is added later, if any). */
export function baseStyle(th: Theme, st: LayerState): StyleSpecification {
  const sources: StyleSpecification['sources'] = {};
  for (const id of SOURCES) {
    sources[id] = {
      type: 'geojson', data: EMPTY as unknown as GeoJSON.FeatureCollection,
      ...(id === 'vehicles' ? { promoteId: 'id' } : {}),
    };
  }
  return { version: 8, sources, layers: layers(th, st) };
}

/** Every layer, bottom to top. */
export function layers(th: Theme, st: LayerState): LayerSpecification[] {
  const dim = st.dimmed ? 0.25 : 1;
  const status = statusColorExpr();
  const liveOpacity: ExpressionSpecification = ['match', ['get', 'live'], 'fresh', 1 * dim, 'stale', 0.5 * dim, 0.32 * dim];
  const sel = st.selected;
  const lowBattery: ExpressionSpecification = ['all', ['>=', ['get', 'bat'], 0], ['<', ['get', 'bat'], 15]];
  return [
    { id: 'bg', type: 'background', paint: { 'background-color': th.mapBg } },
    // -- the lat/lon grid
    { id: 'grid-line', type: 'line', source: 'grid', filter: ['==', ['get', 'kind'], 'line'],
      paint: { 'line-color': th.grid, 'line-width': 1 } },
    { id: 'grid-label', type: 'symbol', source: 'grid', filter: ['!=', ['get', 'kind'], 'line'],
      layout: { 'text-field': ['get', 'label'], 'text-font': FONT, 'text-size': 10,
        'text-anchor': ['match', ['get', 'kind'], 'lat', 'bottom-right', 'top-left'], 'text-offset': [0.3, 0],
        'text-allow-overlap': false, 'text-padding': 4 },
      paint: { 'text-color': th.muted, 'text-halo-color': th.mapBg, 'text-halo-width': 1.2, 'text-opacity': 0.8 } },
    // -- no-fly zones: active ones filled red, scheduled ones hatched with a dashed outline
    { id: 'zone-fill-active', type: 'fill', source: 'zones', filter: ['==', ['get', 'cls'], 'active'],
      paint: { 'fill-color': th.crit, 'fill-opacity': 0.2 } },
    { id: 'zone-fill-scheduled', type: 'fill', source: 'zones', filter: ['==', ['get', 'cls'], 'scheduled'],
      paint: { 'fill-pattern': 'hatch', 'fill-opacity': 0.9 } },
    { id: 'zone-line-active', type: 'line', source: 'zones', filter: ['==', ['get', 'cls'], 'active'],
      paint: { 'line-color': th.crit, 'line-width': 1.8, 'line-opacity': 0.9 } },
    { id: 'zone-line-scheduled', type: 'line', source: 'zones', filter: ['==', ['get', 'cls'], 'scheduled'],
      paint: { 'line-color': th.warn, 'line-width': 1.6, 'line-dasharray': [3, 2] } },
    { id: 'zone-hl', type: 'line', source: 'zones', filter: idIs(st.zone),
      paint: { 'line-color': th.accent, 'line-width': 6, 'line-blur': 3, 'line-opacity': 0.9 } },
    { id: 'zone-offending', type: 'line', source: 'zones', filter: idIs(st.offendingZone),
      paint: { 'line-color': th.crit, 'line-width': 9, 'line-blur': 5 } },
    { id: 'zone-label', type: 'symbol', source: 'zones', minzoom: 13,
      layout: { 'text-field': ['get', 'name'], 'text-font': FONT, 'text-size': 11, 'symbol-placement': 'point' },
      paint: { 'text-color': ['match', ['get', 'cls'], 'active', th.crit, th.warn], 'text-halo-color': th.mapBg, 'text-halo-width': 1.5 } },
    // -- homes and charging stations
    { id: 'home-icon', type: 'symbol', source: 'homes', minzoom: 14,
      layout: { 'icon-image': 'home', 'icon-allow-overlap': true, 'icon-size': ['interpolate', ['linear'], ['zoom'], 11, 0.7, 16, 1] },
      paint: { 'icon-color': th.muted, 'icon-halo-color': th.mapBg, 'icon-halo-width': 1, 'icon-opacity': 0.85 * dim } },
    { id: 'station-pads', type: 'circle', source: 'stations', minzoom: 16, filter: ['==', ['get', 'kind'], 'pad'],
      paint: { 'circle-radius': 5, 'circle-color': 'rgba(0,0,0,0)', 'circle-stroke-color': STATUS_COLORS.charging, 'circle-stroke-width': 1.5 } },
    { id: 'station-icon', type: 'symbol', source: 'stations', filter: ['==', ['get', 'kind'], 'station'],
      layout: { 'icon-image': 'station', 'icon-allow-overlap': true, 'icon-ignore-placement': true,
        'icon-size': ['interpolate', ['linear'], ['zoom'], 8, 0.7, 14, 1],
        'text-field': ['get', 'name'], 'text-font': FONT, 'text-size': 10, 'text-anchor': 'top', 'text-offset': [0, 1.3], 'text-optional': true },
      paint: { 'icon-color': STATUS_COLORS.charging, 'icon-halo-color': th.mapBg, 'icon-halo-width': 1.5,
        'text-color': th.muted, 'text-halo-color': th.mapBg, 'text-halo-width': 1.2,
        'text-opacity': ['step', ['zoom'], 0, 12, 1] } },
    { id: 'station-badge', type: 'circle', source: 'stations', filter: ['all', ['==', ['get', 'kind'], 'station'], ['>', ['get', 'waiting'], 0]],
      paint: { 'circle-radius': ['interpolate', ['linear'], ['get', 'waiting'], 1, 7, 4, 9, 10, 12],
        'circle-color': ['step', ['get', 'waiting'], th.warn, 3, th.crit], 'circle-translate': [11, -11],
        'circle-stroke-color': th.mapBg, 'circle-stroke-width': 1.5 } },
    { id: 'station-badge-text', type: 'symbol', source: 'stations', filter: ['all', ['==', ['get', 'kind'], 'station'], ['>', ['get', 'waiting'], 0]],
      layout: { 'text-field': ['to-string', ['get', 'waiting']], 'text-font': FONT_BOLD, 'text-size': 10,
        'text-allow-overlap': true, 'text-ignore-placement': true },
      paint: { 'text-color': ['step', ['get', 'waiting'], '#000000', 3, '#ffffff'], 'text-translate': [11, -11] } },
    // -- missions' planned paths: the part still to fly dim, the part flown bright
    { id: 'mission-planned', type: 'line', source: 'missions', filter: ['==', ['get', 'kind'], 'planned'],
      layout: { 'line-join': 'round' },
      paint: { 'line-color': th.accent, 'line-width': 1.8, 'line-opacity': 0.45 * dim, 'line-dasharray': [2, 1.5] } },
    { id: 'mission-flown', type: 'line', source: 'missions', filter: ['==', ['get', 'kind'], 'flown'],
      layout: { 'line-join': 'round', 'line-cap': 'round' },
      paint: { 'line-color': th.accent, 'line-width': 3, 'line-opacity': 0.9 * dim } },
    { id: 'mission-arrows', type: 'symbol', source: 'missions', minzoom: 13, filter: ['==', ['get', 'kind'], 'planned'],
      layout: { 'symbol-placement': 'line', 'symbol-spacing': 90, 'icon-image': 'chevron', 'icon-size': 0.8,
        'icon-allow-overlap': true, 'icon-rotation-alignment': 'map' },
      paint: { 'icon-color': th.accent, 'icon-opacity': 0.6 * dim } },
    // -- short trails. Not a line-gradient: that costs a gradient texture per trail on every
    // update, which at 1,000 vehicles tripled the frame time (bench/dashboard_frames.py).
    { id: 'trails', type: 'line', source: 'trails',
      layout: { 'line-join': 'bevel', 'line-cap': 'butt' },  // round joins: many more triangles
      paint: { 'line-width': 1.5, 'line-color': th.fg, 'line-opacity': 0.3 * dim } },
    // -- a mission shown for a moment from the missions list
    { id: 'hl-fill', type: 'fill', source: 'highlight', filter: ['==', ['geometry-type'], 'Polygon'],
      paint: { 'fill-color': th.accent, 'fill-opacity': 0.14 } },
    { id: 'hl-glow', type: 'line', source: 'highlight', filter: ['!=', ['geometry-type'], 'Point'],
      paint: { 'line-color': th.accent, 'line-width': 9, 'line-blur': 5, 'line-opacity': 0.45 } },
    { id: 'hl-line', type: 'line', source: 'highlight', filter: ['!=', ['geometry-type'], 'Point'],
      layout: { 'line-join': 'round' }, paint: { 'line-color': th.accent, 'line-width': 3 } },
    { id: 'hl-point', type: 'circle', source: 'highlight', filter: ['==', ['geometry-type'], 'Point'],
      paint: { 'circle-radius': 5, 'circle-color': th.accent, 'circle-stroke-color': th.mapBg, 'circle-stroke-width': 1.5 } },
    // -- a plan preview
    { id: 'preview-area-fill', type: 'fill', source: 'preview-area', paint: { 'fill-color': th.accent, 'fill-opacity': 0.12 } },
    { id: 'preview-area-line', type: 'line', source: 'preview-area',
      paint: { 'line-color': th.accent, 'line-width': 2, 'line-dasharray': [3, 2] } },
    { id: 'preview-offending-fill', type: 'fill', source: 'preview-offending', paint: { 'fill-color': th.crit, 'fill-opacity': 0.25 } },
    { id: 'preview-offending-glow', type: 'line', source: 'preview-offending',
      paint: { 'line-color': th.crit, 'line-width': 9, 'line-blur': 5 } },
    { id: 'preview-path-casing', type: 'line', source: 'preview-paths', layout: { 'line-join': 'round', 'line-cap': 'round' },
      paint: { 'line-color': th.mapBg, 'line-width': 6, 'line-opacity': 0.7 } },
    { id: 'preview-path', type: 'line', source: 'preview-paths', layout: { 'line-join': 'round', 'line-cap': 'round' },
      paint: { 'line-color': th.accent, 'line-width': 3 } },
    { id: 'preview-arrows', type: 'symbol', source: 'preview-paths',
      layout: { 'symbol-placement': 'line', 'symbol-spacing': 60, 'icon-image': 'chevron', 'icon-size': 0.75,
        'icon-allow-overlap': true, 'icon-rotation-alignment': 'map' },
      paint: { 'icon-color': '#ffffff', 'icon-opacity': 0.95 } },
    { id: 'preview-stops', type: 'symbol', source: 'preview-stops',
      layout: { 'icon-image': 'station', 'icon-allow-overlap': true, 'icon-size': 0.9,
        'text-field': ['coalesce', ['get', 'label'], ''], 'text-font': FONT, 'text-size': 10, 'text-anchor': 'top', 'text-offset': [0, 1.2], 'text-optional': true },
      paint: { 'icon-color': STATUS_COLORS.charging, 'icon-halo-color': th.mapBg, 'icon-halo-width': 2,
        'text-color': th.fg, 'text-halo-color': th.mapBg, 'text-halo-width': 1.5 } },
    // -- a replay's whole track dim, its flown part bright
    { id: 'replay-track', type: 'line', source: 'replay-track', filter: ['==', ['get', 'kind'], 'track'],
      layout: { 'line-join': 'round' }, paint: { 'line-color': th.muted, 'line-width': 2, 'line-opacity': 0.6 } },
    { id: 'replay-flown', type: 'line', source: 'replay-track', filter: ['==', ['get', 'kind'], 'flown'],
      layout: { 'line-join': 'round', 'line-cap': 'round' }, paint: { 'line-color': th.accent, 'line-width': 3.5 } },
    // -- live vehicles, above everything
    { id: 'veh-halo', type: 'circle', source: 'vehicles', filter: idIs(sel),
      paint: { 'circle-radius': 17, 'circle-color': withAlpha(th.accent, 0.22), 'circle-stroke-color': th.accent,
        'circle-stroke-width': 2, 'circle-opacity': dim, 'circle-stroke-opacity': dim } },
    { id: 'veh-ring', type: 'symbol', source: 'vehicles', filter: ['!=', ['get', 'live'], 'fresh'],
      layout: { 'icon-image': 'veh-ring', 'icon-allow-overlap': true, 'icon-ignore-placement': true,
        'icon-size': ['interpolate', ['linear'], ['zoom'], 6, 0.65, 14, 0.95] },
      paint: { 'icon-color': th.muted, 'icon-opacity': 0.9 * dim } },
    { id: 'veh-icon', type: 'symbol', source: 'vehicles', filter: ['!=', ['get', 'id'], sel ?? '\u0000none'],
      layout: { 'icon-image': ['case', ['>=', ['get', 'hdg'], 0], 'veh-arrow', 'veh-dot'],
        'icon-rotate': ['max', ['get', 'hdg'], 0], 'icon-rotation-alignment': 'map',
        'icon-allow-overlap': true, 'icon-ignore-placement': true,
        // Small while zoomed out, where a big fleet would be one blue carpet.
        'icon-size': ['interpolate', ['linear'], ['zoom'], 6, 0.35, 12, 0.55, 14, 0.95, 18, 1.1] },
      // No halo zoomed out: it is a second SDF pass over every icon, paid on each redraw.
      paint: { 'icon-color': status, 'icon-opacity': liveOpacity, 'icon-halo-color': th.mapBg,
        'icon-halo-width': ['step', ['zoom'], 0, 13, 1.4] } },
    { id: 'veh-label', type: 'symbol', source: 'vehicles', minzoom: 14.5, filter: ['!=', ['get', 'id'], sel ?? '\u0000none'],
      layout: { 'text-field': ['get', 'label'], 'text-font': FONT, 'text-size': 11, 'text-anchor': 'top',
        'text-offset': [0, 1.1], 'text-padding': 1 },
      paint: { 'text-color': ['case', lowBattery, th.crit, th.fg], 'text-halo-color': th.mapBg, 'text-halo-width': 1.5,
        'text-opacity': liveOpacity } },
    { id: 'veh-icon-sel', type: 'symbol', source: 'vehicles', filter: idIs(sel),
      layout: { 'icon-image': ['case', ['>=', ['get', 'hdg'], 0], 'veh-arrow', 'veh-dot'],
        'icon-rotate': ['max', ['get', 'hdg'], 0], 'icon-rotation-alignment': 'map',
        'icon-allow-overlap': true, 'icon-ignore-placement': true, 'icon-size': 1.2,
        'text-field': ['get', 'label'], 'text-font': FONT_BOLD, 'text-size': 12, 'text-anchor': 'top',
        'text-offset': [0, 1.5], 'text-allow-overlap': true, 'text-ignore-placement': true },
      paint: { 'icon-color': status, 'icon-opacity': liveOpacity, 'icon-halo-color': th.fg, 'icon-halo-width': 1.6,
        'text-color': ['case', lowBattery, th.crit, th.fg], 'text-halo-color': th.mapBg, 'text-halo-width': 2 } },
    // -- the replayed vehicle, above the (dimmed) live ones
    { id: 'replay-pos', type: 'symbol', source: 'replay-pos',
      layout: { 'icon-image': ['case', ['>=', ['get', 'hdg'], 0], 'veh-arrow', 'veh-dot'],
        'icon-rotate': ['max', ['get', 'hdg'], 0], 'icon-rotation-alignment': 'map',
        'icon-allow-overlap': true, 'icon-ignore-placement': true, 'icon-size': 1.25,
        'text-field': ['get', 'label'], 'text-font': FONT_BOLD, 'text-size': 12, 'text-anchor': 'top',
        'text-offset': [0, 1.5], 'text-allow-overlap': true },
      paint: { 'icon-color': th.accent, 'icon-halo-color': th.fg, 'icon-halo-width': 1.6,
        'text-color': th.fg, 'text-halo-color': th.mapBg, 'text-halo-width': 2 } },
  ];
}

/** Re-apply what changed in the layers' paint and filters since the last call. */
export class LayerSync {
  private applied = new Map<string, string>();

  constructor(private readonly map: MlMap, initial: LayerSpecification[]) {
    for (const l of initial) this.remember(l);
  }

  private remember(l: LayerSpecification): void {
    const paint = (l as { paint?: Record<string, unknown> }).paint ?? {};
    for (const [k, v] of Object.entries(paint)) this.applied.set(`${l.id}|p|${k}`, JSON.stringify(v));
    this.applied.set(`${l.id}|f`, JSON.stringify((l as { filter?: unknown }).filter ?? null));
  }

  apply(next: LayerSpecification[]): void {
    for (const l of next) {
      if (!this.map.getLayer(l.id)) continue;
      const paint = (l as { paint?: Record<string, unknown> }).paint ?? {};
      for (const [k, v] of Object.entries(paint)) {
        const key = `${l.id}|p|${k}`;
        const json = JSON.stringify(v);
        if (this.applied.get(key) === json) continue;
        this.applied.set(key, json);
        (this.map.setPaintProperty as (layer: string, name: string, value: unknown) => void).call(this.map, l.id, k, v);
      }
      const filter = (l as { filter?: FilterSpecification }).filter ?? null;
      const fkey = `${l.id}|f`;
      const fjson = JSON.stringify(filter);
      if (this.applied.get(fkey) !== fjson) {
        this.applied.set(fkey, fjson);
        this.map.setFilter(l.id, filter);
      }
    }
  }
}
