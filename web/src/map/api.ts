// What the rest of the page may ask of the map. The map itself (map/view.tsx) draws the live
// fleet from the store on its own; these are the overlays and tools that panels drive.
import type { Feature, FeatureCollection, LineString, Point, Polygon } from 'geojson';

export type LngLat = [number, number];

/** A plan preview: the path, the area, charging stops, and a zone to point at when refused. */
export interface PreviewOverlay {
  /** One LineString per vehicle/part. */
  paths: Feature<LineString>[];
  area?: Feature<Polygon> | null;
  stops?: Feature<Point>[];
  /** The id of a no-fly zone that made the planner refuse, to show in red. */
  offendingZoneId?: string | null;
  /** An offending polygon that is not a known zone (e.g. the planner's reason named one). */
  offending?: Feature<Polygon> | null;
}

/** A replay: the whole track, and where the vehicle is at the slider's time. */
export interface ReplayOverlay {
  track: Feature<LineString>;
  /** The part flown up to the slider's time. */
  flown: Feature<LineString>;
  position: LngLat | null;
  headingDeg: number | null;
  label: string;
}

export type DrawMode = 'polygon' | 'linestring' | 'point';

export interface MapApi {
  flyTo(at: LngLat, zoom?: number): void;
  fitTo(coords: LngLat[], padding?: number): void;
  setPreview(p: PreviewOverlay | null): void;
  setReplay(r: ReplayOverlay | null): void;
  /** While set, live vehicles are dimmed (replay mode). */
  setLiveDimmed(dimmed: boolean): void;
  /**
   * Let the user draw a shape; `done` receives its coordinates (a polygon's ring is not
   * closed). An `initial` shape is loaded for editing; `onCancel` hears Escape or the map's
   * own cancel. Returns a function that cancels.
   */
  startDraw(mode: DrawMode, done: (coords: LngLat[]) => void, initial?: LngLat[],
    onCancel?: () => void): () => void;
  /** Finish the shape being drawn now (the Enter key, or a "finish" button). */
  finishDraw(): void;
  highlightZone(id: string | null): void;
  /** Extra GeoJSON shown for a moment (a mission's planned path from the missions list). */
  setHighlight(fc: FeatureCollection | null): void;
}
