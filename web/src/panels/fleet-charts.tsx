// The selected vehicle's live charts: the last ten minutes backfilled from the telemetry
// history, then extended by the store on every update. uPlot draws to a canvas, so the
// charts are updated in place (setData) and never re-rendered by Preact.
import { useEffect, useRef, useState } from 'preact/hooks';
import uPlot from 'uplot';
import type { Session } from '../api';
import { describeError } from '../api';
import { useApp } from '../ctx';
import { fmtNumber } from '../format';
import { SERIES_SECONDS, type FleetStore, type Sample } from '../store';

export interface ChartDef {
  key: 'alt' | 'speed' | 'battery' | 'voltage';
  label: string;
  unit: string;
  digits: number;
  /** A CSS variable (theme colour) for the line. */
  colorVar: string;
  range?: [number, number];
}

export const CHARTS: ChartDef[] = [
  { key: 'alt', label: 'Altitude', unit: 'm', digits: 1, colorVar: '--accent' },
  { key: 'speed', label: 'Ground speed', unit: 'm/s', digits: 1, colorVar: '--ok' },
  { key: 'battery', label: 'Battery', unit: '%', digits: 0, colorVar: '--warn', range: [0, 100] },
  { key: 'voltage', label: 'Voltage', unit: 'V', digits: 2, colorVar: '--chart-4' },
];

const HEIGHT = 110;
const HISTORY_POINTS = 300;

/** A sample of GET /telemetry/vehicles/{id}/history (routes/telemetry.py SampleOut). */
interface HistorySample {
  time: string; altitude_rel: number | null; ground_speed_mps: number | null;
  battery_pct: number | null; voltage_v: number | null;
}

export function toSample(s: HistorySample): Sample | null {
  const t = Date.parse(s.time) / 1000;
  if (!Number.isFinite(t)) return null;
  return { t, alt: s.altitude_rel, speed: s.ground_speed_mps, battery: s.battery_pct, voltage: s.voltage_v };
}

/** Seed the store's series of `id` with the last ten minutes, downsampled. */
export async function backfillHistory(session: Session, store: FleetStore, id: string, signal: AbortSignal): Promise<number> {
  const now = Date.now();
  const answer = await session.get<{ samples: HistorySample[] }>(
    `/telemetry/vehicles/${encodeURIComponent(id)}/history`,
    { t0: new Date(now - SERIES_SECONDS * 1000).toISOString(), t1: new Date(now + 5_000).toISOString(), max_points: HISTORY_POINTS },
    { signal },
  );
  const samples = answer.samples.map(toSample).filter((s): s is Sample => s !== null);
  if (!signal.aborted) store.backfill(id, samples);
  return samples.length;
}

function cssVar(el: Element, name: string, fallback: string): string {
  return getComputedStyle(el).getPropertyValue(name).trim() || fallback;
}

/** A translucent fill of a hex colour (the theme's are hex); none for other notations. */
function fillOf(color: string): string | undefined {
  return /^#[0-9a-f]{6}$/i.test(color) ? `${color}22` : undefined;
}

function useTheme(): string {
  const [theme, setTheme] = useState(() => document.documentElement.dataset.theme ?? 'dark');
  useEffect(() => {
    const mo = new MutationObserver(() => setTheme(document.documentElement.dataset.theme ?? 'dark'));
    mo.observe(document.documentElement, { attributes: true, attributeFilter: ['data-theme'] });
    return () => mo.disconnect();
  }, []);
  return theme;
}

function columns(series: Sample[], key: ChartDef['key']): uPlot.AlignedData {
  return [series.map((s) => s.t), series.map((s) => s[key])];
}

// Lines span nulls: a stored sample may carry only some fields (a battery-only row), which
// is not a gap in the flight; a real silence has no samples and shows as a straight run.
function makeChart(el: HTMLElement, def: ChartDef, data: uPlot.AlignedData): uPlot {
  const fg = cssVar(el, '--muted', '#8d98a8');
  const grid = cssVar(el, '--grid', '#1f2833');
  const color = cssVar(el, def.colorVar, '#2f8cff');
  const axis: uPlot.Axis = {
    stroke: fg, grid: { stroke: grid, width: 1 }, ticks: { stroke: grid, width: 1, size: 4 },
    font: '11px system-ui, sans-serif', size: 36, gap: 3,
  };
  return new uPlot({
    width: Math.max(120, el.clientWidth),
    height: HEIGHT,
    legend: { show: false },
    cursor: { drag: { x: false, y: false }, points: { size: 5 } },
    padding: [6, 6, 0, 0],
    scales: {
      // A fixed ten-minute window ending now: the line grows from the right, like a monitor.
      x: { time: true, range: (u) => windowOf(u.data[0] as number[], Date.now() / 1000) },
      y: def.range ? { range: def.range } : { range: (_u, min, max) => padRange(min, max) },
    },
    axes: [
      { ...axis, size: 22, space: 60, values: (_u, ticks) => ticks.map(hhmm) },
      // As wide as its longest label (voltages need five digits, battery three).
      { ...axis, size: (_u, values) => 14 + 6.5 * Math.max(1, ...(values ?? []).map((v) => String(v).length)) },
    ],
    series: [
      {},
      { label: def.label, stroke: color, width: 1.6, fill: fillOf(color), spanGaps: true, points: { show: false } },
    ],
  }, data, el);
}

