// The replay's arithmetic, kept free of the DOM so it can be tested: a track of stored
// samples, where the vehicle is at time t, which part of the track it has flown by then,
// and the window of a mission from its state transitions.
import type { Feature, LineString } from 'geojson';
import type { LngLat } from '../map/api';

/** One telemetry sample as GET /telemetry/vehicles/{id}/history sends it. */
export interface SampleIn {
  vehicle_id: string;
  time: string;
  latitude: number;
  longitude: number;
  altitude_amsl: number | null;
  altitude_rel: number | null;
  heading_deg: number | null;
  ground_speed_mps: number | null;
  climb_rate_mps?: number | null;
  battery_pct: number | null;
  voltage_v?: number | null;
  current_a?: number | null;
  mode?: string | null;
  armed?: boolean | null;
  landed_state?: number | null;
  mission_id: string | null;
}

/** A sample of the replay: time in POSIX seconds, position, and what the panel shows. */
export interface TrackPoint {
  t: number;
  lon: number;
  lat: number;
  alt: number | null;
  speed: number | null;
  battery: number | null;
  heading: number | null;
  mode: string | null;
}

/** A stored transition as GET /telemetry/missions/{id}/timeline sends it. */
export interface TimelineEntry {
  time: string;
  from_state: string | null;
  to_state: string;
  reason: string | null;
  actor: string | null;
  details: Record<string, unknown>;
}

/** Where the vehicle is at one moment of the replay. */
export interface ReplayState {
  t: number;
  /** Index of the last sample at or before t (-1 before the first). */
  index: number;
  position: LngLat | null;
  alt: number | null;
  speed: number | null;
  battery: number | null;
  headingDeg: number | null;
  mode: string | null;
  /** True inside a gap in the recording (the vehicle's position is the last one known). */
  gap: boolean;
}

/** Longer than this without a sample is a hole in the recording: do not draw across it. */
export const GAP_S = 15;

export const FINAL_STATES = new Set(['completed', 'aborted', 'failed']);
const FLYING_STATES = ['active', 'assigned'];

function finite(v: number | null | undefined): number | null {
  return v === null || v === undefined || !Number.isFinite(v) ? null : v;
}

/** Turn the history answer into a clean track: valid positions, sorted, one sample per time. */
export function toTrack(samples: SampleIn[]): TrackPoint[] {
  const out: TrackPoint[] = [];
  // One altitude reference per track: a sample without a relative altitude must not jump
  // to its altitude above sea level.
  const relative = samples.some((s) => finite(s.altitude_rel) !== null);
  for (const s of samples) {
    const t = Date.parse(s.time) / 1000;
    if (!Number.isFinite(t) || !Number.isFinite(s.latitude) || !Number.isFinite(s.longitude)) continue;
    if (Math.abs(s.latitude) > 90 || Math.abs(s.longitude) > 180) continue;
    out.push({
      t, lon: s.longitude, lat: s.latitude,
      alt: relative ? finite(s.altitude_rel) : finite(s.altitude_amsl),
      speed: finite(s.ground_speed_mps), battery: finite(s.battery_pct),
      heading: finite(s.heading_deg), mode: s.mode ?? null,
    });
  }
  out.sort((a, b) => a.t - b.t);
  return fillForward(out.filter((p, i) => i === 0 || p.t !== out[i - 1].t));
}

type Field = 'alt' | 'speed' | 'battery' | 'heading' | 'mode';
const FIELDS: Field[] = ['alt', 'speed', 'battery', 'heading', 'mode'];

/**
 * A stored sample may miss a field its topic had not sent yet (the recorder merges topics
 * into rows): carry the last value forward while it is recent, so readouts and charts do not
 * flicker to "unknown".
 */
export function fillForward(track: TrackPoint[], maxAgeS = GAP_S): TrackPoint[] {
  const last: Partial<Record<Field, { t: number; v: number | string }>> = {};
  for (const p of track) {
    for (const f of FIELDS) {
      const v = p[f];
      const known = last[f];
      if (v !== null) last[f] = { t: p.t, v };
      else if (known && p.t - known.t <= maxAgeS) (p as unknown as Record<Field, unknown>)[f] = known.v;
    }
  }
  return track;
}

/** The index of the last point with p.t <= t, or -1 (binary search: tracks are long). */
export function indexAt(track: TrackPoint[], t: number): number {
  let lo = 0;
  let hi = track.length - 1;
  if (hi < 0 || t < track[0].t) return -1;
  while (lo < hi) {
    const mid = (lo + hi + 1) >> 1;
    if (track[mid].t <= t) lo = mid;
    else hi = mid - 1;
  }
  return lo;
}

function lerp(a: number | null, b: number | null, f: number): number | null {
  if (a === null) return b === null ? null : f >= 0.5 ? b : null;
  if (b === null) return f < 0.5 ? a : null;
  return a + (b - a) * f;
}

/** Interpolate an angle the short way round (350° → 10° passes 0°, not 180°). */
export function lerpAngle(a: number, b: number, f: number): number {
  const d = ((((b - a) % 360) + 540) % 360) - 180;
  return (((a + d * f) % 360) + 360) % 360;
}

/** Initial great-circle bearing from a to b in degrees (0 = north, clockwise). */
export function bearing(a: LngLat, b: LngLat): number {
  const rad = Math.PI / 180;
  const [l1, p1] = [a[0] * rad, a[1] * rad];
  const [l2, p2] = [b[0] * rad, b[1] * rad];
  const y = Math.sin(l2 - l1) * Math.cos(p2);
  const x = Math.cos(p1) * Math.sin(p2) - Math.sin(p1) * Math.cos(p2) * Math.cos(l2 - l1);
  return ((Math.atan2(y, x) / rad) + 360) % 360;
}

