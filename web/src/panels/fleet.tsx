// The Fleet tab: the sortable, filterable table of every vehicle, or one vehicle's detail
// when one is selected (from a row, the map or an alert).
import { useState } from 'preact/hooks';
import { useApp, useSlices, useTick } from '../ctx';
import { fmtAge, fmtTime, humanize } from '../format';
import { VEHICLE_STATUSES, type Vehicle } from '../types';
import { BatteryBar, StatusPill } from '../ui';
import {
  NO_FILTER, PAGE_ROWS, filterVehicles, nextSort, shortAge, shortMode, sortVehicles, summarize,
  type FleetFilter, type SortDir, type SortKey,
} from './fleet-logic';
import { VehicleDetail } from './vehicle';
import './fleet.css';

// The table's filters and sort outlive a visit to a vehicle's detail or another tab.
let saved: { filter: Omit<FleetFilter, 'site'>; sort: { key: SortKey; dir: SortDir }; rows: number } = {
  filter: NO_FILTER, sort: { key: 'vehicle', dir: 'asc' }, rows: PAGE_ROWS,
};

export function FleetPanel() {
  const { store } = useApp();
  useSlices(store, ['selection']);
  if (store.selected) return <VehicleDetail key={store.selected} id={store.selected} />;
  return <FleetTable />;
}

const COLUMNS: { key: SortKey; label: string; title?: string }[] = [
  { key: 'vehicle', label: 'Vehicle' },
  { key: 'site', label: 'Site' },
  { key: 'status', label: 'Status' },
  { key: 'liveness', label: 'Link', title: 'link: fresh, stale or lost' },
  { key: 'battery', label: 'Battery' },
  { key: 'mode', label: 'Mode' },
  { key: 'mission', label: 'Mission' },
  { key: 'seen', label: 'Seen', title: 'last sample' },
];

function FleetTable() {
  const { store, site, openVehicle, setTab } = useApp();
  useSlices(store, ['vehicles'], 1000);
  // Ages move on when no update arrives (a lost link, a silent server).
  useTick(5000);
  const [filter, setFilterState] = useState(saved.filter);
  const [sort, setSortState] = useState(saved.sort);
  const [rows, setRowsState] = useState(saved.rows);
  const setFilter = (patch: Partial<FleetFilter>) => {
    const f = { ...filter, ...patch };
    saved = { ...saved, filter: f, rows: PAGE_ROWS };
    setFilterState(f);
    setRowsState(PAGE_ROWS);
  };
  const setSort = (key: SortKey) => {
    const s = nextSort(sort, key);
    saved = { ...saved, sort: s };
    setSortState(s);
  };
  const setRows = (n: number) => { saved = { ...saved, rows: n }; setRowsState(n); };

  const all = [...store.vehicles.values()];
  const atSite = site ? all.filter((v) => v.site_id === site) : all;
  const shown = sortVehicles(filterVehicles(atSite, { ...filter, site }), sort.key, sort.dir);
  const summary = summarize(atSite);
  const now = Date.now() / 1000;
  const filtered = filter.text || filter.status || filter.liveness || filter.lowBattery;
  // One site chosen: every row would repeat it.
  const columns = site ? COLUMNS.filter((c) => c.key !== 'site') : COLUMNS;

  return (
    <div class="fl-panel">
      <div class="fleet-filters" role="search">
        <label class="fl-grow">
          <span class="fl-sr">Search vehicles</span>
          <input type="search" placeholder="Search id, model, mission…" data-testid="fleet-filter"
            value={filter.text} onInput={(e) => setFilter({ text: e.currentTarget.value })} />
        </label>
        <label>
          <span class="fl-sr">Status</span>
          <select data-testid="fleet-status" value={filter.status}
            onChange={(e) => setFilter({ status: e.currentTarget.value as FleetFilter['status'] })}>
            <option value="">Any status</option>
            {VEHICLE_STATUSES.map((s) => <option value={s}>{humanize(s)}</option>)}
          </select>
        </label>
        <label>
          <span class="fl-sr">Liveness</span>
          <select data-testid="fleet-liveness" value={filter.liveness}
            onChange={(e) => setFilter({ liveness: e.currentTarget.value as FleetFilter['liveness'] })}>
            <option value="">Any link</option>
            <option value="fresh">fresh</option>
            <option value="degraded">stale or lost</option>
            <option value="stale">stale</option>
            <option value="lost">lost</option>
          </select>
        </label>
        <button type="button" class={`fl-toggle${filter.lowBattery ? ' fl-on' : ''}`} aria-pressed={filter.lowBattery}
          data-testid="fleet-low-battery" title="only vehicles below 30 % battery"
          onClick={() => setFilter({ lowBattery: !filter.lowBattery })}>
          Low battery
        </button>
      </div>

      <Summary summary={summary} site={site} />

      {all.length === 0 ? (
        <div class="muted fl-empty">No vehicles in the fleet picture yet.</div>
      ) : (
        <div class="fl-table-wrap">
          <table class="fleet-table" data-testid="fleet-table" aria-rowcount={shown.length + 1}>
            <colgroup>
              {columns.map((c) => <col class={`c-${c.key}`} />)}
            </colgroup>
            <thead>
              <tr>
                {columns.map((c) => (
                  <th scope="col" aria-sort={sort.key === c.key ? (sort.dir === 'asc' ? 'ascending' : 'descending') : 'none'}
                    title={c.title}>
                    <button type="button" class="fl-th-sort" data-testid={`fleet-sort-${c.key}`} onClick={() => setSort(c.key)}>
                      {c.label}
                      <span class="fl-sort-mark" aria-hidden="true">
                        {sort.key === c.key ? (sort.dir === 'asc' ? '▲' : '▼') : ''}
                      </span>
                    </button>
                  </th>
                ))}
              </tr>
            </thead>
            <tbody>
              {shown.slice(0, rows).map((v) => (
                <Row key={v.vehicle_id} v={v} now={now} showSite={!site}
                  open={() => openVehicle(v.vehicle_id)} openMissions={() => setTab('missions')} />
              ))}
            </tbody>
          </table>
          {shown.length === 0 && (
            <div class="muted fl-empty">
              No vehicle matches these filters.{' '}
              <button type="button" class="fl-link" onClick={() => setFilter({ ...NO_FILTER })}>Clear filters</button>
            </div>
          )}
        </div>
      )}
      {shown.length > 0 && (
        <div class="fleet-foot row">
          <span class="muted" data-testid="fleet-showing">
            showing {Math.min(rows, shown.length)} of {shown.length}{filtered ? ` (filtered from ${atSite.length})` : ''}
          </span>
          {rows < shown.length && (
            <button type="button" data-testid="fleet-show-more" onClick={() => setRows(rows + PAGE_ROWS)}>
              Show {Math.min(PAGE_ROWS, shown.length - rows)} more
            </button>
          )}
        </div>
      )}
    </div>
  );
}

