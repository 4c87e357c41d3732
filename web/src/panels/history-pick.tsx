// Choosing what to replay: a mission (the planner's live ones and the stored ones, searched
// and paged), or a vehicle and a time range.
import { useEffect, useMemo, useState } from 'preact/hooks';
import { describeError } from '../api';
import { useApp, useSlices } from '../ctx';
import { fmtTime, humanize } from '../format';
import type { Mission } from '../types';
import { toLocalInput } from './history-replay';

/** A mission as GET /missions lists it (live from the planner or stored). */
export interface MissionOut {
  mission_id: string;
  source?: 'live' | 'database';
  type: string | null;
  state: string;
  site_id?: string | null;
  vehicle_id: string | null;
  created_by: string | null;
  updated: number | null;
}

interface Row { id: string; type: string; state: string; vehicle: string | null; updated: number | null; live: boolean }

const STATES = ['', 'completed', 'aborted', 'failed', 'active', 'paused', 'queued'];
const SINCE: { label: string; s: number | null }[] = [
  { label: 'last 24 h', s: 86_400 }, { label: 'last 7 days', s: 7 * 86_400 },
  { label: 'last 30 days', s: 30 * 86_400 }, { label: 'any time', s: null },
];
const PAGE = 200;

function rowOf(m: Mission | MissionOut, live: boolean): Row {
  return {
    id: m.mission_id, type: m.type ?? '', state: m.state, vehicle: m.vehicle_id ?? null,
    updated: m.updated ?? null, live,
  };
}

export function MissionPicker(props: { selected: string | null; onSelect(id: string): void; onLoad(id: string): void }) {
  const { session, store, site } = useApp();
  useSlices(store, ['missions'], 1000);
  const [state, setState] = useState('');
  const [since, setSince] = useState(1);
  const [search, setSearch] = useState('');
  const [stored, setStored] = useState<MissionOut[]>([]);
  const [cursor, setCursor] = useState<string | null>(null);
  const [loading, setLoading] = useState(false);
  const [error, setError] = useState<string | null>(null);

  const fetchPage = async (after: string | null, signal?: AbortSignal) => {
    setLoading(true);
    setError(null);
    try {
      const s = SINCE[since].s;
      const page = await session.get<{ items: MissionOut[]; next_cursor: string | null }>('/missions', {
        state: state || undefined, site: site ?? undefined, limit: PAGE, cursor: after ?? undefined,
        since: s === null ? undefined : new Date(Date.now() - s * 1000).toISOString(),
      }, { signal });
      setStored((prev) => (after ? [...prev, ...page.items] : page.items));
      setCursor(page.next_cursor);
    } catch (err) {
      if (!signal?.aborted) setError(describeError(err));
    } finally {
      if (!signal?.aborted) setLoading(false);
    }
  };

  useEffect(() => {
    const ac = new AbortController();
    void fetchPage(null, ac.signal);
    return () => ac.abort();
  }, [state, since, site]);

  const lookUp = async (id: string) => {
    setError(null);
    try {
      const m = await session.get<MissionOut>(`/missions/${encodeURIComponent(id).replace(/%2F/g, '/')}`);
      setStored((prev) => [m, ...prev.filter((x) => x.mission_id !== m.mission_id)]);
      props.onSelect(m.mission_id);
    } catch (err) {
      setError(describeError(err));
    }
  };

  const rows = useMemo(() => {
    const byId = new Map<string, Row>();
    for (const m of stored) byId.set(m.mission_id, rowOf(m, m.source === 'live'));
    // The live picture is newer than any page: it wins, within the same filters.
    for (const m of store.missions.values()) {
      if (state && m.state !== state) continue;
      const mSite = (m as Mission & { site_id?: string | null }).site_id;
      if (site && mSite && mSite !== site) continue;
      byId.set(m.mission_id, rowOf(m, true));
    }
    const q = search.trim().toLowerCase();
    const list = [...byId.values()].filter((r) => !q || r.id.toLowerCase().includes(q)
      || (r.vehicle ?? '').toLowerCase().includes(q) || r.type.toLowerCase().includes(q));
    return list.sort((a, b) => (b.updated ?? 0) - (a.updated ?? 0) || a.id.localeCompare(b.id));
  }, [stored, store.version('missions'), state, search, site]);

  const q = search.trim();
  return (
    <div class="hist-pick">
      <div class="row hist-filters">
        <label class="h-grow">Search<input type="search" value={search} placeholder="mission id, vehicle, type"
          data-testid="history-search" onInput={(e) => setSearch(e.currentTarget.value)}
          onKeyDown={(e) => { if (e.key === 'Enter' && rows.length === 1) props.onLoad(rows[0].id); }} /></label>
        <label>State<select value={state} data-testid="history-state" onChange={(e) => setState(e.currentTarget.value)}>
          {STATES.map((s) => <option value={s}>{s ? humanize(s) : 'any state'}</option>)}
        </select></label>
        <label>Changed<select value={since} onChange={(e) => setSince(Number(e.currentTarget.value))}>
          {SINCE.map((s, i) => <option value={i}>{s.label}</option>)}
        </select></label>
      </div>
      {error && <div class="error-line" role="alert">{error}</div>}
      <div class="hist-list" role="listbox" aria-label="missions" data-testid="history-missions">
        {rows.map((r) => (
          <button type="button" role="option" aria-selected={r.id === props.selected} key={r.id}
            class={`hist-row${r.id === props.selected ? ' selected' : ''}`} data-testid="history-mission"
            data-mission={r.id} onClick={() => props.onSelect(r.id)} onDblClick={() => props.onLoad(r.id)}
            title="click to select, double-click to replay">
            <span class="hist-id">{r.id}</span>
            <MissionState state={r.state} />
            <span class="muted">{humanize(r.type)}</span>
            <span class="spacer" />
            <span>{r.vehicle ?? <span class="muted">no vehicle</span>}</span>
            <span class="muted hist-when">{fmtTime(r.updated)}</span>
          </button>
        ))}
        {!rows.length && !loading && (
          <div class="muted hist-empty">
            No mission matches{q ? ` “${q}”` : ''} in {SINCE[since].label}.
            {q && /^[A-Za-z0-9][A-Za-z0-9_.:@/-]{0,127}$/.test(q) && (
              <> <button type="button" onClick={() => void lookUp(q)}>Look up mission {q}</button></>
            )}
          </div>
        )}
      </div>
      <div class="row">
        {loading && <span class="muted">Loading missions…</span>}
        {cursor && !loading && <button type="button" onClick={() => void fetchPage(cursor)}>Load more</button>}
        <span class="spacer" />
        <span class="muted">{rows.length} mission{rows.length === 1 ? '' : 's'}</span>
      </div>
    </div>
  );
}

