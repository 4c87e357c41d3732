// Reports: a site's (or the organisation's) figures over a period as headline cards, the
// same figures per day as charts, and the server's CSV / PDF of the period.
import { useEffect, useRef, useState } from 'preact/hooks';
import { describeError } from '../api';
import { useApp } from '../ctx';
import { fmtDuration, fmtEnergy, fmtNumber, fmtPct } from '../format';
import { CommandButton, LoadState, useFetch } from '../ui';
import { isoZ } from './history-replay';
import { ReportCharts } from './reports-charts';
import {
  buckets, dateInput, mapLimit, missionTotal, periodOf, toSeries,
  type Bucket, type Organisation, type Series, type Summary,
} from './reports-data';
import './history.css';

const ORG = '*';
const PARALLEL = 3;

interface SiteOut { id: string; name: string; time_zone: string }

interface Loaded {
  key: string;
  period: Bucket;
  total: Summary;
  sites: Summary[] | null;
  series: Series | null;
  perWeek: boolean;
  failed: number;
  failure: string | null;
}

function Card(props: { label: string; value: string; sub?: string; tone?: 'good' | 'warn' | 'bad' | null; testid?: string }) {
  return (
    <div class={`h-card${props.tone ? ` h-card-${props.tone}` : ''}`} data-testid={props.testid}>
      <span class="h-card-label">{props.label}</span>
      <span class="h-card-value" title={props.value}>{props.value}</span>
      {props.sub && <span class="h-card-sub" title={props.sub}>{props.sub}</span>}
    </div>
  );
}

function successTone(rate: number | null): 'good' | 'warn' | 'bad' | null {
  if (rate === null) return null;
  return rate >= 0.9 ? 'good' : rate >= 0.7 ? 'warn' : 'bad';
}

function Cards({ s }: { s: Summary }) {
  return (
    <div class="h-cards" data-testid="reports-cards">
      <Card label="Missions created" value={String(missionTotal(s))} testid="reports-card-missions"
        sub={`${s.finished} finished · ${s.completed} completed`} />
      <Card label="Success rate" value={s.success_rate === null ? '—' : fmtPct(s.success_rate * 100)}
        tone={successTone(s.success_rate)} testid="reports-card-success"
        sub={s.finished ? `${s.completed} of ${s.finished} finished` : 'nothing finished'} />
      <Card label="Flight hours" value={fmtNumber(s.flight_hours, s.flight_hours < 10 ? 2 : 1, 'h')}
        sub={`${s.flights} flight${s.flights === 1 ? '' : 's'} started`} />
      <Card label="Distance" value={fmtNumber(s.distance_km, s.distance_km < 100 ? 1 : 0, 'km')} />
      <Card label="Energy per km" value={fmtNumber(s.energy_per_km_wh, 0, 'Wh/km')}
        sub={s.energy_wh === null ? 'no measured energy' : `${fmtEnergy(s.energy_wh)} in total`} />
      <Card label="Utilisation" value={s.utilisation === null ? '—' : fmtPct(s.utilisation * 100)}
        sub={`${s.vehicles} vehicle${s.vehicles === 1 ? '' : 's'}`} />
      <Card label="Charging sessions" value={String(s.charging_sessions)}
        sub={s.charging_wait_max_s === null ? 'no recorded wait' : `longest wait ${fmtDuration(s.charging_wait_max_s)}`} />
      <Card label="Charging wait" value={fmtDuration(s.charging_wait_mean_s)} sub="mean queue wait" />
      <Card label="Charging wait p95" value={fmtDuration(s.charging_wait_p95_s)}
        tone={s.charging_wait_p95_s !== null && s.charging_wait_p95_s > 600 ? 'warn' : null} sub="95th percentile" />
    </div>
  );
}

