// Drawing through the map with a cancel callback: the map ends a drawing on its own (Escape,
// its toolbar's Cancel), and the panel must hear that or it would wait for a shape forever.
// MapApi declares three arguments; the map's implementation takes an optional fourth
// (onCancel), and an implementation without it simply ignores the extra argument.
import type { DrawMode, LngLat, MapApi } from '../map/api';

type StartDraw = (mode: DrawMode, done: (coords: LngLat[]) => void, initial?: LngLat[], onCancel?: () => void) => () => void;

export function startDrawing(
  map: MapApi, mode: DrawMode, done: (coords: LngLat[]) => void, initial: LngLat[] | undefined, onCancel: () => void,
): () => void {
  return (map.startDraw as StartDraw).call(map, mode, done, initial, onCancel);
}
