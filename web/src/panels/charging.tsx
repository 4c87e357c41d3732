// The Charging tab: each station's pads (free, or which vehicle charges there and for how
// long), the waiting line with its estimated waits, recent sessions, and, for operators,
// a form that sends a vehicle to charge.
import { useState } from 'preact/hooks';
import { useApp, useSlices } from '../ctx';
import { fmtDuration, fmtEnergy, fmtNumber, fmtPct, fmtTime, humanize } from '../format';
import type { ChargingEntry } from '../types';
import { BatteryBar, CommandButton, LoadState, useFetch } from '../ui';
import {
  buildStations, padLabel, recentSessions, stationsFromFeatures, stationsFromQueue, waitingLine,
  type QueueAnswer, type StationCollection, type StationView,
} from './charging-logic';
import { canOperateAt } from './fleet-logic';
import './fleet.css';

const POLL_MS = 2000;

export function ChargingPanel() {
  const { session, store, site } = useApp();
  useSlices(store, ['charging'], 1000);
  const [queue, queueError, queueLoading] = useFetch((signal) => session.get<QueueAnswer>('/charging/queue', undefined, { signal }), [], POLL_MS);
  // Stations change rarely (the planner's configuration): a slow refresh is enough.
  const [stationsFc, stationsError] = useFetch((signal) => session.get<StationCollection>('/charging/stations', undefined, { signal }), [], 30_000);

  const siteOf = (id: string) => store.vehicles.get(id)?.site_id ?? null;
  const entries = (queue?.entries ?? []).filter((e) => !site || siteOf(e.vehicle_id) === site || !store.vehicles.has(e.vehicle_id));
  const infos = queue?.stations?.length ? stationsFromQueue(queue.stations) : stationsFromFeatures(stationsFc);
  const stations = buildStations(infos.filter((s) => !site || s.site === null || s.site === site), entries);
  const line = waitingLine(entries);
  const sessions = recentSessions(store.charging).filter((s) => !site || siteOf(s.vehicle_id) === site);
  const charging = entries.filter((e) => e.state === 'charging').length;
  const flying = entries.filter((e) => e.state === 'flying_to_pad').length;
  const pads = stations.reduce((n, s) => n + s.padViews.length, 0);

  return (
    <div class="ch-panel">
      <div class="fleet-summary" title={queue?.stamp ? `the planner last published the queue at ${fmtTime(queue.stamp)}` : undefined}>
        <span><b>{stations.length}</b> station{stations.length === 1 ? '' : 's'}</span>
        <span>{pads - charging - flying} of {pads} pads free</span>
        <span class="fl-sum sum-charging"><i class="dot" />{charging} charging</span>
        <span>{flying} flying to a pad</span>
        <span class={line.length ? 'fl-warn' : ''}>{line.length} waiting</span>
      </div>
      {queueError && <div class="error-line" role="alert">Charging queue: {queueError}</div>}
      {stationsError && !queue?.stations?.length && <div class="error-line" role="alert">Stations: {stationsError}</div>}

      <SendToCharge queued={new Set(entries.map((e) => e.vehicle_id))} />

      <h3>Stations</h3>
      <LoadState loading={queueLoading && !queue && !stationsFc} empty={!stations.length && !!(queue || stationsFc)}
        emptyText={site ? `No charging station at ${site}.` : 'No charging stations.'} />
      <div class="ch-stations" data-testid="charging-stations">
        {stations.map((s) => <Station s={s} />)}
      </div>

      <h3>Queue</h3>
      <div data-testid="charging-queue">
        {line.length === 0 ? (
          <div class="muted">Nobody waiting{entries.length ? ': every request has a pad.' : '.'}</div>
        ) : (
          <table class="ch-table">
            <thead>
              <tr><th>#</th><th>Vehicle</th><th>Station</th><th>Battery</th><th>Target</th><th title="estimated wait">Wait</th></tr>
            </thead>
            <tbody>
              {line.map((e) => (
                <tr data-testid="charging-queue-row" data-vehicle={e.vehicle_id}>
                  <td class="fl-num">{e.queue_position || '—'}</td>
                  <td><VehicleLink id={e.vehicle_id} /></td>
                  <td class="fl-ellipsis">{e.station_id ?? <span class="muted">any</span>}</td>
                  <td><BatteryBar pct={e.battery_pct} /></td>
                  <td class="fl-num">{fmtPct(e.target_pct)}</td>
                  <td class="fl-num">{fmtDuration(e.estimated_wait_s)}</td>
                </tr>
              ))}
            </tbody>
          </table>
        )}
      </div>

      <h3>Recent sessions</h3>
      {sessions.length === 0 ? <div class="muted">No charging sessions yet.</div> : (
        <table class="ch-table" data-testid="charging-sessions">
          <thead>
            <tr><th>Vehicle</th><th>Pad</th><th>Started</th><th>Charge</th><th>Energy</th><th title="waited in the queue">Wait</th></tr>
          </thead>
          <tbody>
            {sessions.map((s) => (
              <tr data-vehicle={s.vehicle_id}>
                <td><VehicleLink id={s.vehicle_id} /></td>
                <td class="fl-ellipsis" title={`${s.station_id} ${padLabel(s.pad)}`}>{s.station_id} · {s.pad + 1}</td>
                <td class="fl-num" title={s.ended_at ? `ended ${fmtTime(s.ended_at)}` : 'in progress'}>
                  {fmtTime(s.started_at ?? s.requested_at)}
                </td>
                <td class="fl-num">
                  {fmtPct(s.start_pct)} → {s.ended_at ? fmtPct(s.end_pct) : <span class="muted">…</span>}
                  {s.ended_at && !s.completed && <span class="fl-warn" title="ended before the target"> ✕</span>}
                </td>
                <td class="fl-num">{fmtEnergy(s.energy_wh)}</td>
                <td class="fl-num">{fmtDuration(s.queue_wait_s)}</td>
              </tr>
            ))}
          </tbody>
        </table>
      )}
    </div>
  );
}

