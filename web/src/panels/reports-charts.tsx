// The report's charts over time, one summary per bucket (day or week): missions by state,
// success rate and utilisation, energy per km, and charging queue waits.
import uPlot from 'uplot';
import { useMemo } from 'preact/hooks';
import { fmtDuration } from '../format';
import { STATE_GROUPS, type Series } from './reports-data';
import { UChart, alpha, themedAxis, type ChartOptions, type Theme } from './reports-chart';

const HEIGHT = 170;

function groupColor(theme: Theme, key: string): string {
  return key === 'completed' ? theme.ok : key === 'aborted' ? theme.warn : key === 'failed' ? theme.crit : theme.accent;
}

const num = (digits: number, unit = '') => (_u: uPlot, v: number | null) =>
  v === null || v === undefined || !Number.isFinite(v) ? '—' : `${v.toFixed(digits)}${unit}`;

function base(theme: Theme, perWeek: boolean): Pick<ChartOptions, 'cursor' | 'legend' | 'scales'> & { x: uPlot.Axis } {
  // Half a bucket of room at each end, so the first and last bars are whole.
  const half = (perWeek ? 7 : 1) * 43_200;
  return {
    cursor: { drag: { x: false, y: false, setScale: false }, points: { size: 6 } },
    legend: { live: true },
    scales: { x: { time: true, range: (_u, min, max) => [min - half, max + half] } },
    x: themedAxis(theme, {
      space: 48,
      values: (_u, ticks) => ticks.map((t) => {
        const d = new Date(t * 1000);
        return `${perWeek ? 'wk ' : ''}${d.getMonth() + 1}/${d.getDate()}`;
      }),
    }),
  };
}

function missionsChart(perWeek: boolean) {
  return (theme: Theme): ChartOptions => {
    const b = base(theme, perWeek);
    const bars = uPlot.paths.bars!({ size: [0.7, 48], gap: 1 });
    // Stacks are drawn top-first as bars from zero; each later (lower) stack covers the
    // bottom of the one before. The legend shows each state's own count, not the stack.
    const top = [...STATE_GROUPS].reverse();
    return {
      ...b,
      series: [
        { value: (_u, v) => (v ? new Date(v * 1000).toLocaleDateString() : '—') },
        ...top.map((g): uPlot.Series => ({
          label: g.label, stroke: groupColor(theme, g.key), fill: alpha(groupColor(theme, g.key), 0.75),
          width: 0, paths: bars, points: { show: false },
          value: (u, _v, si, idx) => {
            if (idx === null || idx === undefined) return '—';
            const own = (u.data[si][idx] ?? 0) - (si + 1 < u.data.length ? (u.data[si + 1][idx] ?? 0) : 0);
            return String(own);
          },
        })),
      ],
      scales: { ...b.scales, y: { range: (_u, _min, max) => [0, Math.max(1, Math.ceil(max * 1.1))] } },
      axes: [b.x, themedAxis(theme, { size: 36, values: (_u, v) => v.map((x) => (Number.isInteger(x) ? String(x) : '')) })],
    };
  };
}

function pctChart(perWeek: boolean) {
  return (theme: Theme): ChartOptions => {
    const b = base(theme, perWeek);
    return {
      ...b,
      series: [
        { value: (_u, v) => (v ? new Date(v * 1000).toLocaleDateString() : '—') },
        { label: 'success rate', stroke: theme.ok, width: 2, value: num(0, '%'), points: { show: true, size: 5 } },
        { label: 'utilisation', stroke: theme.accent, width: 2, value: num(1, '%'), points: { show: true, size: 5 } },
      ],
      scales: { ...b.scales, y: { range: [0, 100] } },
      axes: [b.x, themedAxis(theme, { size: 40, values: (_u, v) => v.map((x) => `${x}%`) })],
    };
  };
}

