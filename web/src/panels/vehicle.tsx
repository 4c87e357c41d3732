// One vehicle in detail: its state, health, live charts, recent events and the commands an
// operator of its site may give (maintenance, return home).
import type { ComponentChildren } from 'preact';
import { useApp, useSlices, useTick } from '../ctx';
import { fmtAge, fmtDistance, fmtDuration, fmtNumber, fmtTime, humanize } from '../format';
import type { FleetEvent, GeoPoint, Health, Mission, Vehicle } from '../types';
import { BatteryBar, CommandButton, LoadState, ProgressBar, StatusPill, useFetch } from '../ui';
import { VehicleCharts } from './fleet-charts';
import { canOperateAt } from './fleet-logic';
import {
  eventsOfVehicle, fromStoredCoordination, fromStoredMission, mergeEvents, messageOf, severityOf,
  stateOf, titleOf, typeOf, type Page, type StoredCoordination, type StoredMissionEvent,
} from './events-logic';
import './fleet.css';

/** A mission id in a path: split parts carry "/", which the route takes as part of the id. */
export function missionPath(id: string): string {
  return id.split('/').map(encodeURIComponent).join('/');
}

export function VehicleDetail({ id }: { id: string }) {
  const ctx = useApp();
  const { store, openVehicle } = ctx;
  useSlices(store, ['vehicles', 'missions'], 1000);
  useTick(1000);
  const v = store.vehicles.get(id);
  const back = (
    <button type="button" class="vd-back" data-testid="vehicle-back" onClick={() => openVehicle(null)}
      title="back to the fleet table (Esc)">← fleet</button>
  );
  if (!v) {
    return (
      <div class="vd" data-testid="vehicle-detail" data-vehicle={id}>
        <div class="vd-head">{back}<h2>{id}</h2></div>
        <div class="muted">Vehicle {id} is not in the fleet picture (removed, or not visible to you).</div>
      </div>
    );
  }
  const mission = v.mission_id ? store.missions.get(v.mission_id) ?? null : null;
  const stale = v.liveness !== 'fresh';
  return (
    <div class="vd" data-testid="vehicle-detail" data-vehicle={id}>
      <div class="vd-head">
        {back}
        <h2 class="vd-title">{v.vehicle_id}</h2>
        <StatusPill status={v.status} stale={stale} />
        <span class={`fl-live liveness-${v.liveness}`} data-testid="vehicle-liveness">{v.liveness}</span>
        <span class="spacer" />
        <span class="muted fl-small">{v.model}{v.site_id ? ` · ${v.site_id}` : ''}</span>
      </div>
      {stale && (
        <div class={`vd-stale vd-${v.liveness}`} role="status">
          {v.liveness === 'lost' ? 'Link lost' : 'Data stale'}: last sample {fmtAge(v.stamp)}. Values below are the last known.
        </div>
      )}
      <Actions v={v} />
      <Facts v={v} mission={mission} />
      <HealthChips health={v.health} />
      <VehicleCharts id={id} />
      <VehicleEvents id={id} />
    </div>
  );
}