function SitesTable({ sites, onPick }: { sites: Summary[]; onPick(id: string): void }) {
  return (
    <div class="h-table-wrap">
      <table data-testid="reports-sites">
        <thead><tr>
          <th>Site</th><th class="h-num">Missions</th><th class="h-num">Success</th><th class="h-num">Flight h</th>
          <th class="h-num">Utilisation</th><th class="h-num">km</th><th class="h-num">Wh/km</th><th class="h-num">Wait p95</th>
        </tr></thead>
        <tbody>
          {sites.map((s) => (
            <tr>
              <td><button type="button" class="h-linkish" onClick={() => s.site_id && onPick(s.site_id)}
                title="report this site">{s.site_id ?? '(no site)'}</button></td>
              <td class="h-num">{missionTotal(s)}</td>
              <td class="h-num">{s.success_rate === null ? '—' : fmtPct(s.success_rate * 100)}</td>
              <td class="h-num">{fmtNumber(s.flight_hours, 1)}</td>
              <td class="h-num">{s.utilisation === null ? '—' : fmtPct(s.utilisation * 100)}</td>
              <td class="h-num">{fmtNumber(s.distance_km, 1)}</td>
              <td class="h-num">{fmtNumber(s.energy_per_km_wh, 0)}</td>
              <td class="h-num">{fmtDuration(s.charging_wait_p95_s)}</td>
            </tr>
          ))}
        </tbody>
      </table>
    </div>
  );
}

