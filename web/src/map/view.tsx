// The map pane: the MapLibre canvas (driven by MapController, outside Preact's rendering),
// the "fit fleet" button, the drawing toolbar and the legend.
import { useEffect, useRef, useState } from 'preact/hooks';
import { useApp } from '../ctx';
import type { MapApi } from './api';
import { MapController, type DrawUi } from './controller';
import { Legend } from './legend';
import './map.css';

const DRAW_HINTS: Record<string, string> = {
  polygon: 'Click to add corners. Double-click, Enter or Finish closes the area.',
  linestring: 'Click to add points. Double-click the last point, Enter or Finish ends the path.',
  point: 'Click on the map to place the point.',
  edit: 'Drag corners to move them, drag a midpoint to add one. Enter or Finish keeps the shape.',
};

export function MapView({ onReady }: { onReady(api: MapApi): void }) {
  const app = useApp();
  const appRef = useRef(app);
  appRef.current = app;
  const box = useRef<HTMLDivElement>(null);
  const ctl = useRef<MapController | null>(null);
  const [draw, setDraw] = useState<DrawUi | null>(null);
  const [error, setError] = useState<string | null>(null);

  useEffect(() => {
    let c: MapController;
    try {
      c = new MapController(box.current!, { app: () => appRef.current, onDraw: setDraw, onReady });
    } catch (err) {
      // No WebGL (a locked-down browser, a VM without a GPU): say so instead of a blank pane.
      setError(err instanceof Error ? err.message : String(err));
      return;
    }
    ctl.current = c;
    c.setSite(appRef.current.site);
    return () => { c.destroy(); ctl.current = null; };
  }, []);
  useEffect(() => ctl.current?.setSite(app.site), [app.site]);

  return (
    <>
      <div class="map" ref={box} data-testid="map" />
      <div class="map-tools">
        <button type="button" data-testid="fit-fleet" title="Frame every vehicle" onClick={() => ctl.current?.fitFleet()}>
          <span aria-hidden="true">⤢</span> Fit fleet
        </button>
      </div>
      {draw && (
        <div class="map-drawbar" role="region" aria-label="drawing" data-testid="draw-bar">
          <span class="map-drawbar-text">
            <b>{draw.editing ? 'Editing' : `Drawing ${draw.mode === 'linestring' ? 'a path' : draw.mode === 'polygon' ? 'an area' : 'a point'}`}</b>
            {' — '}{DRAW_HINTS[draw.editing ? 'edit' : draw.mode]} Esc cancels.
          </span>
          {draw.mode !== 'point' || draw.editing ? (
            <button type="button" class="primary" data-testid="draw-finish" onClick={() => ctl.current?.finishDraw()}>Finish</button>
          ) : null}
          <button type="button" data-testid="draw-cancel" onClick={() => ctl.current?.cancelDraw()}>Cancel</button>
        </div>
      )}
      <Legend />
      {error && (
        <div class="map-error" role="alert">
          The map cannot be drawn in this browser ({error}). The panels on the right still work.
        </div>
      )}
    </>
  );
}