function Summary({ summary, site }: { summary: ReturnType<typeof summarize>; site: string | null }) {
  const order = ['in_mission', 'returning', 'charging', 'idle', 'maintenance', 'offline', 'unknown'];
  return (
    <div class="fleet-summary" data-testid="fleet-summary">
      <span><b>{summary.total}</b> vehicles{site ? ` at ${site}` : ''}</span>
      {order.filter((s) => summary.byStatus[s]).map((s) => (
        <span class={`fl-sum sum-${s}`}><i class="dot" />{summary.byStatus[s]} {humanize(s)}</span>
      ))}
      {summary.lowBattery > 0 && <span class="fl-sum sum-low">{summary.lowBattery} low battery</span>}
      {summary.stale > 0 && <span class="fl-sum sum-stale">{summary.stale} stale</span>}
      {summary.lost > 0 && <span class="fl-sum sum-lost">{summary.lost} lost</span>}
    </div>
  );
}

// Rows re-render with the table (at most once a second); memo would not pay for itself.
function Row({ v, now, showSite, open, openMissions }: {
  v: Vehicle; now: number; showSite: boolean; open(): void; openMissions(): void;
}) {
  const stale = v.liveness !== 'fresh';
  return (
    <tr data-testid="vehicle-row" data-vehicle={v.vehicle_id} data-status={v.status} data-liveness={v.liveness}
      class={`live-${v.liveness}`} onClick={open}>
      <td class="c-vehicle" title={`${v.vehicle_id} (${v.model})`}>
        <button type="button" class="fl-link fl-strong" onClick={(e) => { e.stopPropagation(); open(); }}>
          {v.vehicle_id}
        </button>
      </td>
      {showSite && <td class="fl-ellipsis" title={v.site_id ?? 'no site'}>{v.site_id ?? '—'}</td>}
      <td><StatusPill status={v.status} stale={stale} /></td>
      <td class="c-live">
        <span class={`fl-live liveness-${v.liveness}`} title={`link ${v.liveness}`}>
          {v.liveness === 'fresh' ? <span class="fl-sr">fresh</span> : v.liveness}
        </span>
      </td>
      <td><BatteryBar pct={v.battery_pct} /></td>
      <td class="fl-ellipsis fl-mono" title={v.mode}>{shortMode(v.mode)}</td>
      <td class="fl-ellipsis" title={v.mission_id ?? ''}>
        {v.mission_id ? (
          <button type="button" class="fl-link" onClick={(e) => { e.stopPropagation(); openMissions(); }}>
            {v.mission_id}
          </button>
        ) : <span class="muted">—</span>}
      </td>
      <td class={`fl-num${stale ? ' fl-warn' : ''}`} title={v.stamp ? `${fmtTime(v.stamp, now)} (${fmtAge(v.stamp, now)})` : 'no sample yet'}>{shortAge(v.stamp, now)}</td>
    </tr>
  );
}
