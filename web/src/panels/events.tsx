// The Events tab: live coordination and mission events, newest first, open critical ones
// pinned on top until acknowledged; older ones paged in from the event log on request.
import { useState } from 'preact/hooks';
import { describeError } from '../api';
import { useApp, useSlices } from '../ctx';
import { fmtTime, humanize } from '../format';
import { eventKey } from '../store';
import type { FleetEvent } from '../types';
import {
  NO_EVENT_FILTER, filterEvents, fromStoredCoordination, fromStoredMission, matchesEvent, mergeEvents,
  messageOf, severityOf, stateOf, titleOf, typeOf, typesPresent, vehiclesOf,
  type EventFilter, type Page, type StoredCoordination, type StoredMissionEvent,
} from './events-logic';
import './fleet.css';

const COORDINATION_TYPES = ['collision_avoidance', 'airspace_conflict', 'low_battery', 'link_lost',
  'charging_queue', 'emergency_landing', 'command_failed'];
const ROWS = 200;
const PAGE = 50;

/** Paging state of the event log: undefined = not asked yet, null = no older page. */
interface Older { events: FleetEvent[]; coord: string | null | undefined; mission: string | null | undefined; site: string | null }

// The filters and the pages already loaded survive a tab switch.
let savedFilter: Omit<EventFilter, 'site'> = NO_EVENT_FILTER;
let savedOlder: Older = { events: [], coord: undefined, mission: undefined, site: null };

export function EventsPanel() {
  const { store, session, site, openVehicle } = useApp();
  useSlices(store, ['events', 'alerts'], 500);
  const [filter, setFilterState] = useState(savedFilter);
  const [older, setOlderState] = useState<Older>(savedOlder.site === site ? savedOlder
    : { events: [], coord: undefined, mission: undefined, site });
  const [rows, setRows] = useState(ROWS);
  const [busy, setBusy] = useState(false);
  const [error, setError] = useState<string | null>(null);
  const setFilter = (patch: Partial<EventFilter>) => {
    const f = { ...filter, ...patch };
    savedFilter = f;
    setFilterState(f);
    setRows(ROWS);
  };
  const setOlder = (o: Older) => { savedOlder = o; setOlderState(o); };
  // The pages loaded for another site do not belong here.
  const cur = older.site === site ? older : { events: [], coord: undefined, mission: undefined, site };

  const siteOf = (id: string) => store.vehicles.get(id)?.site_id;
  const pinned = store.alerts.filter((e) => matchesEvent(e, { ...NO_EVENT_FILTER, site }, siteOf));
  const pinnedKeys = new Set(pinned.map(eventKey));
  const all = mergeEvents(store.events, cur.events);
  const list = filterEvents(all, { ...filter, site }, siteOf).filter((e) => !pinnedKeys.has(eventKey(e)));
  const types = [...new Set([...COORDINATION_TYPES, ...typesPresent(all)])];
  const exhausted = cur.coord === null && cur.mission === null;

  const loadOlder = async () => {
    setBusy(true);
    setError(null);
    try {
      const q = { limit: PAGE, site: site ?? undefined };
      const [c, m] = await Promise.all([
        cur.coord === null ? null : session.get<Page<StoredCoordination>>('/events/coordination', { ...q, cursor: cur.coord }),
        cur.mission === null ? null : session.get<Page<StoredMissionEvent>>('/events/missions', { ...q, cursor: cur.mission }),
      ]);
      setOlder({
        site,
        events: [...cur.events, ...(c?.items.map(fromStoredCoordination) ?? []), ...(m?.items.map(fromStoredMission) ?? [])],
        coord: c ? c.next_cursor : null,
        mission: m ? m.next_cursor : null,
      });
    } catch (err) {
      setError(`Older events could not be loaded: ${describeError(err)}`);
    } finally {
      setBusy(false);
    }
  };

  const filtered = filter.severity || filter.kind || filter.type || filter.state || filter.vehicle;
  return (
    <div class="ev-panel">
      <div class="fleet-filters" role="search">
        <label>
          <span class="fl-sr">Severity</span>
          <select data-testid="events-severity" value={filter.severity}
            onChange={(e) => setFilter({ severity: e.currentTarget.value as EventFilter['severity'] })}>
            <option value="">Any severity</option>
            <option value="critical">critical</option>
            <option value="warning">warning</option>
            <option value="info">info</option>
          </select>
        </label>
        <label>
          <span class="fl-sr">Kind</span>
          <select data-testid="events-kind" value={filter.kind}
            onChange={(e) => setFilter({ kind: e.currentTarget.value as EventFilter['kind'], type: '' })}>
            <option value="">All kinds</option>
            <option value="coordination">coordination</option>
            <option value="mission">mission</option>
          </select>
        </label>
        <label>
          <span class="fl-sr">Type</span>
          <select data-testid="events-type" value={filter.type}
            onChange={(e) => setFilter({ type: e.currentTarget.value })}>
            <option value="">Any type</option>
            {types.filter((t) => !filter.kind || (filter.kind === 'mission') === t.startsWith('mission_'))
              .map((t) => <option value={t}>{humanize(t)}</option>)}
          </select>
        </label>
        <label>
          <span class="fl-sr">State</span>
          <select data-testid="events-state" value={filter.state}
            onChange={(e) => setFilter({ state: e.currentTarget.value as EventFilter['state'] })}>
            <option value="">Open &amp; resolved</option>
            <option value="open">open</option>
            <option value="resolved">resolved</option>
          </select>
        </label>
        <label class="fl-grow">
          <span class="fl-sr">Vehicle or mission</span>
          <input type="search" placeholder="Vehicle or mission…" data-testid="events-vehicle" value={filter.vehicle}
            onInput={(e) => setFilter({ vehicle: e.currentTarget.value })} />
        </label>
      </div>

      {pinned.length > 0 && (
        <section class="ev-pinned" aria-label="open critical events" data-testid="events-pinned">
          <ul class="ev-list">
            {pinned.map((e) => (
              <EventRow e={e} open={openVehicle} pinned onAck={() => store.acknowledge(e)} />
            ))}
          </ul>
        </section>
      )}

      <div class="ev-count muted fl-small" data-testid="events-count">
        {list.length} event{list.length === 1 ? '' : 's'}{filtered ? ` match (of ${all.length})` : ''}
        {pinned.length > 0 && ` · ${pinned.length} critical pinned above`}
        {cur.events.length > 0 && ` · ${cur.events.length} loaded from the log`}
        {filtered && <button type="button" class="fl-link" onClick={() => setFilter({ ...NO_EVENT_FILTER })}>clear filters</button>}
      </div>

      {list.length === 0 ? (
        <div class="muted fl-empty">{all.length ? 'No event matches these filters.' : 'No events yet.'}</div>
      ) : (
        <ul class="ev-list" data-testid="events-list">
          {list.slice(0, rows).map((e) => <EventRow key={eventKey(e)} e={e} open={openVehicle} />)}
        </ul>
      )}
      {list.length === 0 && <ul class="ev-list" data-testid="events-list" />}

      <div class="fleet-foot row">
        {list.length > rows && (
          <button type="button" onClick={() => setRows(rows + ROWS)}>Show {Math.min(ROWS, list.length - rows)} more</button>
        )}
        <button type="button" data-testid="events-load-older" disabled={busy || exhausted} onClick={() => void loadOlder()}>
          {busy ? 'Loading…' : exhausted ? 'No older events' : 'Load older from the log'}
        </button>
        {error && <span class="error-line" role="alert">{error}</span>}
      </div>
    </div>
  );
}

