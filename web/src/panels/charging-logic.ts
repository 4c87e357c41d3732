// The charging picture: stations with their pads filled from the live queue, the waiting
// line, and the recent sessions. Pure functions over what the routes return.
import type { ChargingEntry, ChargingStation } from '../types';

/** A feature of GET /charging/stations (routes/charging.py StationFeature). */
export interface StationFeature {
  id: string;
  geometry: { type: 'Point'; coordinates: number[] };
  properties: {
    station_id: string; name: string; site_id: string | null; pads: number;
    pad_positions?: number[][] | null; charge_rate_w: number | null; pad_radius_m?: number | null;
  };
}
export interface StationCollection { features: StationFeature[]; source: 'planner' | 'database' }

/** GET /charging/queue; `stations` only when a future bridge sends the whole message. */
export interface QueueAnswer { stamp: number | null; entries: ChargingEntry[]; stations?: ChargingStation[] }

/** A charging session of the `charging` channel (convert.py charging_session). */
export interface ChargingSession {
  vehicle_id: string; station_id: string; pad: number; requested_at: number | null;
  started_at: number | null; ended_at: number | null; queue_wait_s: number | null;
  start_pct: number | null; end_pct: number | null; energy_wh: number | null; completed: boolean;
}

export interface StationInfo {
  id: string; name: string; site: string | null; pads: number; rateW: number | null;
  lonLat: [number, number] | null;
}

export interface PadView {
  index: number;
  entry: ChargingEntry | null;
}

export interface StationView extends StationInfo {
  padViews: PadView[];
  /** Vehicles queued for this station (it was chosen before a pad came free). */
  waiting: number;
}

export function stationsFromFeatures(c: StationCollection | null): StationInfo[] {
  return (c?.features ?? []).map((f) => ({
    id: f.properties.station_id, name: f.properties.name || f.properties.station_id,
    site: f.properties.site_id, pads: f.properties.pads, rateW: f.properties.charge_rate_w,
    lonLat: f.geometry?.coordinates?.length >= 2 ? [f.geometry.coordinates[0], f.geometry.coordinates[1]] : null,
  }));
}

export function stationsFromQueue(list: ChargingStation[] | undefined): StationInfo[] {
  return (list ?? []).map((s) => ({
    id: s.station_id, name: s.name || s.station_id, site: s.site_id, pads: s.pads.length,
    rateW: s.charge_rate_w, lonLat: s.location ? [s.location.longitude, s.location.latitude] : null,
  }));
}

/** An entry that holds a pad (flying to it or charging on it). */
export function holdsPad(e: ChargingEntry): boolean {
  return e.pad !== null && e.station_id !== null && e.state !== 'queued';
}

/**
 * Each station with its pads: which vehicle holds which pad. A pad index beyond the
 * station's known count (the station list lagging the queue) still shows.
 */
export function buildStations(stations: StationInfo[], entries: ChargingEntry[]): StationView[] {
  return stations.map((s) => {
    const mine = entries.filter((e) => e.station_id === s.id);
    const highest = Math.max(s.pads - 1, ...mine.filter(holdsPad).map((e) => e.pad ?? 0));
    const padViews: PadView[] = [];
    for (let i = 0; i <= highest; i++) {
      padViews.push({ index: i, entry: mine.find((e) => holdsPad(e) && e.pad === i) ?? null });
    }
    return { ...s, padViews, waiting: mine.filter((e) => e.state === 'queued').length };
  });
}

/** The waiting line: queued vehicles by position. */
export function waitingLine(entries: ChargingEntry[]): ChargingEntry[] {
  return entries
    .filter((e) => e.state === 'queued')
    .sort((a, b) => (a.queue_position || Infinity) - (b.queue_position || Infinity)
      || a.vehicle_id.localeCompare(b.vehicle_id));
}

export function isSession(x: unknown): x is ChargingSession {
  return typeof x === 'object' && x !== null && typeof (x as ChargingSession).vehicle_id === 'string';
}

/** The sessions, most recent first (ended, else started, else requested). */
export function recentSessions(list: unknown[], limit = 30): ChargingSession[] {
  const when = (s: ChargingSession) => s.ended_at ?? s.started_at ?? s.requested_at ?? 0;
  return list.filter(isSession).sort((a, b) => when(b) - when(a)).slice(0, limit);
}

export function padLabel(pad: number | null | undefined): string {
  return pad === null || pad === undefined ? '—' : `pad ${pad + 1}`;
}
