// A uPlot chart that follows the page: it takes its colours from the theme's CSS variables
// (and redraws when the theme flips), fills its container's width, and can show a
// vertical marker (the replay's cursor) without redrawing the canvas.
import uPlot from 'uplot';
import { useEffect, useRef } from 'preact/hooks';

export interface Theme {
  fg: string; muted: string; line: string; grid: string; bg: string; bg2: string;
  accent: string; ok: string; warn: string; crit: string;
}

export function readTheme(): Theme {
  const css = getComputedStyle(document.documentElement);
  const v = (name: string, fallback: string) => css.getPropertyValue(name).trim() || fallback;
  return {
    fg: v('--fg', '#e6eaf0'), muted: v('--muted', '#8d98a8'), line: v('--line', '#2b3440'),
    grid: v('--grid', '#1f2833'), bg: v('--bg', '#0f1216'), bg2: v('--bg2', '#161b22'),
    accent: v('--accent', '#2f8cff'), ok: v('--ok', '#3fb950'), warn: v('--warn', '#f0a500'),
    crit: v('--crit', '#ff4d4f'),
  };
}

/** A theme colour ("#rgb" / "#rrggbb") with an alpha, as canvas accepts it. */
export function alpha(color: string, a: number): string {
  let hex = color.trim().replace(/^#/, '');
  if (hex.length === 3) hex = hex.split('').map((c) => c + c).join('');
  if (!/^[0-9a-f]{6}$/i.test(hex)) return color;
  const n = parseInt(hex, 16);
  return `rgba(${(n >> 16) & 255}, ${(n >> 8) & 255}, ${n & 255}, ${a})`;
}

/** Axis styling in the theme's colours. */
export function themedAxis(theme: Theme, extra: Partial<uPlot.Axis> = {}): uPlot.Axis {
  return {
    stroke: theme.muted,
    grid: { stroke: theme.grid, width: 1 },
    ticks: { stroke: theme.line, width: 1, size: 4 },
    font: '11px system-ui, sans-serif',
    ...extra,
  };
}

export type ChartOptions = Omit<uPlot.Options, 'width' | 'height'>;

export function UChart(props: {
  /** Built again when the theme changes, so it may read the theme's colours. */
  options: (theme: Theme) => ChartOptions;
  data: uPlot.AlignedData;
  height: number;
  /** An x value at which to draw a vertical line (replay cursor), or null. */
  marker?: number | null;
  /** Clicking the plot reports the x value there (seek). */
  onPick?: (x: number) => void;
  /** Changing this rebuilds the chart (series were added or removed). */
  shape?: string;
  testid?: string;
  label: string;
}) {
  const box = useRef<HTMLDivElement>(null);
  const plot = useRef<uPlot | null>(null);
  const markerEl = useRef<HTMLDivElement | null>(null);
  const latest = useRef(props);
  latest.current = props;

  const placeMarker = () => {
    const u = plot.current;
    const el = markerEl.current;
    const m = latest.current.marker;
    if (!u || !el) return;
    if (m === null || m === undefined || !Number.isFinite(m)) { el.style.display = 'none'; return; }
    const x = u.valToPos(m, 'x');
    el.style.display = x >= 0 && x <= u.over.clientWidth ? 'block' : 'none';
    el.style.transform = `translateX(${x}px)`;
  };

  useEffect(() => {
    const el = box.current;
    if (!el) return;
    let u: uPlot | null = null;
    const build = () => {
      u?.destroy();
      const theme = readTheme();
      const opts: uPlot.Options = {
        ...latest.current.options(theme),
        width: Math.max(200, el.clientWidth),
        height: latest.current.height,
      };
      opts.hooks = { ...opts.hooks, setScale: [...(opts.hooks?.setScale ?? []), () => placeMarker()] };
      u = new uPlot(opts, latest.current.data, el);
      plot.current = u;
      const m = document.createElement('div');
      m.className = 'h-chart-marker';
      u.over.append(m);
      markerEl.current = m;
      u.over.addEventListener('click', (e) => {
        const pick = latest.current.onPick;
        if (!pick || !u) return;
        const rect = u.over.getBoundingClientRect();
        pick(u.posToVal(e.clientX - rect.left, 'x'));
      });
      placeMarker();
    };
    build();
    const ro = new ResizeObserver(() => {
      if (!u) return;
      const w = Math.max(200, el.clientWidth);
      if (w !== u.width) { u.setSize({ width: w, height: latest.current.height }); placeMarker(); }
    });
    ro.observe(el);
    const mo = new MutationObserver(build);
    mo.observe(document.documentElement, { attributes: true, attributeFilter: ['data-theme'] });
    return () => { ro.disconnect(); mo.disconnect(); u?.destroy(); plot.current = null; };
  }, [props.shape ?? '', props.height]);

  useEffect(() => {
    plot.current?.setData(props.data);
    placeMarker();
  }, [props.data]);

  useEffect(placeMarker, [props.marker]);

  return (
    <div class={`h-chart${props.onPick ? ' h-chart-pick' : ''}`} ref={box} data-testid={props.testid}
      role="img" aria-label={props.label} />
  );
}