function Actions({ v }: { v: Vehicle }) {
  const { session, map, setTab } = useApp();
  const canOperate = canOperateAt(session.me.grants, v.site_id);
  const p = v.position;
  const inMaintenance = v.status === 'maintenance';
  return (
    <div class="vd-actions row">
      <button type="button" data-testid="vehicle-show-on-map" disabled={!p || !map}
        title={p ? 'centre the map on this vehicle' : 'no position known'}
        onClick={() => p && map?.flyTo([p.longitude, p.latitude], 16)}>Show on map</button>
      {v.mission_id && <button type="button" onClick={() => setTab('missions')}>Missions</button>}
      {canOperate && (
        <CommandButton
          testid="vehicle-maintenance"
          label={inMaintenance ? 'End maintenance' : 'Maintenance'}
          run={() => session.put(`/vehicles/${encodeURIComponent(v.vehicle_id)}/maintenance`, { enabled: !inMaintenance })}
          okText={(a) => (a as { message?: string }).message || (inMaintenance ? 'back in service' : 'in maintenance')}
          confirm={inMaintenance ? undefined : {
            title: `Put ${v.vehicle_id} in maintenance?`,
            body: <>It will be dispatched nothing{v.status === 'in_mission' || v.status === 'returning'
              ? <>; <b>it is flying and will go home</b></> : ''}. You can end maintenance later.</>,
            confirmLabel: 'Put in maintenance',
          }}
        />
      )}
      {canOperate && v.mission_id && (
        <CommandButton
          testid="vehicle-return-home"
          label="Return home"
          danger
          run={() => session.post(`/missions/${missionPath(v.mission_id!)}/return-home`, { reason: 'operator: return home from the vehicle detail' })}
          okText={(a) => {
            const ack = a as { message?: string; vehicle_mode?: string | null };
            return [ack.message || 'returning', ack.vehicle_mode ? `(mode ${ack.vehicle_mode})` : ''].filter(Boolean).join(' ');
          }}
          confirm={{
            title: `Send ${v.vehicle_id} home?`,
            body: <>The vehicle leaves mission <b>{v.mission_id}</b> and flies home; another vehicle flies the rest.</>,
            confirmLabel: 'Return home',
          }}
        />
      )}
      {!canOperate && <span class="muted fl-small">View only at {v.site_id ?? 'this site'}.</span>}
    </div>
  );
}

function fmtPoint(p: GeoPoint | null): string {
  if (!p) return '—';
  const alt = p.altitude != null && Number.isFinite(p.altitude) ? ` · ${p.altitude.toFixed(1)} m` : '';
  return `${p.latitude.toFixed(6)}, ${p.longitude.toFixed(6)}${alt}`;
}

function Fact({ label, children, testid, wide }: { label: string; children: ComponentChildren; testid?: string; wide?: boolean }) {
  return (
    <div class={`vd-fact${wide ? ' vd-wide' : ''}`} data-testid={testid}>
      <dt>{label}</dt>
      <dd>{children}</dd>
    </div>
  );
}

function Facts({ v, mission }: { v: Vehicle; mission: Mission | null }) {
  const { setTab } = useApp();
  return (
    <dl class="vd-facts">
      <Fact label="Battery" testid="vehicle-battery"><BatteryBar pct={v.battery_pct} /></Fact>
      <Fact label="Voltage / current">
        <span class="fl-num">{fmtNumber(v.voltage_v, 2, 'V')} · {fmtNumber(v.current_a, 1, 'A')}</span>
      </Fact>
      <Fact label="Mode"><span class="fl-mono">{v.mode || '—'}</span></Fact>
      <Fact label="Armed / landed">
        <span class={v.armed ? 'vd-armed' : ''}>{v.armed ? 'armed' : 'disarmed'}</span> · {humanize(v.landed_state) || '—'}
      </Fact>
      <Fact label="Altitude (rel.)"><span class="fl-num">{fmtNumber(v.relative_altitude_m, 1, 'm')}</span></Fact>
      <Fact label="Ground speed"><span class="fl-num">{fmtNumber(v.ground_speed_mps, 1, 'm/s')}</span></Fact>
      <Fact label="Heading"><span class="fl-num">{v.heading_deg == null ? '—' : `${Math.round(v.heading_deg)}°`}</span></Fact>
      <Fact label="Last seen"><span class="fl-num" title={fmtTime(v.stamp)}>{fmtAge(v.stamp)}</span></Fact>
      <Fact label="Position" wide><span class="fl-num">{fmtPoint(v.position)}</span></Fact>
      <Fact label="Home" wide><span class="fl-num">{fmtPoint(v.home)}</span></Fact>
      <Fact label="Mission" wide testid="vehicle-mission">
        {v.mission_id ? (
          <span class="vd-mission">
            <button type="button" class="fl-link" onClick={() => setTab('missions')}>{v.mission_id}</button>
            {mission && <>
              <span class="muted">{humanize(mission.state)}</span>
              <ProgressBar pct={mission.progress_pct}
                label={mission.progress_pct == null ? humanize(mission.state) : `${Math.round(mission.progress_pct)}%`} />
              <span class="muted fl-small fl-num">
                wp {mission.current_waypoint}/{mission.waypoint_count}
                {mission.distance_remaining_m != null && ` · ${fmtDistance(mission.distance_remaining_m)} left`}
                {mission.eta_s != null && ` · ETA ${fmtDuration(mission.eta_s)}`}
              </span>
            </>}
            {!mission && v.last_reached_item > 0 && <span class="muted fl-small">reached item {v.last_reached_item}</span>}
          </span>
        ) : <span class="muted">none</span>}
      </Fact>
    </dl>
  );
}

