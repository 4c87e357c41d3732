// What the hover popup says about each kind of thing on the map. Built as DOM nodes from
// text (never innerHTML): names and ids come from the server.
import { fmtAge, fmtDistance, fmtDuration, fmtNumber, fmtPct, fmtTime, humanize, statusColor } from '../format';
import type { Mission, Vehicle } from '../types';
import type { StationLoad } from './geo';

function el(tag: string, cls?: string, text?: string): HTMLElement {
  const e = document.createElement(tag);
  if (cls) e.className = cls;
  if (text !== undefined) e.textContent = text;
  return e;
}

function card(title: string, rows: [string, string, string?][], badge?: { text: string; color: string }): HTMLElement {
  const root = el('div', 'mp');
  const head = el('div', 'mp-head');
  head.append(el('b', undefined, title));
  if (badge) {
    const b = el('span', 'mp-badge', badge.text);
    b.style.setProperty('--c', badge.color);
    head.append(b);
  }
  root.append(head);
  const dl = el('dl', 'mp-rows');
  for (const [k, v, cls] of rows) {
    dl.append(el('dt', undefined, k), el('dd', cls, v));
  }
  root.append(dl);
  return root;
}

export function vehiclePopup(v: Vehicle, nowS = Date.now() / 1000): HTMLElement {
  const bat = v.battery_pct;
  const rows: [string, string, string?][] = [
    ['Battery', fmtPct(bat), bat != null && bat < 15 ? 'crit' : bat != null && bat < 30 ? 'warn' : undefined],
    ['Altitude', fmtNumber(v.relative_altitude_m, 1, 'm')],
    ['Speed', fmtNumber(v.ground_speed_mps, 1, 'm/s')],
    ['Mode', v.mode ? humanize(v.mode) : '—'],
    ['Updated', fmtAge(v.stamp, nowS), v.liveness !== 'fresh' ? 'warn' : undefined],
  ];
  if (v.mission_id) rows.push(['Mission', v.mission_id]);
  if (v.liveness !== 'fresh') rows.push(['Link', v.liveness, 'warn']);
  const root = card(v.vehicle_id, rows, { text: humanize(v.status), color: statusColor(v.status) });
  root.append(el('div', 'mp-hint', 'click to open'));
  return root;
}

export function zonePopup(p: Record<string, unknown>, nowS = Date.now() / 1000): HTMLElement {
  const scheduled = p.cls === 'scheduled';
  const floor = p.floor_m as number | null, ceil = p.ceiling_m as number | null;
  const rows: [string, string, string?][] = [
    ['Altitude', floor == null && ceil == null ? 'all altitudes' : `${fmtNumber(floor ?? 0, 0, 'm')} – ${ceil == null ? '∞' : fmtNumber(ceil, 0, 'm')}`],
  ];
  const from = p.active_from as number | null, until = p.active_until as number | null;
  if (scheduled && from) rows.push(['Starts', `${fmtTime(from, nowS)} (in ${fmtDuration(from - nowS)})`, 'warn']);
  if (until) rows.push(['Ends', fmtTime(until, nowS)]);
  rows.push(['Id', String(p.id ?? '')]);
  return card(String(p.name || p.id || 'no-fly zone'), rows,
    { text: scheduled ? 'scheduled' : 'active', color: scheduled ? 'var(--warn)' : 'var(--crit)' });
}

export function stationPopup(p: Record<string, unknown>, load: StationLoad | undefined): HTMLElement {
  const l = load ?? { queued: 0, flying: 0, charging: 0 };
  const pads = Number(p.pads ?? 0);
  return card(String(p.name || p.station_id), [
    ['Pads in use', `${l.charging + l.flying} / ${pads || '?'}`],
    ['Charging', String(l.charging)],
    ['Flying to pad', String(l.flying)],
    ['Queue', String(l.queued), l.queued >= 3 ? 'crit' : l.queued > 0 ? 'warn' : undefined],
    ['Rate', p.charge_rate_w ? fmtNumber(Number(p.charge_rate_w), 0, 'W') : '—'],
  ], { text: 'charging station', color: 'var(--muted)' });
}

export function homePopup(p: Record<string, unknown>): HTMLElement {
  return card(Number(p.n) > 1 ? `Home of ${p.n} vehicles` : 'Home', [['Vehicles', String(p.ids ?? '')]]);
}

export function missionPopup(m: Mission | undefined, id: string): HTMLElement {
  if (!m) return card(id, [['State', 'ended']]);
  return card(m.mission_id, [
    ['Vehicle', m.vehicle_id ?? '—'],
    ['Type', humanize(m.type)],
    ['Progress', fmtPct(m.progress_pct)],
    ['Remaining', fmtDistance(m.distance_remaining_m)],
    ['ETA', fmtDuration(m.eta_s)],
  ], { text: humanize(m.state), color: 'var(--accent)' });
}
