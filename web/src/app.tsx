// The page: login, then the shell (header, map, side panel with tabs, banners). Panels and
// the map are in their own modules; this file wires the session, the live client and the store.
import { useEffect, useMemo, useRef, useState } from 'preact/hooks';
import { Session, describeError } from './api';
import { Ctx, useApp, useSlices, useTick, type AppCtx, type TabId, type Toast } from './ctx';
import { fmtAge, humanize } from './format';
import { LiveClient, type ConnState } from './live';
import type { MapApi } from './map/api';
import { MapView } from './map/view';
import { AdminPanel } from './panels/admin';
import { AirspacePanel } from './panels/airspace';
import { ChargingPanel } from './panels/charging';
import { EventsPanel } from './panels/events';
import { dataText } from './panels/events-logic';
import { FleetPanel } from './panels/fleet';
import { HistoryPanel } from './panels/history';
import { MissionsPanel } from './panels/missions';
import { PlanPanel } from './panels/plan';
import { ReportsPanel } from './panels/reports';
import { FleetStore } from './store';
import type { FleetEvent } from './types';

const CHANNELS = ['fleet', 'missions', 'events', 'zones', 'charging'];

interface TabDef { id: TabId; label: string; key: string; show(ctx: AppCtx): boolean }
const TABS: TabDef[] = [
  { id: 'fleet', label: 'Fleet', key: '1', show: () => true },
  { id: 'missions', label: 'Missions', key: '2', show: () => true },
  { id: 'plan', label: 'Plan', key: '3', show: (c) => c.session.can('operate') },
  { id: 'events', label: 'Events', key: '4', show: () => true },
  { id: 'charging', label: 'Charging', key: '5', show: () => true },
  { id: 'airspace', label: 'Airspace', key: '6', show: () => true },
  { id: 'history', label: 'History', key: '7', show: () => true },
  { id: 'reports', label: 'Reports', key: '8', show: () => true },
  { id: 'admin', label: 'Admin', key: '9', show: (c) => c.session.can('admin') },
];

function Panel({ tab }: { tab: TabId }) {
  switch (tab) {
    case 'fleet': return <FleetPanel />;
    case 'missions': return <MissionsPanel />;
    case 'plan': return <PlanPanel />;
    case 'events': return <EventsPanel />;
    case 'charging': return <ChargingPanel />;
    case 'airspace': return <AirspacePanel />;
    case 'history': return <HistoryPanel />;
    case 'reports': return <ReportsPanel />;
    case 'admin': return <AdminPanel />;
  }
}

export function App() {
  const [session, setSession] = useState<Session | null>(null);
  const [checking, setChecking] = useState(true);
  useEffect(() => {
    // A reload resumes from the refresh cookie; no cookie (or a refused one) shows the login.
    // Only ask when this browser logged in before: no pointless 401 on a first visit.
    if (localStorage.getItem('fleet.session') !== '1') { setChecking(false); return; }
    Session.resume().then(setSession, () => setSession(null)).finally(() => setChecking(false));
  }, []);
  useEffect(() => {
    if (!session) return;
    localStorage.setItem('fleet.session', '1');
    return session.onEnd(() => { localStorage.removeItem('fleet.session'); setSession(null); });
  }, [session]);
  if (checking) return <div class="splash">Connecting…</div>;
  if (!session) return <Login onLogin={setSession} />;
  return <Shell key={session.me.user_id} session={session} />;
}