function energyChart(perWeek: boolean) {
  return (theme: Theme): ChartOptions => {
    const b = base(theme, perWeek);
    return {
      ...b,
      series: [
        { value: (_u, v) => (v ? new Date(v * 1000).toLocaleDateString() : '—') },
        { label: 'distance', scale: 'km', stroke: theme.muted, fill: alpha(theme.muted, 0.3), width: 0,
          paths: uPlot.paths.bars!({ size: [0.6, 40] }), points: { show: false }, value: num(1, ' km') },
        { label: 'energy per km', scale: 'wh', stroke: theme.warn, width: 2, value: num(0, ' Wh/km'), points: { show: true, size: 5 } },
      ],
      scales: { ...b.scales, km: { range: (_u, _a, max) => [0, Math.max(1, max * 1.1)] },
        wh: { range: (_u, _a, max) => [0, Math.max(1, max * 1.15)] } },
      axes: [b.x,
        themedAxis(theme, { scale: 'wh', size: 52, values: (_u, v) => v.map((x) => `${x} Wh`) }),
        themedAxis(theme, { scale: 'km', side: 1, size: 52, grid: { show: false }, values: (_u, v) => v.map((x) => `${x} km`) })],
    };
  };
}

function waitChart(perWeek: boolean) {
  return (theme: Theme): ChartOptions => {
    const b = base(theme, perWeek);
    const dur = (_u: uPlot, v: number | null) => (v === null || v === undefined ? '—' : fmtDuration(v));
    return {
      ...b,
      series: [
        { value: (_u, v) => (v ? new Date(v * 1000).toLocaleDateString() : '—') },
        { label: 'mean', stroke: theme.accent, width: 2, value: dur, points: { show: true, size: 5 } },
        { label: 'p95', stroke: theme.warn, width: 2, value: dur, points: { show: true, size: 5 } },
        { label: 'max', stroke: theme.crit, width: 1, dash: [4, 4], value: dur, points: { show: true, size: 4 } },
      ],
      scales: { ...b.scales, y: { range: (_u, _a, max) => [0, Math.max(10, max * 1.1)] } },
      axes: [b.x, themedAxis(theme, { size: 48, values: (_u, v) => v.map((x) => fmtDuration(x)) })],
    };
  };
}

export function ReportCharts({ series, perWeek }: { series: Series; perWeek: boolean }) {
  const unit = perWeek ? 'week' : 'day';
  const top = [...STATE_GROUPS].reverse();
  const missions = useMemo<uPlot.AlignedData>(() => [series.x, ...top.map((g) => series.stacked[g.key])], [series]);
  const pct = useMemo<uPlot.AlignedData>(() => [series.x, series.successPct, series.utilisationPct], [series]);
  const energy = useMemo<uPlot.AlignedData>(() => [series.x, series.distanceKm, series.energyPerKm], [series]);
  const waits = useMemo<uPlot.AlignedData>(() => [series.x, series.waitMean, series.waitP95, series.waitMax], [series]);
  const noWaits = series.waitMean.every((v) => v === null);
  const noEnergy = series.energyPerKm.every((v) => v === null) && series.distanceKm.every((v) => !v);
  return (
    <div class="h-charts">
      <div class="h-chart-box">
        <h3>Missions created per {unit}, by current state</h3>
        <UChart testid="reports-chart" label={`missions per ${unit} by state`} height={HEIGHT}
          options={missionsChart(perWeek)} data={missions} shape={`m${perWeek}`} />
      </div>
      <div class="h-chart-box">
        <h3>Success rate and utilisation per {unit}</h3>
        <UChart testid="reports-chart" label={`success rate and utilisation per ${unit}`} height={HEIGHT}
          options={pctChart(perWeek)} data={pct} shape={`p${perWeek}`} />
      </div>
      <div class="h-chart-box">
        <h3>Energy per km (Wh/km, left) and distance flown (right) per {unit}</h3>
        {noEnergy && <div class="muted">No flight with a measured distance and energy in this period.</div>}
        <UChart testid="reports-chart" label={`energy per km per ${unit}`} height={HEIGHT}
          options={energyChart(perWeek)} data={energy} shape={`e${perWeek}`} />
      </div>
      <div class="h-chart-box">
        <h3>Charging queue waits per {unit}</h3>
        {noWaits && <div class="muted">No charging session with a recorded queue wait in this period.</div>}
        <UChart testid="reports-chart" label={`charging waits per ${unit}`} height={HEIGHT}
          options={waitChart(perWeek)} data={waits} shape={`w${perWeek}`} />
      </div>
    </div>
  );
}