/**
 * The ten minutes shown: ending now, unless the samples are all older than that (a vehicle
 * silent for long, or a clock far off) — then ending at the last sample, so they still show.
 */
export function windowOf(times: number[], nowS: number): [number, number] {
  const last = times.length ? times[times.length - 1] : null;
  const end = last !== null && (nowS - last > SERIES_SECONDS || last > nowS + 60) ? last : nowS;
  return [end - SERIES_SECONDS, end];
}

/**
 * A y range around the data that does not collapse to a line when the value is constant,
 * and does not dip below zero for values that cannot (altitude on the ground, speed).
 */
export function padRange(min: number | null, max: number | null): [number, number] {
  if (min === null || max === null || !Number.isFinite(min) || !Number.isFinite(max)) return [0, 1];
  const span = max - min;
  const pad = span > 0 ? span * 0.1 : Math.max(1, Math.abs(max) * 0.05);
  return [min >= 0 ? Math.max(0, min - pad) : min - pad, max + pad];
}

/** 24-hour "HH:MM" (a control room does not read "2:10am"). */
function hhmm(t: number): string {
  const d = new Date(t * 1000);
  return `${String(d.getHours()).padStart(2, '0')}:${String(d.getMinutes()).padStart(2, '0')}`;
}

export function VehicleCharts({ id }: { id: string }) {
  const { session, store } = useApp();
  const theme = useTheme();
  const boxes = useRef<(HTMLDivElement | null)[]>([]);
  const wrap = useRef<HTMLDivElement>(null);
  const [latest, setLatest] = useState<Sample | null>(null);
  const [history, setHistory] = useState<{ loading: boolean; error: string | null }>({ loading: true, error: null });

  useEffect(() => {
    const ac = new AbortController();
    setHistory({ loading: true, error: null });
    backfillHistory(session, store, id, ac.signal).then(
      () => { if (!ac.signal.aborted) setHistory({ loading: false, error: null }); },
      (err) => { if (!ac.signal.aborted) setHistory({ loading: false, error: describeError(err) }); },
    );
    return () => ac.abort();
  }, [id]);

  useEffect(() => {
    const series = store.seriesOf(id);
    const charts = CHARTS.map((def, i) => makeChart(boxes.current[i]!, def, columns(series, def.key)));
    let last = 0;
    let timer: ReturnType<typeof setTimeout> | undefined;
    const redraw = () => {
      last = Date.now();
      const s = store.seriesOf(id);
      charts.forEach((c, i) => c.setData(columns(s, CHARTS[i].key)));
      setLatest(s.length ? s[s.length - 1] : null);
    };
    // The vehicles slice fires for every vehicle's update: redraw at most once a second.
    const off = store.on('vehicles', () => {
      if (timer) return;
      timer = setTimeout(() => { timer = undefined; redraw(); }, Math.max(0, last + 1000 - Date.now()));
    });
    redraw();
    const ro = new ResizeObserver(() => {
      charts.forEach((c, i) => {
        const w = boxes.current[i]?.clientWidth ?? 0;
        if (w > 0 && Math.abs(w - c.width) > 1) c.setSize({ width: w, height: HEIGHT });
      });
    });
    if (wrap.current) ro.observe(wrap.current);
    return () => { off(); clearTimeout(timer); ro.disconnect(); charts.forEach((c) => c.destroy()); };
  }, [id, theme]);

  return (
    <section class="vd-charts-section" aria-label="live charts">
      <div class="vd-charts" ref={wrap}>
        {CHARTS.map((def, i) => (
          <figure class="vd-chart" data-testid={`vehicle-chart-${def.key === 'alt' ? 'altitude' : def.key}`}>
            <figcaption>
              <span>{def.label}</span>
              <b class="fl-num">{latest ? fmtNumber(latest[def.key], def.digits, def.unit) : '—'}</b>
            </figcaption>
            <div class="vd-chart-plot" ref={(el) => { boxes.current[i] = el; }} />
          </figure>
        ))}
      </div>
      <div class="muted fl-small">
        {history.loading ? 'Loading the last 10 minutes…'
          : history.error ? <span class="fl-warn">History not available ({history.error}); showing live samples only.</span>
          : 'Last 10 minutes; live.'}
      </div>
    </section>
  );
}