function VehicleLink({ id }: { id: string }) {
  const { openVehicle } = useApp();
  return <button type="button" class="fl-link fl-strong" onClick={() => openVehicle(id)}>{id}</button>;
}

function Station({ s }: { s: StationView }) {
  const busy = s.padViews.filter((p) => p.entry).length;
  return (
    <section class="ch-station" data-testid="charging-station" data-station={s.id} aria-label={`station ${s.name}`}>
      <header class="ch-station-head">
        <b class="fl-ellipsis" title={s.id}>{s.name}</b>
        {s.site && <span class="muted fl-small">{s.site}</span>}
        <span class="spacer" />
        <span class="muted fl-small fl-num">
          {busy}/{s.padViews.length} busy{s.rateW ? ` · ${fmtNumber(s.rateW / 1000, 1, 'kW')}` : ''}
          {s.waiting ? ` · ${s.waiting} queued` : ''}
        </span>
      </header>
      <ul class="ch-pads">
        {s.padViews.map((p) => <Pad index={p.index} entry={p.entry} />)}
      </ul>
    </section>
  );
}

function Pad({ index, entry }: { index: number; entry: ChargingEntry | null }) {
  if (!entry) {
    return <li class="ch-pad ch-free" data-testid="charging-pad" data-pad={index} data-free="true"><span class="ch-pad-no">{index + 1}</span><span class="muted">free</span></li>;
  }
  return (
    <li class={`ch-pad st-${entry.state}`} data-testid="charging-pad" data-pad={index} data-free="false" data-vehicle={entry.vehicle_id}>
      <span class="ch-pad-no">{index + 1}</span>
      <VehicleLink id={entry.vehicle_id} />
      <BatteryBar pct={entry.battery_pct} />
      <span class="muted fl-small fl-num">
        {entry.state === 'charging'
          ? `full in ${fmtDuration(entry.time_to_full_s)}${entry.target_pct != null ? ` (to ${fmtPct(entry.target_pct)})` : ''}`
          : humanize(entry.state)}
      </span>
    </li>
  );
}

function SendToCharge({ queued }: { queued: Set<string> }) {
  const { session, store, site } = useApp();
  useSlices(store, ['vehicles'], 5000);
  const [vehicle, setVehicle] = useState('');
  const [target, setTarget] = useState(90);
  const [urgency, setUrgency] = useState<'normal' | 'critical' | 'emergency'>('normal');
  if (!session.can('operate', site ?? undefined)) return null;  // null here: all sites shown
  // Lowest battery first: the vehicle an operator sends to charge is usually near the top.
  const candidates = [...store.vehicles.values()]
    .filter((v) => (!site || v.site_id === site) && canOperateAt(session.me.grants, v.site_id) && !queued.has(v.vehicle_id)
      && v.status !== 'charging')
    .sort((a, b) => (a.battery_pct ?? 101) - (b.battery_pct ?? 101));
  const targetOk = Number.isFinite(target) && target > 0 && target <= 100;
  return (
    <details class="ch-send" open>
      <summary>Send a vehicle to charge</summary>
      <form class="row" onSubmit={(e) => e.preventDefault()} aria-label="send a vehicle to charge">
        <label>Vehicle
          <select data-testid="charging-vehicle" value={vehicle} onChange={(e) => setVehicle(e.currentTarget.value)}>
            <option value="">Choose…</option>
            {candidates.map((v) => (
              <option value={v.vehicle_id}>{v.vehicle_id} — {fmtPct(v.battery_pct)} {humanize(v.status)}</option>
            ))}
          </select>
        </label>
        <label>Target %
          <input type="number" min={1} max={100} step={5} class="ch-narrow" data-testid="charging-target" value={target}
            onInput={(e) => setTarget(e.currentTarget.valueAsNumber)} />
        </label>
        <label>Urgency
          <select data-testid="charging-urgency" value={urgency}
            onChange={(e) => setUrgency(e.currentTarget.value as typeof urgency)}>
            <option value="normal">normal</option>
            <option value="critical">critical</option>
            <option value="emergency">emergency</option>
          </select>
        </label>
        <CommandButton testid="charging-request" label="Send to charge" class="primary"
          disabled={!vehicle || !targetOk}
          run={() => session.post('/charging/requests', { vehicle_id: vehicle, target_pct: target, urgency })}
          okText={(a) => {
            const r = a as { state?: string; queue_position?: number | null; station_id?: string | null; pad?: number | null; estimated_wait_s?: number | null };
            const where = r.station_id ? ` at ${r.station_id}${r.pad != null ? ` ${padLabel(r.pad)}` : ''}` : '';
            const pos = r.queue_position ? `, position ${r.queue_position}, wait ${fmtDuration(r.estimated_wait_s)}` : '';
            return `${vehicle}: ${humanize(r.state ?? 'accepted')}${where}${pos}`;
          }}
          onDone={(r) => { if (r.ok) setVehicle(''); }}
        />
      </form>
    </details>
  );
}
