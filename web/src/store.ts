// The page's one picture of the fleet, fed by the WebSocket. Panels listen to the slice they
// show; the map drains `dirty` once per animation frame, so 1,000 vehicles at 1 Hz cost one
// GeoJSON update per frame, never one DOM element or one render per vehicle.
import type { ChargingQueue, FleetEvent, Mission, Vehicle, ZoneFeature } from './types';

export type Slice = 'vehicles' | 'missions' | 'events' | 'zones' | 'charging' | 'conn' | 'selection' | 'alerts';

export const TRAIL_POINTS = 30;
export const MAX_EVENTS = 500;

export interface Sample { t: number; alt: number | null; speed: number | null; battery: number | null; voltage: number | null }
export const SERIES_SECONDS = 600;

type Listener = () => void;

export function eventKey(e: FleetEvent): string {
  return e.kind === 'coordination' ? `c:${e.event_id}` : `m:${e.mission_id}:${e.stamp}:${e.to_state}`;
}

export function isCritical(e: FleetEvent): boolean {
  return e.kind === 'coordination' && e.severity === 'critical' && e.state === 'open';
}

export class FleetStore {
  vehicles = new Map<string, Vehicle>();
  missions = new Map<string, Mission>();
  events: FleetEvent[] = [];
  zones: ZoneFeature[] = [];
  charging: unknown[] = [];
  chargingQueue: ChargingQueue | null = null;
  /** Short trails: [lon, lat] per vehicle, newest last. */
  trails = new Map<string, [number, number][]>();
  /** Vehicles changed since the map last drew (the map clears it). */
  dirty = new Set<string>();
  /** All vehicles must be redrawn (a snapshot replaced the picture). */
  dirtyAll = true;
  selected: string | null = null;
  /** Critical events the operator has not acknowledged, newest first. */
  alerts: FleetEvent[] = [];
  private acknowledged = new Set<string>();
  private series = new Map<string, Sample[]>();
  private listeners = new Map<Slice, Set<Listener>>();
  private versions = new Map<Slice, number>();

  on(slice: Slice, fn: Listener): () => void {
    let set = this.listeners.get(slice);
    if (!set) this.listeners.set(slice, (set = new Set()));
    set.add(fn);
    return () => set!.delete(fn);
  }

  version(slice: Slice): number { return this.versions.get(slice) ?? 0; }

  emit(slice: Slice): void {
    this.versions.set(slice, this.version(slice) + 1);
    this.listeners.get(slice)?.forEach((fn) => fn());
  }

  // -- vehicles ----------------------------------------------------------------------------

  setVehicles(list: Vehicle[]): void {
    this.vehicles.clear();
    for (const v of list) this.vehicles.set(v.vehicle_id, v);
    this.dirtyAll = true;
    this.emit('vehicles');
  }

  updateVehicles(list: Vehicle[]): void {
    for (const v of list) {
      if (v.removed) {
        this.vehicles.delete(v.vehicle_id);
        this.trails.delete(v.vehicle_id);
        this.series.delete(v.vehicle_id);
      } else {
        this.vehicles.set(v.vehicle_id, v);
        this.extendTrail(v);
        this.record(v);
      }
      this.dirty.add(v.vehicle_id);
    }
    this.emit('vehicles');
  }

  private extendTrail(v: Vehicle): void {
    const p = v.position;
    if (!p) return;
    let t = this.trails.get(v.vehicle_id);
    if (!t) this.trails.set(v.vehicle_id, (t = []));
    const last = t[t.length - 1];
    if (last && last[0] === p.longitude && last[1] === p.latitude) return;
    t.push([p.longitude, p.latitude]);
    if (t.length > TRAIL_POINTS) t.splice(0, t.length - TRAIL_POINTS);
  }

  /** Live chart samples are kept only for the selected vehicle (backfilled from history). */
  private record(v: Vehicle): void {
    if (v.vehicle_id !== this.selected) return;
    const s = this.series.get(v.vehicle_id);
    if (!s) return;
    const t = v.stamp ?? Date.now() / 1000;
    if (s.length && s[s.length - 1].t >= t) return;
    s.push({ t, alt: v.relative_altitude_m, speed: v.ground_speed_mps, battery: v.battery_pct, voltage: v.voltage_v });
    const cutoff = t - SERIES_SECONDS;
    while (s.length && s[0].t < cutoff) s.shift();
  }

