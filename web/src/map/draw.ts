// Drawing on the map (mission areas and paths, zones, points) with terra-draw. One session at a
// time: it starts in the asked mode, or in select mode on an `initial` shape to edit, and ends
// with the coordinates (a polygon's ring without its closing point) or a cancel.
import type { Map as MlMap } from 'maplibre-gl';
import {
  TerraDraw, TerraDrawLineStringMode, TerraDrawPointMode, TerraDrawPolygonMode, TerraDrawSelectMode,
  ValidateNotSelfIntersecting, type GeoJSONStoreFeatures, type HexColor,
} from 'terra-draw';
import { TerraDrawMapLibreGLAdapter } from 'terra-draw-maplibre-gl-adapter';
import type { DrawMode, LngLat } from './api';
import { closeRing, openRing } from './geo';

export interface DrawOptions {
  mode: DrawMode;
  initial?: LngLat[];
  accent: string;
  outline: string;
  onDone(coords: LngLat[]): void;
  onCancel(): void;
}

export interface DrawSession {
  readonly mode: DrawMode;
  readonly editing: boolean;
  /** Whether a shape is under way (finish would produce something). */
  inProgress(): boolean;
  finish(): void;
  cancel(): void;
}

const hex = (c: string, fb: HexColor): HexColor => (/^#[0-9a-f]{3,8}$/i.test(c) ? (c as HexColor) : fb);

export function coordsOf(f: GeoJSONStoreFeatures | undefined): LngLat[] {
  const g = f?.geometry;
  if (!g) return [];
  const round = (c: number[]): LngLat => [+c[0].toFixed(7), +c[1].toFixed(7)];
  if (g.type === 'Polygon') return openRing(g.coordinates[0] ?? []).map(round);
  if (g.type === 'LineString') return g.coordinates.map(round);
  if (g.type === 'Point') return [round(g.coordinates)];
  return [];
}

export function startDrawSession(map: MlMap, o: DrawOptions): DrawSession {
  const accent = hex(o.accent, '#2f8cff');
  const outline = hex(o.outline, '#ffffff');
  const point = { pointColor: accent, pointWidth: 6, pointOutlineColor: outline, pointOutlineWidth: 2 };
  const vertex = {
    coordinatePointColor: accent, coordinatePointWidth: 4, coordinatePointOutlineColor: outline, coordinatePointOutlineWidth: 1.5,
  };
  const keyEvents = { cancel: 'Escape', finish: 'Enter' };
  const polygon = new TerraDrawPolygonMode({
    keyEvents, showCoordinatePoints: true,
    validation: (feature) => ValidateNotSelfIntersecting(feature),
    styles: {
      fillColor: accent, fillOpacity: 0.18, outlineColor: accent, outlineWidth: 2,
      closingPointColor: accent, closingPointWidth: 6, closingPointOutlineColor: outline, closingPointOutlineWidth: 2,
      ...vertex,
    },
  });
  const linestring = new TerraDrawLineStringMode({
    keyEvents, showCoordinatePoints: true,
    styles: {
      lineStringColor: accent, lineStringWidth: 3,
      closingPointColor: accent, closingPointWidth: 6, closingPointOutlineColor: outline, closingPointOutlineWidth: 2,
      ...vertex,
    },
  });
  const pointMode = new TerraDrawPointMode({ styles: point });
  const editable = { draggable: true, coordinates: { draggable: true, midpoints: true, deletable: true } };
  const select = new TerraDrawSelectMode({
    flags: {
      polygon: { feature: editable },
      linestring: { feature: editable },
      point: { feature: { draggable: true } },
    },
    styles: {
      selectedPolygonColor: accent, selectedPolygonFillOpacity: 0.18, selectedPolygonOutlineColor: accent, selectedPolygonOutlineWidth: 2,
      selectedLineStringColor: accent, selectedLineStringWidth: 3,
      selectedPointColor: accent, selectedPointWidth: 7, selectedPointOutlineColor: outline, selectedPointOutlineWidth: 2,
      selectionPointColor: accent, selectionPointWidth: 5, selectionPointOutlineColor: outline, selectionPointOutlineWidth: 2,
      midPointColor: outline, midPointOutlineColor: accent, midPointWidth: 3, midPointOutlineWidth: 1.5,
    },
  });
  const modes = { polygon, linestring, point: pointMode };
  const draw = new TerraDraw({
    adapter: new TerraDrawMapLibreGLAdapter({ map, coordinatePrecision: 7 }),
    modes: [polygon, linestring, pointMode, select],
  });
  draw.start();

  let ended = false;
  let editedId: string | number | null = null;
  const end = () => {
    if (ended) return;
    ended = true;
    window.removeEventListener('keydown', onKey, true);
    draw.off('finish', onFinish);
    try { draw.stop(); } catch { /* the map went away first */ }
  };
  const complete = (id: string | number) => {
    const coords = coordsOf(draw.getSnapshotFeature(id));
    end();
    o.onDone(coords);
  };
  const onFinish = (id: string | number, ctx: { mode: string; action: string }) => {
    if (ctx.action === 'draw') complete(id);
  };
  draw.on('finish', onFinish);

  if (o.initial && o.initial.length) {
    const c = o.initial;
    const geometry = o.mode === 'polygon'
      ? { type: 'Polygon' as const, coordinates: [closeRing(c)] }
      : o.mode === 'linestring' ? { type: 'LineString' as const, coordinates: c } : { type: 'Point' as const, coordinates: c[0] };
    editedId = draw.getFeatureId();
    const [res] = draw.addFeatures([{ type: 'Feature', id: editedId, geometry, properties: { mode: o.mode } }]);
    if (res?.valid) draw.selectFeature(editedId);
    else { editedId = null; draw.setMode(o.mode); }
  } else {
    draw.setMode(o.mode);
  }

  const drawing = () => !ended && editedId === null && draw.getModeState() === 'drawing';
  const session: DrawSession = {
    mode: o.mode,
    editing: editedId !== null,
    inProgress: () => editedId !== null || drawing(),
    finish: () => {
      if (ended) return;
      if (editedId !== null) return complete(editedId);
      if (drawing() && o.mode !== 'point') {
        // terra-draw closes a shape on its finish key; there is no public call for it.
        modes[o.mode].onKeyUp({ key: 'Enter', heldKeys: [], preventDefault: () => undefined });
      }
    },
    cancel: () => {
      if (ended) return;
      end();
      o.onCancel();
    },
  };

  // Keys are read at the window (the map need not have focus), except while typing in a form.
  function onKey(e: KeyboardEvent): void {
    const t = e.target as HTMLElement | null;
    if (t && (t.tagName === 'INPUT' || t.tagName === 'TEXTAREA' || t.tagName === 'SELECT' || t.isContentEditable)) return;
    if (e.key === 'Enter' && !(t && t.tagName === 'BUTTON')) {
      e.preventDefault();
      e.stopPropagation();
      session.finish();
    } else if (e.key === 'Escape') {
      e.stopPropagation();
      // The first Escape drops the shape under way (terra-draw does that), the next one ends.
      if (!drawing()) session.cancel();
    }
  }
  window.addEventListener('keydown', onKey, true);
  return session;
}