/** A mission state as a coloured tag (outcomes green/amber/red, running blue). */
export function MissionState({ state }: { state: string }) {
  return <span class={`h-state h-state-${state}`}>{humanize(state)}</span>;
}

export interface VehicleRange { vehicle: string; from: string; to: string }

export function VehiclePicker(props: { value: VehicleRange; onChange(v: VehicleRange): void; onLoad(): void }) {
  const { store, site } = useApp();
  useSlices(store, ['vehicles'], 2000);
  const ids = useMemo(() => [...store.vehicles.values()]
    .filter((v) => !site || v.site_id === site).map((v) => v.vehicle_id)
    .sort((a, b) => a.localeCompare(b, undefined, { numeric: true })), [store.version('vehicles'), site]);
  const v = props.value;
  const quick = (s: number) => {
    const now = Date.now() / 1000;
    // The end is a minute ahead: datetime-local has no seconds and the newest samples count.
    props.onChange({ ...v, from: toLocalInput(now - s), to: toLocalInput(now + 60) });
  };
  return (
    <div class="hist-pick">
      <div class="row">
        <label class="h-grow">Vehicle<select value={v.vehicle} data-testid="history-vehicle"
          onChange={(e) => props.onChange({ ...v, vehicle: e.currentTarget.value })}>
          <option value="">choose a vehicle…</option>
          {v.vehicle && !ids.includes(v.vehicle) && <option value={v.vehicle}>{v.vehicle}</option>}
          {ids.map((id) => <option value={id}>{id}</option>)}
        </select></label>
      </div>
      <div class="row">
        <label>From<input type="datetime-local" value={v.from} data-testid="history-from"
          onInput={(e) => props.onChange({ ...v, from: e.currentTarget.value })} /></label>
        <label>To<input type="datetime-local" value={v.to} data-testid="history-to"
          onInput={(e) => props.onChange({ ...v, to: e.currentTarget.value })}
          onKeyDown={(e) => { if (e.key === 'Enter') props.onLoad(); }} /></label>
      </div>
      <div class="row">
        <span class="muted">Quick:</span>
        <button type="button" data-testid="history-last-15m" onClick={() => quick(900)}>last 15 min</button>
        <button type="button" data-testid="history-last-1h" onClick={() => quick(3600)}>last 1 h</button>
        <button type="button" data-testid="history-last-6h" onClick={() => quick(6 * 3600)}>last 6 h</button>
      </div>
    </div>
  );
}
