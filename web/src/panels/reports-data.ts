// Reports' arithmetic, free of the DOM: the period's buckets (a report is one summary per
// period, so a chart over time is one summary per day or week), and the chart series built
// from those summaries.

/** GET /reports/sites/{id} (and each site of /reports/organisation); see fleet_db.reports. */
export interface Summary {
  site_id: string | null;
  t0: string;
  t1: string;
  vehicles: number;
  missions_by_state: Record<string, number>;
  finished: number;
  completed: number;
  success_rate: number | null;
  flight_hours: number;
  utilisation: number | null;
  flights: number;
  distance_km: number;
  energy_wh: number | null;
  energy_per_km_wh: number | null;
  charging_sessions: number;
  charging_wait_mean_s: number | null;
  charging_wait_p95_s: number | null;
  charging_wait_max_s: number | null;
}

export interface Organisation { t0: string; t1: string; total: Summary; sites: Summary[] }

export const MISSION_STATES = ['planned', 'queued', 'assigned', 'active', 'paused', 'completed', 'aborted', 'failed'] as const;

/** The stacks of the missions chart, bottom first: outcomes, then everything still open. */
export const STATE_GROUPS: { key: string; label: string; states: string[] }[] = [
  { key: 'completed', label: 'completed', states: ['completed'] },
  { key: 'aborted', label: 'aborted', states: ['aborted'] },
  { key: 'failed', label: 'failed', states: ['failed'] },
  { key: 'open', label: 'open', states: ['planned', 'queued', 'assigned', 'active', 'paused'] },
];

export interface Bucket { t0: number; t1: number }

const DAY_MS = 86_400_000;
export const MAX_BUCKETS = 62;

/** Local midnight of a "YYYY-MM-DD" date input, in POSIX seconds (null when invalid). */
export function dayStart(date: string): number | null {
  const m = /^(\d{4})-(\d{2})-(\d{2})$/.exec(date);
  if (!m) return null;
  const d = new Date(Number(m[1]), Number(m[2]) - 1, Number(m[3]));
  return Number.isFinite(d.getTime()) ? d.getTime() / 1000 : null;
}

/** The "YYYY-MM-DD" of a POSIX time in local time. */
export function dateInput(tS: number): string {
  const d = new Date(tS * 1000);
  const p = (n: number) => String(n).padStart(2, '0');
  return `${d.getFullYear()}-${p(d.getMonth() + 1)}-${p(d.getDate())}`;
}

/** Add whole local days (a DST change makes a day 23 or 25 hours, not 24). */
function addDays(tS: number, days: number): number {
  const d = new Date(tS * 1000);
  d.setDate(d.getDate() + days);
  return d.getTime() / 1000;
}

/** The report period of two date inputs, "to" included: [from 00:00, to+1 00:00). */
export function periodOf(from: string, to: string): Bucket | null {
  const a = dayStart(from);
  const b = dayStart(to);
  if (a === null || b === null) return null;
  const end = addDays(b, 1);
  return end > a ? { t0: a, t1: end } : null;
}

/**
 * Cut a period into chart buckets: days while there are at most MAX_BUCKETS of them, else
 * weeks (then 4-weeks, ...), so a year-long report is ~52 requests rather than 365.
 * The last bucket is clipped to the period.
 */
export function buckets(period: Bucket): Bucket[] {
  const days = Math.ceil(((period.t1 - period.t0) * 1000) / DAY_MS - 1e-9);
  let step = 1;
  while (Math.ceil(days / step) > MAX_BUCKETS) step = step === 1 ? 7 : step * 2;
  const out: Bucket[] = [];
  for (let t = period.t0; t < period.t1;) {
    const next = Math.min(addDays(t, step), period.t1);
    out.push({ t0: t, t1: next });
    t = next;
  }
  return out;
}

/** Sum the states of a summary into the chart's groups. */
export function groupStates(byState: Record<string, number>): Record<string, number> {
  const out: Record<string, number> = {};
  for (const g of STATE_GROUPS) out[g.key] = g.states.reduce((n, s) => n + (byState[s] ?? 0), 0);
  return out;
}

export function missionTotal(s: Summary): number {
  return Object.values(s.missions_by_state).reduce((a, b) => a + b, 0);
}

export interface Series {
  /** Bucket start times (POSIX seconds): the x values. */
  x: number[];
  /** Per state group, raw counts per bucket. */
  byGroup: Record<string, number[]>;
  /** Per state group, the top of its stack (drawn as bars from 0, top group first). */
  stacked: Record<string, number[]>;
  successPct: (number | null)[];
  utilisationPct: (number | null)[];
  flightHours: number[];
  distanceKm: number[];
  energyPerKm: (number | null)[];
  waitMean: (number | null)[];
  waitP95: (number | null)[];
  waitMax: (number | null)[];
  chargingSessions: number[];
}

/** The chart series of one summary per bucket (null entries: that bucket failed to load). */
export function toSeries(rows: { bucket: Bucket; summary: Summary | null }[]): Series {
  const s: Series = {
    x: [], byGroup: {}, stacked: {}, successPct: [], utilisationPct: [], flightHours: [],
    distanceKm: [], energyPerKm: [], waitMean: [], waitP95: [], waitMax: [], chargingSessions: [],
  };
  for (const g of STATE_GROUPS) { s.byGroup[g.key] = []; s.stacked[g.key] = []; }
  for (const { bucket, summary } of rows) {
    s.x.push(bucket.t0);
    const groups = summary ? groupStates(summary.missions_by_state) : {};
    let top = 0;
    for (const g of STATE_GROUPS) {
      const n = groups[g.key] ?? 0;
      top += n;
      s.byGroup[g.key].push(n);
      s.stacked[g.key].push(top);
    }
    const pct = (v: number | null | undefined) => (v === null || v === undefined ? null : v * 100);
    s.successPct.push(pct(summary?.success_rate));
    s.utilisationPct.push(pct(summary?.utilisation));
    s.flightHours.push(summary?.flight_hours ?? 0);
    s.distanceKm.push(summary?.distance_km ?? 0);
    s.energyPerKm.push(summary?.energy_per_km_wh ?? null);
    s.waitMean.push(summary?.charging_wait_mean_s ?? null);
    s.waitP95.push(summary?.charging_wait_p95_s ?? null);
    s.waitMax.push(summary?.charging_wait_max_s ?? null);
    s.chargingSessions.push(summary?.charging_sessions ?? 0);
  }
  return s;
}

/** Run `fn` over `items` with at most `limit` at a time (bucket requests share 2 cores). */
export async function mapLimit<T, R>(items: T[], limit: number, fn: (item: T, i: number) => Promise<R>,
  signal?: AbortSignal): Promise<R[]> {
  const out = new Array<R>(items.length);
  let next = 0;
  const worker = async () => {
    while (next < items.length) {
      if (signal?.aborted) throw new DOMException('aborted', 'AbortError');
      const i = next++;
      out[i] = await fn(items[i], i);
    }
  };
  await Promise.all(Array.from({ length: Math.min(limit, items.length) }, worker));
  return out;
}