function Login({ onLogin }: { onLogin(s: Session): void }) {
  const [username, setUsername] = useState('');
  const [password, setPassword] = useState('');
  const [error, setError] = useState<string | null>(null);
  const [busy, setBusy] = useState(false);
  const submit = async (e: Event) => {
    e.preventDefault();
    setBusy(true);
    setError(null);
    try {
      onLogin(await Session.login(username, password));
    } catch (err) {
      setError(describeError(err));
    } finally {
      setBusy(false);
    }
  };
  return (
    <div class="login">
      <form class="login-card" onSubmit={submit} aria-label="Log in">
        <div class="brand brand-big"><span class="brand-mark">◆</span> Fleet</div>
        <label>Username<input name="username" autoComplete="username" autoFocus value={username}
          onInput={(e) => setUsername(e.currentTarget.value)} required /></label>
        <label>Password<input name="password" type="password" autoComplete="current-password" value={password}
          onInput={(e) => setPassword(e.currentTarget.value)} required /></label>
        {error && <div class="error-line" role="alert" data-testid="login-error">{error}</div>}
        <button type="submit" class="primary" disabled={busy}>{busy ? 'Logging in…' : 'Log in'}</button>
      </form>
    </div>
  );
}

function useTheme(): [string, () => void] {
  const [theme, setTheme] = useState(() => localStorage.getItem('fleet.theme') ?? 'dark');
  useEffect(() => {
    document.documentElement.dataset.theme = theme;
    localStorage.setItem('fleet.theme', theme);
  }, [theme]);
  return [theme, () => setTheme((t) => (t === 'dark' ? 'light' : 'dark'))];
}

function Shell({ session }: { session: Session }) {
  const store = useMemo(() => new FleetStore(), []);
  // The browser tests and bench/dashboard_frames.py read the picture the page holds.
  (window as unknown as { __fleetStore: FleetStore }).__fleetStore = store;
  const [conn, setConn] = useState<ConnState | null>(null);
  const live = useMemo(() => new LiveClient({
    snapshot: (c, d) => store.applySnapshot(c, d),
    update: (c, k, d) => store.applyUpdate(c, k, d),
    state: (s) => { setConn(s); store.emit('conn'); },
  }, {
    ticket: async () => (await session.post<{ ticket: string }>('/auth/ws-ticket', undefined, { timeoutMs: 5_000 })).ticket,
    token: () => session.accessToken,
  }), [session, store]);
  const [map, setMap] = useState<MapApi | null>(null);
  const [site, setSite] = useState<string | null>(null);
  const [tab, setTab] = useState<TabId>('fleet');
  const [toasts, setToasts] = useState<Toast[]>([]);
  const [theme, toggleTheme] = useTheme();
  const nextToast = useRef(1);

  useEffect(() => {
    CHANNELS.forEach((c) => live.subscribe(c));
    live.start();
    const off = session.onToken(() => live.reauth());
    return () => { off(); live.stop(); };
  }, [live]);

  const ctx: AppCtx = {
    session, store, live, map, site, setSite, tab, setTab,
    openVehicle: (id) => {
      store.select(id);
      if (id) {
        setTab('fleet');
        const p = store.vehicles.get(id)?.position;
        if (p && map) map.flyTo([p.longitude, p.latitude]);
      }
    },
    toast: (kind, text) => {
      const id = nextToast.current++;
      setToasts((t) => [...t.slice(-4), { id, kind, text }]);
      setTimeout(() => setToasts((t) => t.filter((x) => x.id !== id)), kind === 'error' ? 8_000 : 4_000);
    },
  };

  useEffect(() => {
    const key = (e: KeyboardEvent) => {
      const t = e.target as HTMLElement | null;
      if (t && (t.tagName === 'INPUT' || t.tagName === 'TEXTAREA' || t.tagName === 'SELECT' || t.isContentEditable)) return;
      if (e.ctrlKey || e.metaKey || e.altKey) return;
      const def = TABS.find((d) => d.key === e.key && d.show(ctx));
      if (def) { setTab(def.id); e.preventDefault(); }
      if (e.key === 'Escape') store.select(null);
    };
    window.addEventListener('keydown', key);
    return () => window.removeEventListener('keydown', key);
  });

  const tabs = TABS.filter((d) => d.show(ctx));
  return (
    <Ctx.Provider value={ctx}>
      <div class="shell" data-role={session.can('admin') ? 'admin' : session.can('operate') ? 'operator' : 'viewer'}>
        <header class="topbar">
          <div class="brand"><span class="brand-mark">◆</span> Fleet</div>
          <SiteSelect />
          <FleetCounts />
          <div class="spacer" />
          <ConnBadge conn={conn} />
          <SoundToggle />
          <button type="button" class="icon" data-testid="theme-toggle" title={`switch to ${theme === 'dark' ? 'light' : 'dark'} theme`}
            aria-label="toggle theme" onClick={toggleTheme}>{theme === 'dark' ? '☀' : '☾'}</button>
          <span class="user" data-testid="user">{session.me.username} · {session.roleAt(site ?? undefined) ?? 'viewer'}</span>
          <button type="button" data-testid="logout" onClick={() => void session.logout()}>Log out</button>
        </header>
        <ConnBanner conn={conn} />
        <AlertBanner />
        <main class="workspace">
          <section class="map-area" aria-label="map"><MapView onReady={setMap} /></section>
          <aside class="side" aria-label="panels">
            <nav class="tabs" role="tablist">
              {tabs.map((d) => (
                <button type="button" role="tab" aria-selected={tab === d.id} data-testid={`tab-${d.id}`}
                  class={tab === d.id ? 'active' : ''} title={`${d.label} (${d.key})`} onClick={() => setTab(d.id)}>
                  {d.label}
                </button>
              ))}
            </nav>
            <div class="panel" role="tabpanel"><Panel tab={tab} /></div>
          </aside>
        </main>
        <div class="toasts" aria-live="polite">
          {toasts.map((t) => <div key={t.id} class={`toast toast-${t.kind}`}>{t.text}</div>)}
        </div>
      </div>
    </Ctx.Provider>
  );
}