const HEALTH: { key: keyof Omit<Health, 'warnings'>; label: string }[] = [
  { key: 'gps_ok', label: 'GPS' }, { key: 'estimator_ok', label: 'Estimator' },
  { key: 'sensors_ok', label: 'Sensors' }, { key: 'battery_ok', label: 'Battery' },
  { key: 'motors_ok', label: 'Motors' }, { key: 'link_ok', label: 'Link' },
];

function HealthChips({ health }: { health: Health }) {
  return (
    <section class="vd-health" aria-label="health" data-testid="vehicle-health">
      <div class="row">
        {HEALTH.map((h) => (
          <span class={`fl-chip ${health[h.key] ? 'fl-chip-ok' : 'fl-chip-bad'}`} data-health={h.key} data-ok={String(health[h.key])}
            title={`${h.label} ${health[h.key] ? 'OK' : 'NOT OK'}`}>
            <span aria-hidden="true">{health[h.key] ? '✓' : '✕'}</span> {h.label}
          </span>
        ))}
      </div>
      {health.warnings.length > 0 && (
        <ul class="vd-warnings" data-testid="vehicle-warnings">
          {health.warnings.map((w) => <li>⚠ {w}</li>)}
        </ul>
      )}
    </section>
  );
}

const RECENT = 15;

function VehicleEvents({ id }: { id: string }) {
  const { session, store } = useApp();
  useSlices(store, ['events'], 1000);
  const [stored, error, loading] = useFetch(async (signal) => {
    const q = { vehicle: id, limit: 20 };
    const [c, m] = await Promise.all([
      session.get<Page<StoredCoordination>>('/events/coordination', q, { signal }),
      session.get<Page<StoredMissionEvent>>('/events/missions', q, { signal }),
    ]);
    return [...c.items.map(fromStoredCoordination), ...m.items.map(fromStoredMission)] as FleetEvent[];
  }, [id]);
  const list = mergeEvents(eventsOfVehicle(store.events, id), stored ?? []).slice(0, RECENT);
  return (
    <section class="vd-events" aria-label="recent events">
      <h3>Recent events</h3>
      {error && <div class="muted fl-small">Stored events not available ({error}); live ones only.</div>}
      <LoadState loading={loading && !list.length} empty={!loading && !list.length} emptyText="No events for this vehicle." />
      {list.length > 0 && (
        <ul class="ev-list ev-compact" data-testid="vehicle-events">
          {list.map((e) => <MiniEvent e={e} />)}
        </ul>
      )}
    </section>
  );
}

function MiniEvent({ e }: { e: FleetEvent }) {
  const sev = severityOf(e);
  const state = stateOf(e);
  const msg = messageOf(e);
  return (
    <li class={`ev-item sev-${sev}`} data-severity={sev} data-type={typeOf(e)}>
      <span class="ev-time fl-num">{fmtTime(e.stamp)}</span>
      <span class="ev-type">{titleOf(e)}</span>
      <span class="ev-msg fl-ellipsis" title={msg}>{msg}</span>
      {state && <span class={`ev-state st-${state}`}>{state}</span>}
    </li>
  );
}
