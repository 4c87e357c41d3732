// The replay: a time slider over the loaded track, play/pause at a chosen speed, what the
// vehicle showed at that moment, a small altitude/battery chart, and the map overlay driven
// once per animation frame while playing.
import type uPlot from 'uplot';
import { useEffect, useMemo, useRef, useState } from 'preact/hooks';
import { useApp } from '../ctx';
import { fmtNumber, humanize } from '../format';
import { BatteryBar, CommandButton } from '../ui';
import {
  advance, asLine, clock, flownCoords, stateAt, trackCoords,
  type TimelineEntry, type TrackPoint,
} from './history-replay';
import { MissionState } from './history-pick';
import { UChart, alpha, themedAxis, type ChartOptions, type Theme } from './reports-chart';

export interface ReplayData {
  label: string;
  /** The short name beside the vehicle on the map. */
  mapLabel: string;
  vehicleId: string;
  missionId: string | null;
  track: TrackPoint[];
  timeline: TimelineEntry[];
  /** The mission still runs: the track ends at the time it was loaded. */
  running: boolean;
  /** The query of GET /telemetry/export for this slice, and a file name. */
  exportQuery: Record<string, string | string[]>;
  exportName: string;
  /** More samples existed than were fetched (the history answer was downsampled). */
  downsampled: boolean;
}

export const SPEEDS = [1, 2, 5, 10, 30];
/** A frame after a long pause (hidden tab) must not jump the replay by minutes. */
const MAX_FRAME_MS = 250;

function chartOptions(theme: Theme): ChartOptions {
  return {
    legend: { show: false },
    cursor: { drag: { x: false, y: false, setScale: false }, points: { show: false } },
    scales: { x: { time: true }, m: { auto: true }, pct: { range: [0, 100] } },
    series: [
      {},
      { label: 'Altitude', scale: 'm', stroke: theme.accent, width: 1.5, fill: alpha(theme.accent, 0.12) },
      { label: 'Battery', scale: 'pct', stroke: theme.ok, width: 1.5 },
    ],
    axes: [
      // 24-hour clock, as everywhere else on the page (uPlot's default is "2:25am").
      themedAxis(theme, {
        space: 64,
        values: (u, ticks) => {
          const span = (u.scales.x.max ?? 0) - (u.scales.x.min ?? 0);
          return ticks.map((t) => clock(t).slice(0, span < 600 ? 8 : 5));
        },
      }),
      themedAxis(theme, { scale: 'm', size: 44, values: (_u, v) => v.map((x) => `${x} m`) }),
      themedAxis(theme, { scale: 'pct', side: 1, size: 40, grid: { show: false }, values: (_u, v) => v.map((x) => `${x}%`) }),
    ],
  };
}