function SiteSelect() {
  const { session, site, setSite } = useApp();
  const sites = session.me.sites;
  const [all, setAll] = useState<string[]>(sites ?? []);
  useEffect(() => {
    if (sites) return;
    session.get<{ items: { id: string }[] }>('/sites', { limit: 200 })
      .then((p) => setAll(p.items.map((s) => s.id)), () => undefined);
  }, []);
  return (
    <select class="site-select" aria-label="site" data-testid="site-select" value={site ?? ''}
      onChange={(e) => setSite(e.currentTarget.value || null)}>
      <option value="">{sites ? 'All my sites' : 'All sites'}</option>
      {all.map((s) => <option value={s}>{s}</option>)}
    </select>
  );
}

function FleetCounts() {
  const { store, site } = useApp();
  useSlices(store, ['vehicles'], 1000);
  const counts = new Map<string, number>();
  let stale = 0;
  for (const v of store.vehicles.values()) {
    if (site && v.site_id !== site) continue;
    counts.set(v.status, (counts.get(v.status) ?? 0) + 1);
    if (v.liveness !== 'fresh') stale++;
  }
  const total = [...counts.values()].reduce((a, b) => a + b, 0);
  return (
    <div class="counts" data-testid="fleet-counts">
      <span><b>{total}</b> vehicles</span>
      {['in_mission', 'returning', 'charging', 'idle'].map((s) => (
        <span class={`count count-${s}`}><i class="dot" />{counts.get(s) ?? 0} {humanize(s)}</span>
      ))}
      {stale > 0 && <span class="count count-stale">{stale} stale/lost</span>}
    </div>
  );
}

function ConnBadge({ conn }: { conn: ConnState | null }) {
  useTick(1000);
  const phase = conn?.phase ?? 'connecting';
  const label = phase === 'open' ? (conn?.mode === 'local' ? 'live (local)' : 'live') : phase;
  return (
    <span class={`conn conn-${phase}`} data-testid="conn" data-phase={phase}
      title={conn?.lastMessageAt ? `last message ${fmtAge(conn.lastMessageAt / 1000)}` : ''}>
      <i class="dot" />{label}
    </span>
  );
}

