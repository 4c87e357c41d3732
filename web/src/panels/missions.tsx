// The missions list: what the planner holds, live, most urgent first. Selecting one opens
// its figures, planned path on the map, recent transitions and (for operators) its controls.
import { useEffect, useState } from 'preact/hooks';
import { shortAge } from './fleet-logic';
import { useApp, useSlices, useTick } from '../ctx';
import { fmtAge, fmtDistance, fmtDuration, fmtNumber, fmtTime, humanize } from '../format';
import type { Mission, MissionEvent } from '../types';
import { LoadState, ProgressBar, useFetch } from '../ui';
import { MissionControls } from './missions-controls';
import {
  MISSION_STATE_COLORS, countByFilter, focusMission, isLive, latestShape, listMissions, missionPath,
  missionSite, rememberedMission, shapeCollection, shapeCoords, type MissionFilter, type PlannedShape,
} from './missions-model';
import './missions.css';

/** A mission as GET /missions/{id} answers (live from the planner, or as stored). */
export interface MissionOut extends Partial<Omit<Mission, 'mission_id' | 'state'>> {
  mission_id: string;
  state: string;
  source: 'live' | 'database';
  site_id?: string | null;
}

let savedFilter: MissionFilter = 'active';
let savedText = '';

export function MissionStatePill({ state }: { state: string }) {
  return (
    <span class="pill" style={{ '--c': MISSION_STATE_COLORS[state] ?? '#8a8f98' } as Record<string, string>}>
      {humanize(state)}
    </span>
  );
}

export function MissionsPanel() {
  const { store, site } = useApp();
  useSlices(store, ['missions'], 500);
  useTick(5000);
  const [filter, setFilterState] = useState<MissionFilter>(savedFilter);
  const [text, setTextState] = useState(savedText);
  const [selected, setSelectedState] = useState<string | null>(rememberedMission);
  const setFilter = (f: MissionFilter) => { savedFilter = f; setFilterState(f); };
  const setText = (t: string) => { savedText = t; setTextState(t); };
  const select = (id: string | null) => { focusMission(id); setSelectedState(id); };

  const vehicleSite = (id: string) => store.vehicles.get(id)?.site_id;
  const all = [...store.missions.values()];
  const counts = countByFilter(all);
  const rows = listMissions(all, { filter, text, site, vehicleSite });
  const selectedShown = selected !== null && rows.some((m) => m.mission_id === selected);

  return (
    <div class="mp">
      <div class="mp-toolbar">
        <div class="seg" role="group" aria-label="mission filter">
          {(['active', 'finished', 'all'] as const).map((f) => (
            <button type="button" aria-pressed={filter === f} class={filter === f ? 'on' : ''}
              data-testid={`missions-filter-${f}`} onClick={() => setFilter(f)}>
              {f === 'active' ? 'Active' : f === 'finished' ? 'Finished' : 'All'} <span class="seg-n">{counts[f]}</span>
            </button>
          ))}
        </div>
        <label class="mp-search">
          <span class="sr-only">Search missions</span>
          <input type="search" placeholder="Search id, type, vehicle, user…" value={text}
            data-testid="missions-search" onInput={(e) => setText(e.currentTarget.value)} />
        </label>
      </div>
      {selected && !selectedShown && (
        <div class="mp-detail-card">
          <MissionDetail key={selected} id={selected} mission={store.missions.get(selected)} onClose={() => select(null)} />
        </div>
      )}
      <table class="mp-table" data-testid="missions-list">
        <thead>
          <tr>
            <th>State</th><th>Mission</th><th>Progress · ETA</th><th>Vehicle</th>
            <th title="priority (10 most urgent)">Prio</th><th title="last change">Upd.</th>
          </tr>
        </thead>
        <tbody>
          {rows.map((m) => (
            <MissionRow key={m.mission_id} m={m} open={m.mission_id === selected}
              onToggle={() => select(m.mission_id === selected ? null : m.mission_id)} />
          ))}
        </tbody>
      </table>
      {!rows.length && (
        <div class="muted mp-empty">
          {all.length ? 'No mission matches the filter.' : 'The planner holds no missions.'}
        </div>
      )}
    </div>
  );
}

function MissionRow({ m, open, onToggle }: { m: Mission; open: boolean; onToggle(): void }) {
  const { openVehicle } = useApp();
  const vid = m.vehicle_id ?? m.pinned_vehicle_id;
  const live = isLive(m);
  return (
    <>
      <tr class={`mp-row${open ? ' selected' : ''}${live ? '' : ' mp-finished'}`} data-testid="mission-row"
        data-mission={m.mission_id} data-state={m.state} onClick={onToggle}>
        <td><MissionStatePill state={m.state} /></td>
        <td class="mp-id">
          <button type="button" class="link" aria-expanded={open} title={m.mission_id}
            onClick={(e) => { e.stopPropagation(); onToggle(); }}>{m.mission_id}</button>
          <div class="muted small">{m.type} · {m.created_by || '—'}</div>
        </td>
        <td>
          <ProgressBar pct={m.progress_pct} />
          <div class="muted small">{live && m.eta_s != null ? `ETA ${fmtDuration(m.eta_s)}` : ' '}</div>
        </td>
        <td>
          {vid ? (
            <button type="button" class="link" title={`open ${vid}`}
              onClick={(e) => { e.stopPropagation(); openVehicle(vid); }}>
              {vid}{!m.vehicle_id && <span class="muted" title="pinned"> 📌</span>}
            </button>
          ) : <span class="muted">—</span>}
        </td>
        <td class="num">{m.priority}</td>
        <td class="muted small" title={`updated ${fmtTime(m.updated)} (${fmtAge(m.updated)})`}>{shortAge(m.updated, Date.now() / 1000)}</td>
      </tr>
      {open && (
        <tr class="mp-detail-row">
          <td colSpan={6}><MissionDetail id={m.mission_id} mission={m} /></td>
        </tr>
      )}
    </>
  );
}