export function ReportsPanel() {
  const { session, site: ctxSite } = useApp();
  const [sites, sitesError] = useFetch(async (signal) => {
    const p = await session.get<{ items: SiteOut[] }>('/sites', { limit: 1000 }, { signal });
    return p.items;
  }, []);
  const siteIds = sites?.map((s) => s.id) ?? session.me.sites ?? [];
  const orgAllowed = session.can('admin') || siteIds.length > 1;
  const [site, setSite] = useState<string>(ctxSite ?? '');
  const today = Date.now() / 1000;
  const [from, setFrom] = useState(dateInput(today - 6 * 86_400));
  const [to, setTo] = useState(dateInput(today));
  const [loaded, setLoaded] = useState<Loaded | null>(null);
  const [busy, setBusy] = useState(false);
  const [progress, setProgress] = useState<[number, number] | null>(null);
  const [error, setError] = useState<string | null>(null);
  const abort = useRef<AbortController | null>(null);

  // The first site once they are known (the header's site filter wins).
  useEffect(() => {
    if (!site && siteIds.length) setSite(ctxSite ?? siteIds[0]);
  }, [siteIds.join(','), ctxSite]);

  const period = periodOf(from, to);
  const scope = site === ORG ? 'organisation' : site ? `site ${site}` : '';
  const path = site === ORG ? '/reports/organisation' : `/reports/sites/${encodeURIComponent(site)}`;

  const load = async () => {
    if (!site) return setError('choose a site');
    if (!period) return setError(`the period ${from || '?'} … ${to || '?'} is not valid: "to" must not be before "from"`);
    abort.current?.abort();
    const ac = new AbortController();
    abort.current = ac;
    const key = `${site}|${period.t0}|${period.t1}`;
    const summaryOf = async (b: Bucket): Promise<{ total: Summary; sites: Summary[] | null }> => {
      const q = { t0: isoZ(b.t0), t1: isoZ(b.t1) };
      if (site === ORG) {
        const o = await session.get<Organisation>(path, q, { signal: ac.signal, timeoutMs: 60_000 });
        return { total: o.total, sites: o.sites };
      }
      return { total: await session.get<Summary>(path, q, { signal: ac.signal, timeoutMs: 60_000 }), sites: null };
    };
    setBusy(true);
    setError(null);
    try {
      const head = await summaryOf(period);
      if (ac.signal.aborted) return;
      const bs = buckets(period);
      const perWeek = bs.length > 1 && bs[1].t0 - bs[0].t0 > 2 * 86_400;
      const base: Loaded = { key, period, total: head.total, sites: head.sites, series: null, perWeek, failed: 0, failure: null };
      setLoaded(base);
      setProgress([0, bs.length]);
      let done = 0;
      let failure: string | null = null;
      const rows = await mapLimit(bs, PARALLEL, async (bucket) => {
        let summary: Summary | null = null;
        try {
          summary = (await summaryOf(bucket)).total;
        } catch (err) {
          if (ac.signal.aborted) throw err;
          failure = describeError(err);
        }
        if (!ac.signal.aborted) setProgress([++done, bs.length]);
        return { bucket, summary };
      }, ac.signal);
      if (ac.signal.aborted) return;
      const failed = rows.filter((r) => !r.summary).length;
      setLoaded({ ...base, series: toSeries(rows), failed, failure });
    } catch (err) {
      if (!ac.signal.aborted) setError(describeError(err));
    } finally {
      if (abort.current === ac) { setBusy(false); setProgress(null); }
    }
  };

  // Choosing a site loads it (the period waits for the Load button).
  useEffect(() => { if (site) void load(); }, [site]);
  useEffect(() => { if (ctxSite && ctxSite !== site) setSite(ctxSite); }, [ctxSite]);
  useEffect(() => () => abort.current?.abort(), []);

  const preset = (days: number) => {
    const now = Date.now() / 1000;
    setFrom(dateInput(now - (days - 1) * 86_400));
    setTo(dateInput(now));
  };
  const stale = loaded && period && loaded.key !== `${site}|${period.t0}|${period.t1}`;
  const fileStem = site === ORG ? `organisation_${from}_${to}` : `site_${site}_${from}_${to}`;
  const exportQuery = (format: 'csv' | 'pdf') => (period ? { t0: isoZ(period.t0), t1: isoZ(period.t1), format } : {});

  return (
    <div class="reports">
      <h2>Reports</h2>
      <div class="row reports-form">
        <label class="h-grow">Site<select value={site} data-testid="reports-site" onChange={(e) => setSite(e.currentTarget.value)}>
          {!site && <option value="">choose…</option>}
          {orgAllowed && <option value={ORG}>Organisation (all my sites)</option>}
          {siteIds.map((id) => {
            const s = sites?.find((x) => x.id === id);
            return <option value={id}>{s && s.name !== id ? `${s.name} (${id})` : id}</option>;
          })}
        </select></label>
        <label>From<input type="date" value={from} max={to} data-testid="reports-from" onInput={(e) => setFrom(e.currentTarget.value)} /></label>
        <label>To<input type="date" value={to} min={from} data-testid="reports-to" onInput={(e) => setTo(e.currentTarget.value)} /></label>
      </div>
      <div class="row">
        <button type="button" data-testid="reports-last-7" onClick={() => preset(7)}>Last 7 days</button>
        <button type="button" data-testid="reports-last-30" onClick={() => preset(30)}>Last 30 days</button>
        <button type="button" class="primary" data-testid="reports-load" disabled={busy || !site} aria-busy={busy}
          onClick={() => void load()}>{busy ? 'Loading…' : 'Load report'}</button>
        <span class="spacer" />
        <CommandButton label="CSV" testid="reports-csv" disabled={!site || !period} okText={() => 'downloaded'}
          run={() => session.download(path, exportQuery('csv'), `${fileStem}.csv`)} />
        <CommandButton label="PDF" testid="reports-pdf" disabled={!site || !period} okText={() => 'downloaded'}
          run={() => session.download(path, exportQuery('pdf'), `${fileStem}.pdf`)} />
      </div>
      {sitesError && <div class="error-line" role="alert">Sites could not be listed: {sitesError}</div>}
      {error && <div class="error-line" role="alert" data-testid="reports-error">{error}</div>}
      {progress && (
        <div class="h-progress-line" role="progressbar" aria-valuenow={progress[0]} aria-valuemax={progress[1]}
          title={`per-day figures: ${progress[0]} of ${progress[1]}`}>
          <span style={{ width: `${(progress[0] / Math.max(1, progress[1])) * 100}%` }} />
        </div>
      )}
      {!loaded && !busy && !error && <LoadState empty emptyText="Choose a site and a period, then Load." />}
      {loaded && (
        <>
          <div class="row">
            <b>{loaded.key.startsWith(`${ORG}|`) ? 'Organisation' : `Site ${loaded.key.split('|')[0]}`}</b>
            <span class="muted">{dateInput(loaded.period.t0)} … {dateInput(loaded.period.t1 - 1)} (local days, “to” included)</span>
            {stale && <span class="h-pill-note">form changed — press Load to refresh</span>}
          </div>
          <Cards s={loaded.total} />
          {loaded.sites && loaded.sites.length > 0 && <SitesTable sites={loaded.sites} onPick={setSite} />}
          {loaded.failed > 0 && (
            <div class="error-line" role="alert">
              {loaded.failed} {loaded.perWeek ? 'week' : 'day'}{loaded.failed === 1 ? '' : 's'} could not be loaded ({loaded.failure}); they show as gaps.
            </div>
          )}
          {loaded.series ? <ReportCharts series={loaded.series} perWeek={loaded.perWeek} />
            : <div class="muted">Loading the per-day figures for the charts…</div>}
        </>
      )}
      {scope && !loaded && busy && <div class="muted">Loading the report of {scope}…</div>}
    </div>
  );
}