function ConnBanner({ conn }: { conn: ConnState | null }) {
  const { live } = useApp();
  useTick(1000);
  if (!conn || conn.phase === 'open' || conn.phase === 'connecting' || conn.phase === 'stopped') return null;
  const inS = conn.retryAt ? Math.max(0, Math.ceil((conn.retryAt - Date.now()) / 1000)) : 0;
  return (
    <div class="banner banner-warn" role="alert" data-testid="conn-banner">
      Connection to the fleet server lost ({conn.lastError ?? 'unknown'}). The map shows the last known
      picture. Reconnecting{inS ? ` in ${inS} s` : '…'} (attempt {conn.attempt}).
      <button type="button" onClick={() => live.retryNow()}>Retry now</button>
    </div>
  );
}

let audio: AudioContext | null = null;
function beep(): void {
  // A short two-tone alarm made in the page: no sound file, no request.
  audio ??= new AudioContext();
  const t = audio.currentTime;
  for (const [i, f] of [880, 660].entries()) {
    const o = audio.createOscillator();
    const g = audio.createGain();
    o.frequency.value = f;
    g.gain.setValueAtTime(0.15, t + i * 0.2);
    g.gain.exponentialRampToValueAtTime(0.001, t + i * 0.2 + 0.18);
    o.connect(g).connect(audio.destination);
    o.start(t + i * 0.2);
    o.stop(t + i * 0.2 + 0.2);
  }
}

function BellIcon({ off }: { off: boolean }) {
  // Drawn, not an emoji: control-room machines often lack an emoji font.
  return (
    <svg width="16" height="16" viewBox="0 0 24 24" aria-hidden="true" fill="none" stroke="currentColor" stroke-width="2">
      <path d="M6 16V11a6 6 0 0 1 12 0v5l2 2H4z" />
      <path d="M10 20a2 2 0 0 0 4 0" />
      {off && <path d="M3 3l18 18" />}
    </svg>
  );
}

function SoundToggle() {
  const { store } = useApp();
  const [on, setOn] = useState(() => localStorage.getItem('fleet.sound') === 'on');
  const heard = useRef(new Set<string>());
  useSlices(store, ['alerts']);
  useEffect(() => {
    for (const a of store.alerts) {
      const key = a.kind === 'coordination' ? a.event_id : a.mission_id;
      if (heard.current.has(key)) continue;
      heard.current.add(key);
      if (on) try { beep(); } catch { /* no audio device */ }
    }
  });
  return (
    <button type="button" class="icon" aria-pressed={on} aria-label="alarm sound" data-testid="sound-toggle"
      title={on ? 'alarm sound on' : 'alarm sound off'}
      onClick={() => { const v = !on; setOn(v); localStorage.setItem('fleet.sound', v ? 'on' : 'off'); }}>
      <BellIcon off={!on} />
    </button>
  );
}

function alertText(e: FleetEvent): string {
  if (e.kind !== 'coordination') return `${e.mission_id}: ${e.to_state}`;
  const data = Object.entries(e.data).slice(0, 2).map(([k, v]) => dataText(k, v)).join(', ');
  return `${humanize(e.type)} — ${e.vehicle_ids.join(', ')}${data ? ` (${data})` : ''}`;
}

function AlertBanner() {
  const { store, openVehicle } = useApp();
  useSlices(store, ['alerts']);
  if (!store.alerts.length) return null;
  const first = store.alerts[0];
  const vid = first.kind === 'coordination' ? first.vehicle_ids[0] : first.vehicle_id;
  return (
    <div class="banner banner-critical" role="alert" data-testid="alert-banner">
      <b>CRITICAL</b> {alertText(first)}
      {store.alerts.length > 1 && <span class="muted"> (+{store.alerts.length - 1} more)</span>}
      {vid && <button type="button" onClick={() => openVehicle(vid)}>Show {vid}</button>}
      <button type="button" onClick={() => store.acknowledge(first)}>Acknowledge</button>
    </div>
  );
}