function MissionDetail({ id, mission, onClose }: { id: string; mission: Mission | undefined; onClose?(): void }) {
  const { session, store, map } = useApp();
  useSlices(store, ['events'], 1000);
  const [detail, error, loading] = useFetch(
    (signal) => session.get<MissionOut>(`/missions/${missionPath(id)}`, undefined, { signal }),
    [id, mission?.state, mission?.priority, mission?.pinned_vehicle_id, mission?.vehicle_id]);
  const shape = usePlannedShape(id, mission);
  const m: MissionOut | Mission | null = mission ?? detail;
  const site = detail?.site_id ?? (mission ? missionSite(mission, (v) => store.vehicles.get(v)?.site_id) : null);
  const transitions = store.events
    .filter((e): e is MissionEvent => e.kind === 'mission' && e.mission_id === id && e.from_state !== e.to_state)
    .slice(-6).reverse();

  return (
    <div class="mp-detail" data-testid="mission-detail" data-mission={id}>
      {onClose && (
        <div class="row">
          <b>{id}</b>{m && <MissionStatePill state={m.state} />}
          <span class="spacer" />
          <button type="button" class="icon" aria-label="close" onClick={onClose}>✕</button>
        </div>
      )}
      <LoadState loading={loading && !m} error={m ? null : error} />
      {m && (
        <dl class="mp-facts">
          <dt>Type</dt><dd>{m.type ?? '—'}</dd>
          <dt>Site</dt><dd>{site ?? '—'}</dd>
          <dt>Waypoint</dt><dd>{fmtWaypoint(m.current_waypoint, m.waypoint_count)}</dd>
          <dt>Distance</dt><dd>{fmtDistance(m.distance_m)}{m.distance_remaining_m != null && isLive(m) ? ` (${fmtDistance(m.distance_remaining_m)} left)` : ''}</dd>
          <dt>Progress</dt><dd>{fmtNumber(m.progress_pct, 0, '%')}{isLive(m) && m.eta_s != null ? ` · ETA ${fmtDuration(m.eta_s)}` : ''}</dd>
          <dt>Pinned to</dt><dd>{m.pinned_vehicle_id ?? '—'}</dd>
          {m.parent_id && <><dt>Part of</dt><dd>{m.parent_id}</dd></>}
          <dt>Created by</dt><dd>{m.created_by || '—'}</dd>
          {m.reason && <><dt>Reason</dt><dd class="mp-reason">{m.reason}</dd></>}
          <dt>Map</dt>
          <dd>
            {shape === undefined ? <span class="muted">looking for the planned path…</span>
              : shape === null ? <span class="muted">no planned path yet</span>
              : (
                <button type="button" class="link" disabled={!map} data-testid="mission-show-path"
                  onClick={() => map?.fitTo(shapeCoords(shape), 60)}>
                  show path ({shape.path.length} points)
                </button>
              )}
          </dd>
        </dl>
      )}
      {m && <MissionControls mission={m} site={site} />}
      {transitions.length > 0 && (
        <div class="mp-transitions">
          <h3>Recent transitions</h3>
          <ul>
            {transitions.map((e) => (
              <li>
                <span class="muted">{fmtTime(e.stamp)}</span> {e.from_state ? `${humanize(e.from_state)} → ` : ''}
                <b>{humanize(e.to_state)}</b>
                {e.reason && <span class="muted"> — {e.reason}</span>}
                {e.actor && <span class="muted"> ({e.actor})</span>}
              </li>
            ))}
          </ul>
        </div>
      )}
    </div>
  );
}

/** The planner counts waypoints from 0 and says -1 before the first. */
function fmtWaypoint(current: number | null | undefined, count: number | null | undefined): string {
  if (!count) return '—';
  if (current == null || current < 0) return `not started (${count})`;
  return `${Math.min(current + 1, count)} / ${count}`;
}

interface TimelineEntry { time: string; details: unknown }

/**
 * The mission's planned path, shown on the map while the mission is open: from the live
 * events when the page saw the plan, else from the stored timeline. undefined while looking.
 */
function usePlannedShape(id: string, mission: Mission | undefined): PlannedShape | null | undefined {
  const { session, store, map } = useApp();
  const [shape, setShape] = useState<PlannedShape | null | undefined>(undefined);
  const [fitted, setFitted] = useState<string | null>(null);
  useEffect(() => {
    const ac = new AbortController();
    const live = latestShape(store.events
      .filter((e): e is MissionEvent => e.kind === 'mission' && e.mission_id === id)
      .map((e) => ({ stamp: e.stamp, details: e.details })));
    if (live) setShape(live);
    else {
      session.get<TimelineEntry[]>(`/telemetry/missions/${missionPath(id)}/timeline`, undefined, { signal: ac.signal })
        .then((entries) => {
          if (ac.signal.aborted) return;
          setShape(latestShape(entries.map((e) => ({ stamp: Date.parse(e.time) / 1000, details: e.details }))));
        }, () => { if (!ac.signal.aborted) setShape((s) => s ?? null); });
    }
    return () => ac.abort();
    // A new plan is published when a vehicle takes the mission (or the waypoints change).
  }, [id, mission?.vehicle_id, mission?.state, mission?.waypoint_count]);
  useEffect(() => {
    if (!map) return;
    map.setHighlight(shape ? shapeCollection(id, shape) : null);
    if (shape && fitted !== id) {
      map.fitTo(shapeCoords(shape), 60);
      setFitted(id);
    }
  }, [map, shape, id]);
  useEffect(() => () => map?.setHighlight(null), [map, id]);
  return shape;
}
