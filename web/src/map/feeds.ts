// What the map asks the bridge for besides the live stream: the UI configuration (basemap),
// the charging stations and their queue (polled), and the planned path of each mission being
// flown (fetched once; the recorder stores it a moment after the start, hence the retries).
import type { Position } from 'geojson';
import type { Session } from '../api';
import type { ChargingEntry } from '../types';
import { stationLoads, type StationLoad } from './geo';

const QUEUE_POLL_MS = 3000;
const STATION_POLL_MS = 30_000;
const PATH_RETRY_MS = 15_000;
const PATH_FETCHES = 3;

export interface UiConfig { basemap_tiles?: string | null; basemap_attribution?: string | null }

export interface StationFeature {
  id: string;
  geometry: { type: 'Point'; coordinates: number[] };
  properties: Record<string, unknown>;
}

export interface PathEntry { coords: Position[] | null; at: number; pending: boolean; segment: number }

export class MapFeeds {
  stations: StationFeature[] = [];
  loads = new Map<string, StationLoad>();
  private paths = new Map<string, PathEntry>();
  private fetching = 0;
  private timers = new Set<ReturnType<typeof setTimeout>>();
  private abort = new AbortController();

  /** `changed` says which picture needs redrawing after an answer. */
  constructor(private readonly session: () => Session, private readonly changed: (what: 'stations' | 'missions') => void) {}

  start(): void {
    this.pollQueue();
    this.pollStations();
  }

  stop(): void {
    this.abort.abort();
    this.timers.forEach(clearTimeout);
    this.timers.clear();
  }

  async config(): Promise<UiConfig | null> {
    try {
      return await this.session().get<UiConfig>('/ui/config', undefined, { signal: this.abort.signal, timeoutMs: 5000 });
    } catch {
      return null; // no such route (an older bridge) or unreachable: no basemap
    }
  }

  private later(fn: () => void, ms: number): void {
    if (this.abort.signal.aborted) return;
    const h = setTimeout(() => {
      this.timers.delete(h);
      fn();
    }, ms);
    this.timers.add(h);
  }

  private pollQueue(): void {
    this.session().get<{ entries: ChargingEntry[] }>('/charging/queue', undefined, { signal: this.abort.signal, timeoutMs: 5000 })
      .then((q) => { this.loads = stationLoads(q.entries ?? []); this.changed('stations'); })
      .catch(() => { /* no planner yet (503): stations are shown without their queue */ })
      .finally(() => this.later(() => this.pollQueue(), QUEUE_POLL_MS));
  }

  private pollStations(): void {
    this.session().get<{ features: StationFeature[] }>('/charging/stations', undefined, { signal: this.abort.signal, timeoutMs: 10_000 })
      .then((s) => { this.stations = s.features ?? []; this.changed('stations'); })
      .catch(() => undefined)
      .finally(() => this.later(() => this.pollStations(), STATION_POLL_MS));
  }

  /**
   * The planned path of a mission (null coords until it is known). A few fetches at a time,
   * so a fleet that starts a hundred missions at once does not flood the bridge.
   */
  path(id: string): PathEntry {
    let e = this.paths.get(id);
    if (!e) this.paths.set(id, (e = { coords: null, at: 0, pending: false, segment: 0 }));
    const now = performance.now();
    if (!e.coords && !e.pending && this.fetching < PATH_FETCHES && (!e.at || now - e.at > PATH_RETRY_MS)) {
      e.pending = true;
      this.fetching++;
      const entry = e;
      const path = id.split('/').map(encodeURIComponent).join('/');
      // The mission report carries the planned path; max_path_points keeps its flown path tiny.
      this.session().get<{ planned_path: { coordinates: number[][] } | null }>(`/reports/missions/${path}`,
        { max_path_points: 2 }, { signal: this.abort.signal, timeoutMs: 15_000 })
        .then((r) => { const c = r.planned_path?.coordinates; if (c && c.length >= 2) entry.coords = c; })
        .catch(() => undefined)
        .finally(() => {
          entry.pending = false;
          entry.at = performance.now();
          this.fetching--;
          if (!this.abort.signal.aborted) this.changed('missions');
        });
    }
    return e;
  }

  /** Forget the paths of missions no longer shown. */
  keepPaths(shown: Set<string>): void {
    for (const id of this.paths.keys()) if (!shown.has(id)) this.paths.delete(id);
  }
}