export function ReplayPlayer({ data, onClose }: { data: ReplayData; onClose(): void }) {
  const { map, session } = useApp();
  const { track } = data;
  const start = track[0].t;
  const end = track[track.length - 1].t;
  const span = Math.max(end - start, 0.001);
  const [t, setT] = useState(start);
  const [playing, setPlaying] = useState(false);
  const [speed, setSpeed] = useState(10);
  const tRef = useRef(start);
  const speedRef = useRef(speed);
  speedRef.current = speed;
  const root = useRef<HTMLDivElement>(null);

  const trackLine = useMemo(() => asLine(trackCoords(track)), [track]);

  const push = (at: number) => {
    if (!map) return;
    const s = stateAt(track, at);
    map.setReplay({
      track: trackLine, flown: asLine(flownCoords(track, s)), position: s.position,
      headingDeg: s.headingDeg, label: data.mapLabel,
    });
  };

  const seek = (at: number) => {
    const c = Math.min(end, Math.max(start, at));
    tRef.current = c;
    setT(c);
    push(c);
  };

  // A new track: dim the live fleet, show the whole track, start at its beginning. The
  // cleanup runs when the replay closes or the panel goes away (tab change).
  useEffect(() => {
    tRef.current = start;
    setT(start);
    setPlaying(false);
    root.current?.focus();
    if (!map) return;
    map.setLiveDimmed(true);
    map.fitTo(trackCoords(track), 60);
    push(start);
    return () => { map.setReplay(null); map.setLiveDimmed(false); };
  }, [map, data]);

  useEffect(() => {
    if (!playing) return;
    let last = performance.now();
    let id = requestAnimationFrame(function frame(now) {
      const [next, ended] = advance(tRef.current, Math.min(MAX_FRAME_MS, now - last), speedRef.current, end);
      last = now;
      tRef.current = next;
      push(next);
      setT(next);
      if (ended) setPlaying(false);
      else id = requestAnimationFrame(frame);
    });
    return () => cancelAnimationFrame(id);
  }, [playing, map, data]);

  const toggle = () => {
    if (!playing && tRef.current >= end) seek(start); // play again from the start
    setPlaying((p) => !p);
  };

  const onKey = (e: KeyboardEvent) => {
    const el = e.target as HTMLElement;
    const typing = (el.tagName === 'INPUT' && (el as HTMLInputElement).type !== 'range')
      || el.tagName === 'SELECT' || el.tagName === 'TEXTAREA';
    if (typing || e.ctrlKey || e.metaKey || e.altKey) return;
    // A focused button already turns Space into a click.
    if (e.key === ' ' && el.tagName !== 'BUTTON') { e.preventDefault(); toggle(); }
    else if (el.tagName !== 'INPUT' && (e.key === 'ArrowLeft' || e.key === 'ArrowRight')) {
      e.preventDefault();
      seek(tRef.current + (e.key === 'ArrowLeft' ? -1 : 1) * Math.max(1, speed));
    } else if (e.key === 'Home' && el.tagName !== 'INPUT') { e.preventDefault(); seek(start); }
    else if (e.key === 'End' && el.tagName !== 'INPUT') { e.preventDefault(); seek(end); }
  };

  const s = useMemo(() => stateAt(track, t), [track, t]);
  const chartData = useMemo<uPlot.AlignedData>(() => [
    track.map((p) => p.t), track.map((p) => p.alt), track.map((p) => p.battery),
  ], [track]);
  const multiDay = new Date(start * 1000).toDateString() !== new Date(end * 1000).toDateString();
  const marks = data.timeline
    .map((e) => ({ e, at: Date.parse(e.time) / 1000 }))
    .filter((m) => m.at >= start - 1 && m.at <= end + 1);

  return (
    <div class="replay" ref={root} tabIndex={-1} onKeyDown={onKey} aria-label={`replay of ${data.label}`}
      data-testid="replay">
      <div class="row replay-head">
        <b class="replay-title">{data.label}</b>
        <CommandButton label="Download MCAP" testid="replay-download" okText={() => 'downloaded'}
          run={() => session.download('/telemetry/export', data.exportQuery, data.exportName)} />
        <button type="button" onClick={onClose} data-testid="replay-close">Close replay</button>
      </div>

      {data.running && <div class="h-pill-note">The mission is still running: the track ends when it was loaded.</div>}
      <div class="replay-controls">
        <button type="button" class="primary replay-play" data-testid="replay-play" onClick={toggle}
          aria-pressed={playing} title="play / pause (Space)">
          {playing ? '❚❚ Pause' : t >= end ? '↺ Replay' : '▶ Play'}
        </button>
        <div class="replay-track">
          <input type="range" data-testid="replay-slider" aria-label="replay time" min={0} max={span} step={0.1}
            value={t - start} onInput={(e) => seek(start + Number(e.currentTarget.value))} />
          <div class="replay-marks" aria-hidden={marks.length === 0}>
            {marks.map((m) => (
              <button type="button" class={`replay-mark h-state-${m.e.to_state}`} tabIndex={-1}
                style={{ left: `${((Math.min(end, Math.max(start, m.at)) - start) / span) * 100}%` }}
                title={`${humanize(m.e.to_state)} at ${clock(m.at)}${m.e.reason ? ` — ${m.e.reason}` : ''}`}
                aria-label={`${m.e.to_state} at ${clock(m.at)}`} onClick={() => seek(m.at)} />
            ))}
          </div>
        </div>
        <label class="replay-speed">Speed<select value={speed} data-testid="replay-speed"
          onChange={(e) => setSpeed(Number(e.currentTarget.value))}>
          {SPEEDS.map((x) => <option value={x}>{x}×</option>)}
        </select></label>
      </div>

      <div class="replay-readouts">
        <div class="h-readout h-readout-time"><span class="muted">Time</span>
          <b data-testid="replay-time">{clock(t, multiDay)}</b>
          <span class="muted">+{fmtClockSpan(t - start)} / {fmtClockSpan(span)}</span></div>
        <div class="h-readout"><span class="muted">Altitude</span><b>{fmtNumber(s.alt, 1, 'm')}</b></div>
        <div class="h-readout"><span class="muted">Speed</span><b>{fmtNumber(s.speed, 1, 'm/s')}</b></div>
        <div class="h-readout"><span class="muted">Battery</span><BatteryBar pct={s.battery} /></div>
        <div class="h-readout"><span class="muted">Heading</span><b>{fmtNumber(s.headingDeg, 0, '°')}</b></div>
        <div class="h-readout"><span class="muted">Mode</span><b>{s.mode ?? '—'}</b></div>
      </div>
      {s.gap && <div class="replay-gap" role="status">No telemetry recorded here: the vehicle is shown where it was last seen.</div>}
      {!map && <div class="muted">The map is not ready yet; the track will show once it is.</div>}

      <UChart label="altitude and battery over the replay" height={130} options={chartOptions} data={chartData}
        marker={t} onPick={(x) => seek(x)} testid="replay-chart" />
      <div class="row h-chart-legend">
        <span><i class="h-sw" style={{ background: 'var(--accent)' }} />altitude (m)</span>
        <span><i class="h-sw" style={{ background: 'var(--ok)' }} />battery (%)</span>
        <span class="spacer" />
        <span class="muted">{track.length} samples{data.downsampled ? ' (downsampled)' : ''} · click the chart to jump</span>
      </div>

      {data.timeline.length > 0 && (
        <>
          <h3>Mission transitions</h3>
          <table class="replay-timeline">
            <tbody>
              {data.timeline.map((e) => {
                const at = Date.parse(e.time) / 1000;
                const inside = at >= start - 1 && at <= end + 1;
                return (
                  <tr class={inside && at <= t ? 'passed' : ''}>
                    <td><button type="button" class="h-linkish" disabled={!inside} onClick={() => seek(at)}
                      title={inside ? 'jump to this moment' : 'outside the recorded track'}>{clock(at, multiDay)}</button></td>
                    <td><MissionState state={e.to_state} /></td>
                    <td class="h-wrap">{e.reason || ''}{e.actor ? <span class="muted"> — {e.actor}</span> : null}</td>
                  </tr>
                );
              })}
            </tbody>
          </table>
        </>
      )}
    </div>
  );
}

/** "04:07" or "1:02:03" for an offset into the replay. */
function fmtClockSpan(s: number): string {
  const sec = Math.max(0, Math.floor(s));
  const p = (n: number) => String(n).padStart(2, '0');
  const h = Math.floor(sec / 3600);
  const m = Math.floor((sec % 3600) / 60);
  return h ? `${h}:${p(m)}:${p(sec % 60)}` : `${p(m)}:${p(sec % 60)}`;
}