  seriesOf(id: string): Sample[] {
    let s = this.series.get(id);
    if (!s) this.series.set(id, (s = []));
    return s;
  }

  /** Seed the selected vehicle's charts with samples from the history endpoint. */
  backfill(id: string, samples: Sample[]): void {
    const s = this.seriesOf(id);
    const first = s.length ? s[0].t : Infinity;
    const older = samples.filter((x) => x.t < first).sort((a, b) => a.t - b.t);
    s.unshift(...older);
    this.emit('vehicles');
  }

  select(id: string | null): void {
    if (this.selected === id) return;
    if (this.selected) this.series.delete(this.selected);
    this.selected = id;
    if (id) this.seriesOf(id);
    this.emit('selection');
  }

  // -- missions, events, zones, charging ---------------------------------------------------

  setMissions(list: Mission[]): void {
    this.missions.clear();
    for (const m of list) this.missions.set(m.mission_id, m);
    this.emit('missions');
  }

  updateMission(m: Mission, removed = false): void {
    if (removed || m.removed) this.missions.delete(m.mission_id);
    else this.missions.set(m.mission_id, m);
    this.emit('missions');
  }

  setEvents(list: FleetEvent[]): void {
    this.events = [];
    for (const e of list) this.addEvent(e, false);
    this.emit('events');
    this.emit('alerts');
  }

  addEvent(e: FleetEvent, notify = true): void {
    const key = eventKey(e);
    const at = this.events.findIndex((x) => eventKey(x) === key);
    if (at >= 0) this.events[at] = e; // an open event resolved, or restated
    else {
      this.events.push(e);
      if (this.events.length > MAX_EVENTS) this.events.splice(0, this.events.length - MAX_EVENTS);
    }
    this.alerts = this.alerts.filter((a) => eventKey(a) !== key);
    if (isCritical(e) && !this.acknowledged.has(key)) this.alerts.unshift(e);
    if (notify) {
      this.emit('events');
      this.emit('alerts');
    }
  }

  acknowledge(e: FleetEvent): void {
    const key = eventKey(e);
    this.acknowledged.add(key);
    this.alerts = this.alerts.filter((a) => eventKey(a) !== key);
    this.emit('alerts');
  }

  setZones(z: ZoneFeature[]): void {
    this.zones = z;
    this.emit('zones');
  }

  setCharging(list: unknown[]): void {
    this.charging = list;
    this.emit('charging');
  }

  setChargingQueue(q: ChargingQueue | null): void {
    this.chargingQueue = q;
    this.emit('charging');
  }

  /** Apply one WebSocket snapshot. */
  applySnapshot(channel: string, data: unknown): void {
    if (channel === 'fleet') this.setVehicles((data as Vehicle[] | null) ?? []);
    else if (channel === 'missions') this.setMissions((data as Mission[] | null) ?? []);
    else if (channel === 'events') this.setEvents((data as FleetEvent[] | null) ?? []);
    else if (channel === 'zones') this.setZones((data as ZoneFeature[] | null) ?? []);
    else if (channel === 'charging') this.setCharging((data as unknown[] | null) ?? []);
  }

  /** Apply one WebSocket update. */
  applyUpdate(channel: string, kind: string, data: unknown): void {
    switch (kind) {
      case 'vehicles':
        if (channel === 'fleet') this.updateVehicles(data as Vehicle[]);
        break;
      case 'mission':
        if (channel === 'missions') this.updateMission(data as Mission);
        break;
      case 'mission_removed':
        if (channel === 'missions') this.updateMission(data as Mission, true);
        break;
      case 'event':
      case 'mission_event':
        if (channel === 'events') this.addEvent(data as FleetEvent);
        break;
      case 'zones':
        if (channel === 'zones') this.setZones(data as ZoneFeature[]);
        break;
      case 'charging':
        if (channel === 'charging') this.setCharging([...this.charging.filter((c) =>
          (c as { vehicle_id?: string }).vehicle_id !== (data as { vehicle_id?: string }).vehicle_id), data]);
        break;
      default:
        break;
    }
  }
}
