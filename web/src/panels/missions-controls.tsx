// The commands of one mission. Each button shows the planner's acknowledgement or the
// bridge's error in place (504: the vehicle showed no sign; 409: the planner's reason), so
// the operator never has to guess whether a pause took.
import { useEffect, useState } from 'preact/hooks';
import { useApp, useSlices } from '../ctx';
import type { Mission } from '../types';
import { CommandButton } from '../ui';
import { HOLDING_STATES, PINNABLE_STATES, ackText, isLive, missionPath } from './missions-model';

type MissionLike = Pick<Mission, 'mission_id' | 'state'> & Partial<Pick<Mission, 'priority' | 'vehicle_id' | 'pinned_vehicle_id'>>;

// Commands wait for the vehicle to act (the bridge's own deadline is ~10 s).
const COMMAND_TIMEOUT_MS = 30_000;

export function MissionControls({ mission: m, site }: { mission: MissionLike; site: string | null }) {
  const { session, store } = useApp();
  useSlices(store, ['vehicles'], 2000);
  const [priority, setPriority] = useState(String(m.priority ?? 5));
  const [pin, setPin] = useState(m.pinned_vehicle_id ?? '');
  useEffect(() => setPriority(String(m.priority ?? 5)), [m.mission_id, m.priority]);
  useEffect(() => setPin(m.pinned_vehicle_id ?? ''), [m.mission_id, m.pinned_vehicle_id]);
  if (!session.can('operate', site)) return null;

  const base = `/missions/${missionPath(m.mission_id)}`;
  const post = (cmd: string) => () => session.post(`${base}/${cmd}`, undefined, { timeoutMs: COMMAND_TIMEOUT_MS });
  const live = isLive(m);
  const holding = HOLDING_STATES.has(m.state);
  const pinnable = PINNABLE_STATES.has(m.state);
  const p = Number(priority);
  const priorityOk = Number.isInteger(p) && p >= 1 && p <= 10;
  const vehicles = [...store.vehicles.values()]
    .filter((v) => !site || !v.site_id || v.site_id === site)
    .map((v) => v.vehicle_id).sort();
  if (m.pinned_vehicle_id && !vehicles.includes(m.pinned_vehicle_id)) vehicles.unshift(m.pinned_vehicle_id);

  return (
    <div class="mp-controls" data-testid="mission-controls">
      <div class="row">
        <CommandButton label="Pause" testid="mission-pause" disabled={m.state !== 'active'}
          run={post('pause')} okText={ackText} />
        <CommandButton label="Resume" testid="mission-resume" disabled={m.state !== 'paused'}
          run={post('resume')} okText={ackText} />
        <CommandButton label="Return home" testid="mission-return-home" disabled={!holding}
          run={post('return-home')} okText={ackText}
          confirm={{
            title: `Send ${m.vehicle_id ?? 'the vehicle'} home?`,
            body: <>The vehicle flies home and hands mission <b>{m.mission_id}</b> back to the queue;
              another vehicle flies the rest.</>,
          }} />
        <CommandButton label="Abort" testid="mission-abort" danger disabled={!live}
          run={post('abort')} okText={ackText}
          confirm={{
            title: `Abort mission ${m.mission_id}?`,
            body: <>The mission ends for good{m.vehicle_id ? <> and <b>{m.vehicle_id}</b> returns home</> : null}.
              This cannot be undone.</>,
            confirmLabel: 'Abort mission',
          }} />
      </div>
      <div class="row mp-control-fields">
        <label class="inline">Priority
          <input type="number" min={1} max={10} step={1} value={priority} disabled={!live}
            data-testid="mission-priority-input" aria-invalid={!priorityOk}
            onInput={(e) => setPriority(e.currentTarget.value)} />
        </label>
        <CommandButton label="Set" testid="mission-priority"
          disabled={!live || !priorityOk || p === m.priority}
          run={() => session.put(`${base}/priority`, { priority: p }, { timeoutMs: COMMAND_TIMEOUT_MS })}
          okText={ackText} />
        <label class="inline">Pin to
          <select value={pin} disabled={!pinnable} data-testid="mission-pin-select"
            title={pinnable ? 'only this vehicle may fly it' : 'a vehicle already took the mission'}
            onChange={(e) => setPin(e.currentTarget.value)}>
            <option value="">— any vehicle —</option>
            {vehicles.map((v) => <option value={v}>{v}</option>)}
          </select>
        </label>
        <CommandButton label="Pin" testid="mission-pin"
          disabled={!pinnable || pin === (m.pinned_vehicle_id ?? '')}
          run={() => session.put(`${base}/pin`, { vehicle_id: pin || null, reason: '' }, { timeoutMs: COMMAND_TIMEOUT_MS })}
          okText={ackText} />
      </div>
    </div>
  );
}
