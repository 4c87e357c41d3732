// Formatting that every panel shares: one way to write a time, a distance, a battery level.

export function fmtNumber(v: number | null | undefined, digits = 0, unit = ''): string {
  if (v === null || v === undefined || !Number.isFinite(v)) return '—';
  return `${v.toFixed(digits)}${unit ? ` ${unit}` : ''}`;
}

export function fmtPct(v: number | null | undefined): string {
  return fmtNumber(v, 0, '%').replace(' %', '%');
}

export function fmtDistance(m: number | null | undefined): string {
  if (m === null || m === undefined || !Number.isFinite(m)) return '—';
  return Math.abs(m) >= 1000 ? `${(m / 1000).toFixed(m >= 10_000 ? 1 : 2)} km` : `${Math.round(m)} m`;
}

/** A duration in seconds as "45 s", "12 min", "1 h 05 min". */
export function fmtDuration(s: number | null | undefined): string {
  if (s === null || s === undefined || !Number.isFinite(s)) return '—';
  const sec = Math.max(0, Math.round(s));
  if (sec < 60) return `${sec} s`;
  if (sec < 3600) {
    const m = Math.floor(sec / 60);
    const r = sec % 60;
    return m < 10 && r ? `${m} min ${String(r).padStart(2, '0')} s` : `${m} min`;
  }
  const h = Math.floor(sec / 3600);
  return `${h} h ${String(Math.floor((sec % 3600) / 60)).padStart(2, '0')} min`;
}

/** How long ago a POSIX time was: "now", "8 s ago", "3 min ago". */
export function fmtAge(stamp: number | null | undefined, nowS = Date.now() / 1000): string {
  if (!stamp) return 'never';
  const d = nowS - stamp;
  if (d < 2) return 'now';
  return `${fmtDuration(d)} ago`;
}

/** A POSIX time as local "HH:MM:SS" (today) or "YYYY-MM-DD HH:MM". */
export function fmtTime(stamp: number | null | undefined, nowS = Date.now() / 1000): string {
  if (!stamp) return '—';
  const d = new Date(stamp * 1000);
  const p = (n: number) => String(n).padStart(2, '0');
  const hms = `${p(d.getHours())}:${p(d.getMinutes())}:${p(d.getSeconds())}`;
  if (Math.abs(nowS - stamp) < 20 * 3600) return hms;
  return `${d.getFullYear()}-${p(d.getMonth() + 1)}-${p(d.getDate())} ${p(d.getHours())}:${p(d.getMinutes())}`;
}

export function fmtEnergy(wh: number | null | undefined): string {
  if (wh === null || wh === undefined || !Number.isFinite(wh)) return '—';
  return wh >= 1000 ? `${(wh / 1000).toFixed(2)} kWh` : `${Math.round(wh)} Wh`;
}

/** "in_mission" → "in mission". */
export function humanize(s: string | null | undefined): string {
  return (s ?? '').replace(/_/g, ' ');
}

/** The colour class of a battery level. */
export function batteryLevel(pct: number | null | undefined): 'ok' | 'low' | 'critical' | 'unknown' {
  if (pct === null || pct === undefined || !Number.isFinite(pct)) return 'unknown';
  if (pct < 15) return 'critical';
  if (pct < 30) return 'low';
  return 'ok';
}

/** The colour of each vehicle status, shared by the map, the table and the legend. */
export const STATUS_COLORS: Record<string, string> = {
  idle: '#4caf50',
  in_mission: '#2f8cff',
  returning: '#ffb020',
  charging: '#b36bff',
  maintenance: '#8a8f98',
  offline: '#5b6068',
  unknown: '#5b6068',
};

export function statusColor(status: string): string {
  return STATUS_COLORS[status] ?? STATUS_COLORS.unknown;
}

export const SEVERITY_ORDER: Record<string, number> = { critical: 0, warning: 1, info: 2 };