function EventRow({ e, open, pinned, onAck }: {
  e: FleetEvent; open(id: string): void; pinned?: boolean; onAck?(): void;
}) {
  const sev = severityOf(e);
  const state = stateOf(e);
  const msg = messageOf(e);
  const vehicles = vehiclesOf(e);
  return (
    <li class={`ev-item sev-${sev}${pinned ? ' ev-pinned-row' : ''}`} data-testid="event-row" data-severity={sev}
      data-type={typeOf(e)} data-kind={e.kind} data-state={state ?? undefined}>
      <div class="ev-line">
        <span class="ev-time fl-num" title={e.stamp ? new Date(e.stamp * 1000).toLocaleString() : ''}>{fmtTime(e.stamp)}</span>
        <span class={`sev-badge sev-${sev}`}>{sev}</span>
        <span class="ev-type">{titleOf(e)}</span>
        <span class="ev-vehicles">
          {vehicles.map((v) => (
            <button type="button" class="fl-link" data-testid="event-vehicle" onClick={() => open(v)}>{v}</button>
          ))}
        </span>
        <span class="spacer" />
        {state && <span class={`ev-state st-${state}`}>{state}</span>}
      </div>
      {(msg || pinned) && (
        <div class="ev-line">
          <span class="ev-msg fl-ellipsis" title={msg}>{msg}</span>
          {pinned && onAck && <>
            <span class="spacer" />
            <button type="button" class="ev-ack" data-testid="event-ack" onClick={onAck}>Acknowledge</button>
          </>}
        </div>
      )}
    </li>
  );
}
