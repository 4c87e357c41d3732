// History and replay: pick a mission (or a vehicle and a time range), load its stored track
// and play it back on the map with the live fleet dimmed.
import { useRef, useState } from 'preact/hooks';
import { describeError } from '../api';
import { useApp } from '../ctx';
import { MissionPicker, VehiclePicker, type MissionOut, type VehicleRange } from './history-pick';
import { ReplayPlayer, type ReplayData } from './history-player';
import {
  clock, fromLocalInput, isoZ, missionWindow, toLocalInput, toTrack,
  type SampleIn, type TimelineEntry,
} from './history-replay';
import './history.css';

/** Samples asked for per track: smooth at 30× yet small enough to hold and draw. */
const MAX_POINTS = 5000;
/** Seconds of track around a mission's window (take-off and landing seconds matter). */
const PAD_S = 2;

interface HistoryOut { vehicle_id: string; t0: string; t1: string; max_points: number; samples: SampleIn[] }

/** A mission id in a path: split parts carry "/", which the route takes as is. */
export function missionPath(id: string): string {
  return id.split('/').map(encodeURIComponent).join('/');
}

type Mode = 'mission' | 'vehicle';

export function HistoryPanel() {
  const { session, store } = useApp();
  const [mode, setMode] = useState<Mode>('mission');
  const [mission, setMission] = useState<string | null>(null);
  const [range, setRange] = useState<VehicleRange>(() => {
    const now = Date.now() / 1000;
    return { vehicle: store.selected ?? '', from: toLocalInput(now - 3600), to: toLocalInput(now + 60) };
  });
  const [busy, setBusy] = useState(false);
  const [error, setError] = useState<string | null>(null);
  const [replay, setReplay] = useState<ReplayData | null>(null);
  const seq = useRef(0);

  const history = async (vehicle: string, t0: number, t1: number) => {
    try {
      return await session.get<HistoryOut>(`/telemetry/vehicles/${encodeURIComponent(vehicle)}/history`, {
        t0: isoZ(t0), t1: isoZ(t1), max_points: MAX_POINTS,
      }, { timeoutMs: 60_000 });
    } catch (err) {
      // Say whose telemetry failed: a mission's replay fetches its vehicle's.
      throw new Error(`cannot load the telemetry of ${vehicle}: ${describeError(err)}`);
    }
  };

  /** Run one load; a newer one (or closing) makes an older answer moot. */
  const run = async (load: () => Promise<ReplayData>) => {
    const n = ++seq.current;
    setBusy(true);
    setError(null);
    try {
      const data = await load();
      if (n === seq.current) setReplay(data);
    } catch (err) {
      if (n === seq.current) setError(describeError(err));
    } finally {
      if (n === seq.current) setBusy(false);
    }
  };

  const loadMission = (id: string) => run(async () => {
    const path = missionPath(id);
    const [timeline, m] = await Promise.all([
      session.get<TimelineEntry[]>(`/telemetry/missions/${path}/timeline`),
      session.get<MissionOut>(`/missions/${path}`).catch(() => null),
    ]);
    const w = missionWindow(timeline, Date.now() / 1000);
    if (!w) throw new Error(`mission ${id} has no recorded state changes yet: nothing to replay`);
    const vehicle = m?.vehicle_id ?? w.vehicleId;
    if (!vehicle) {
      throw new Error(`mission ${id} was never flown by a vehicle (it is ${m?.state ?? timeline[timeline.length - 1].to_state})`);
    }
    const h = await history(vehicle, w.t0 - PAD_S, w.t1 + PAD_S);
    const track = toTrack(h.samples);
    if (!track.length) {
      throw new Error(`no telemetry of ${vehicle} is stored between ${clock(w.t0, true)} and ${clock(w.t1, true)} `
        + '(was the telemetry recorder running?)');
    }
    // The vehicle/time form now covers this mission, ready to widen the window around it.
    setRange({ vehicle, from: toLocalInput(w.t0 - 60), to: toLocalInput(w.t1 + 120) });
    return {
      label: `${id} · ${vehicle}`, mapLabel: vehicle, vehicleId: vehicle, missionId: id, track, timeline,
      running: w.running, exportQuery: { mission: id }, exportName: `fleet_${id.replace(/[^\w.-]+/g, '_')}.mcap`,
      downsampled: h.samples.length >= MAX_POINTS * 0.95,
    };
  });

  const loadVehicle = () => {
    const t0 = fromLocalInput(range.from);
    const t1 = fromLocalInput(range.to);
    if (!range.vehicle) return setError('choose a vehicle first');
    if (t0 === null || t1 === null) return setError('give both a start and an end time');
    if (t1 <= t0) return setError(`the end (${range.to.replace('T', ' ')}) is not after the start (${range.from.replace('T', ' ')})`);
    const vehicle = range.vehicle;
    void run(async () => {
      const h = await history(vehicle, t0, t1);
      const track = toTrack(h.samples);
      if (!track.length) {
        throw new Error(`no telemetry of ${vehicle} is stored between ${clock(t0, true)} and ${clock(t1, true)}`);
      }
      return {
        label: `${vehicle} · ${clock(t0, true).slice(0, 16)} – ${clock(t1, true).slice(11, 16)}`,
        mapLabel: vehicle, vehicleId: vehicle, missionId: null, track, timeline: [], running: false,
        exportQuery: { vehicle: [vehicle], t0: isoZ(t0), t1: isoZ(t1) },
        exportName: `fleet_${vehicle}_${isoZ(t0).replace(/[-:]/g, '')}.mcap`,
        downsampled: h.samples.length >= MAX_POINTS * 0.95,
      };
    });
  };

  const close = () => {
    seq.current++;
    setBusy(false);
    setReplay(null);
  };

  const load = () => (mode === 'mission' ? mission && void loadMission(mission) : loadVehicle());

  return (
    <div class="history">
      {replay && <ReplayPlayer data={replay} onClose={close} />}
      <div class="history-picker" hidden={!!replay}>
        <div class="row">
          <h2 class="h-grow">History &amp; replay</h2>
          <div class="h-seg" role="tablist" aria-label="replay what">
            <button type="button" role="tab" aria-selected={mode === 'mission'} class={mode === 'mission' ? 'active' : ''}
              data-testid="history-mode-mission" onClick={() => setMode('mission')}>Mission</button>
            <button type="button" role="tab" aria-selected={mode === 'vehicle'} class={mode === 'vehicle' ? 'active' : ''}
              data-testid="history-mode-vehicle" onClick={() => setMode('vehicle')}>Vehicle &amp; time</button>
          </div>
        </div>
        {mode === 'mission'
          ? <MissionPicker selected={mission} onSelect={setMission} onLoad={(id) => { setMission(id); void loadMission(id); }} />
          : <VehiclePicker value={range} onChange={setRange} onLoad={loadVehicle} />}
        {error && <div class="error-line" role="alert" data-testid="history-error">{error}</div>}
        <div class="row history-actions">
          <button type="button" class="primary" data-testid="history-load" aria-busy={busy}
            disabled={busy || (mode === 'mission' ? !mission : !range.vehicle)} onClick={load}>
            {busy ? 'Loading track…' : mode === 'mission' ? (mission ? `Replay ${mission}` : 'Choose a mission') : 'Load track'}
          </button>
          <span class="muted">Space plays/pauses, ←/→ step, Home/End jump.</span>
        </div>
      </div>
    </div>
  );
}