/** Where the vehicle is at time t: linear between the two samples around t. */
export function stateAt(track: TrackPoint[], t: number): ReplayState {
  const i = indexAt(track, t);
  if (i < 0) {
    const first = track[0];
    return {
      t, index: -1, position: first ? [first.lon, first.lat] : null, alt: null, speed: null,
      battery: null, headingDeg: first?.heading ?? null, mode: null, gap: true,
    };
  }
  const a = track[i];
  const b = track[i + 1];
  if (!b || t === a.t || b.t - a.t > GAP_S) {
    return {
      t, index: i, position: [a.lon, a.lat], alt: a.alt, speed: a.speed, battery: a.battery,
      headingDeg: a.heading, mode: a.mode, gap: !!b && t > a.t && b.t - a.t > GAP_S,
    };
  }
  const f = (t - a.t) / (b.t - a.t);
  let heading: number | null;
  if (a.heading !== null && b.heading !== null) heading = lerpAngle(a.heading, b.heading, f);
  else if (a.lon !== b.lon || a.lat !== b.lat) heading = bearing([a.lon, a.lat], [b.lon, b.lat]);
  else heading = a.heading ?? b.heading;
  return {
    t, index: i,
    position: [a.lon + (b.lon - a.lon) * f, a.lat + (b.lat - a.lat) * f],
    alt: lerp(a.alt, b.alt, f), speed: lerp(a.speed, b.speed, f),
    battery: lerp(a.battery, b.battery, f), headingDeg: heading,
    mode: f < 0.5 ? a.mode : b.mode, gap: false,
  };
}

/** The coordinates of the whole track. */
export function trackCoords(track: TrackPoint[]): LngLat[] {
  return track.map((p) => [p.lon, p.lat]);
}

/** The part flown by time t: every sample up to t, then the interpolated position. */
export function flownCoords(track: TrackPoint[], state: ReplayState): LngLat[] {
  if (state.index < 0) return [];
  const out: LngLat[] = track.slice(0, state.index + 1).map((p) => [p.lon, p.lat]);
  const last = out[out.length - 1];
  const pos = state.position;
  if (pos && (pos[0] !== last[0] || pos[1] !== last[1])) out.push(pos);
  return out;
}

/**
 * A GeoJSON LineString needs two positions: a single point (or none) is drawn as a
 * zero-length line at that point so the map's layer stays valid.
 */
export function asLine(coords: LngLat[]): Feature<LineString> {
  const c = coords.length >= 2 ? coords : coords.length === 1 ? [coords[0], coords[0]] : [];
  return { type: 'Feature', properties: {}, geometry: { type: 'LineString', coordinates: c } };
}

/** The next slider time after `elapsedMs` of wall clock at `speed`×, and whether it ended. */
export function advance(t: number, elapsedMs: number, speed: number, end: number): [number, boolean] {
  const next = t + (Math.max(0, elapsedMs) / 1000) * speed;
  return next >= end ? [end, true] : [next, false];
}

export interface MissionWindow { t0: number; t1: number; running: boolean; vehicleId: string | null }

/**
 * The time a mission flew, from its transitions: from the first time it went active (or
 * was assigned) to its last final state; a mission that has not ended runs until `now`.
 */
export function missionWindow(entries: TimelineEntry[], nowS: number): MissionWindow | null {
  const times = entries.map((e) => ({ e, t: Date.parse(e.time) / 1000 })).filter((x) => Number.isFinite(x.t));
  if (!times.length) return null;
  let start: number | null = null;
  for (const s of FLYING_STATES) {
    const hit = times.find((x) => x.e.to_state === s);
    if (hit && (start === null || hit.t < start)) start = hit.t;
  }
  const finals = times.filter((x) => FINAL_STATES.has(x.e.to_state));
  const last = times[times.length - 1];
  const running = !FINAL_STATES.has(last.e.to_state);
  const end = running ? nowS : (finals[finals.length - 1]?.t ?? last.t);
  if (start === null) start = times[0].t;
  let vehicleId: string | null = null;
  for (const x of times) {
    const v = x.e.details?.vehicle_id;
    if (typeof v === 'string' && v) vehicleId = v;
  }
  return { t0: start, t1: Math.max(end, start + 1), running, vehicleId };
}

/** Round to whole seconds for the API: "2026-05-01T12:00:00Z". */
export function isoZ(tS: number): string {
  return new Date(Math.round(tS * 1000)).toISOString().replace(/\.\d{3}Z$/, 'Z');
}

/** A datetime-local input's value ("YYYY-MM-DDTHH:MM") for a POSIX time, in local time. */
export function toLocalInput(tS: number): string {
  const d = new Date(tS * 1000);
  const p = (n: number) => String(n).padStart(2, '0');
  return `${d.getFullYear()}-${p(d.getMonth() + 1)}-${p(d.getDate())}T${p(d.getHours())}:${p(d.getMinutes())}`;
}

/** The POSIX time of a datetime-local value (local time), or null when empty/invalid. */
export function fromLocalInput(v: string): number | null {
  if (!v) return null;
  const ms = new Date(v).getTime();
  return Number.isFinite(ms) ? ms / 1000 : null;
}

/** "12:03:07" for a replay clock (with the date when the track spans days). */
export function clock(tS: number, withDate = false): string {
  const d = new Date(tS * 1000);
  const p = (n: number) => String(n).padStart(2, '0');
  const hms = `${p(d.getHours())}:${p(d.getMinutes())}:${p(d.getSeconds())}`;
  return withDate ? `${d.getFullYear()}-${p(d.getMonth() + 1)}-${p(d.getDate())} ${hms}` : hms;
}
