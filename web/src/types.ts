// The shapes web_bridge sends (see src/web_bridge/web_bridge/convert.py): one place, so a
// change on the server is a type error here rather than a blank cell on the page.

export interface GeoPoint { latitude: number; longitude: number; altitude: number | null }

export const VEHICLE_STATUSES = [
  'unknown', 'idle', 'in_mission', 'returning', 'charging', 'maintenance', 'offline',
] as const;
export type VehicleStatusName = (typeof VEHICLE_STATUSES)[number];
export type Liveness = 'fresh' | 'stale' | 'lost';

export interface Health {
  gps_ok: boolean; estimator_ok: boolean; sensors_ok: boolean; battery_ok: boolean;
  motors_ok: boolean; link_ok: boolean; warnings: string[];
}

export interface Vehicle {
  vehicle_id: string;
  stamp: number | null;
  status: VehicleStatusName;
  liveness: Liveness;
  mode: string;
  armed: boolean;
  landed_state: string;
  battery_pct: number | null;
  voltage_v: number | null;
  current_a: number | null;
  position: GeoPoint | null;
  relative_altitude_m: number | null;
  heading_deg: number | null;
  ground_speed_mps: number | null;
  home: GeoPoint | null;
  mission_id: string | null;
  last_reached_item: number;
  model: string;
  site_id: string | null;
  health: Health;
  removed?: boolean;
}

export interface Mission {
  mission_id: string;
  parent_id: string | null;
  type: string;
  state: string;
  priority: number;
  vehicle_id: string | null;
  pinned_vehicle_id: string | null;
  progress_pct: number | null;
  current_waypoint: number;
  waypoint_count: number;
  distance_m: number | null;
  distance_remaining_m: number | null;
  eta_s: number | null;
  created_by: string;
  reason: string;
  updated: number | null;
  removed?: boolean;
}

export interface CoordinationEvent {
  kind: 'coordination';
  event_id: string;
  type: 'collision_avoidance' | 'airspace_conflict' | 'low_battery' | 'link_lost'
    | 'charging_queue' | 'emergency_landing' | 'command_failed';
  stamp: number | null;
  vehicle_ids: string[];
  severity: Severity;
  state: 'open' | 'resolved';
  resolution: string;
  data: Record<string, string>;
}

export interface MissionEvent {
  kind: 'mission';
  mission_id: string;
  stamp: number | null;
  from_state: string | null;
  to_state: string;
  reason: string;
  actor: string;
  vehicle_id: string | null;
  details: Record<string, unknown>;
}

export type Severity = 'info' | 'warning' | 'critical';

export type FleetEvent = CoordinationEvent | MissionEvent;

export interface ZoneFeature {
  type: 'Feature';
  id: string;
  geometry: { type: 'Polygon'; coordinates: number[][][] };
  properties: {
    id: string; name: string; floor_m: number | null; ceiling_m: number | null;
    active_from: number | null; active_until: number | null; site_id?: string | null;
  };
}

export interface ChargingStation {
  station_id: string; name: string; site_id: string | null; location: GeoPoint | null;
  pads: (GeoPoint | null)[]; charge_rate_w: number | null; pad_radius_m: number | null;
}

export interface ChargingEntry {
  vehicle_id: string; state: string; queue_position: number; station_id: string | null;
  pad: number | null; battery_pct: number | null; target_pct: number | null;
  estimated_wait_s: number | null; time_to_full_s: number | null;
}

export interface ChargingQueue { stamp: number | null; stations: ChargingStation[]; entries: ChargingEntry[] }

export interface Grant { role: Role; site_id: string | null }

export interface Me {
  user_id: number; username: string; grants: Grant[]; sites: string[] | null; expires_at: number;
}

export type Role = 'viewer' | 'operator' | 'admin';
