// What every panel receives: the session, the live picture, the map and the page's actions.
import { createContext } from 'preact';
import { useContext, useEffect, useReducer } from 'preact/hooks';
import type { Session } from './api';
import type { LiveClient } from './live';
import type { MapApi } from './map/api';
import type { FleetStore, Slice } from './store';

export type TabId =
  | 'fleet' | 'missions' | 'plan' | 'events' | 'charging' | 'airspace' | 'history' | 'reports' | 'admin';

export interface Toast { id: number; kind: 'ok' | 'error' | 'info'; text: string }

export interface AppCtx {
  session: Session;
  store: FleetStore;
  live: LiveClient;
  /** Null until the map has loaded. */
  map: MapApi | null;
  /** The site the operator is looking at (null: every site they may see). */
  site: string | null;
  setSite(site: string | null): void;
  tab: TabId;
  setTab(tab: TabId): void;
  /** Open a vehicle's detail (and centre the map on it). */
  openVehicle(id: string | null): void;
  toast(kind: Toast['kind'], text: string): void;
}

export const Ctx = createContext<AppCtx | null>(null);

export function useApp(): AppCtx {
  const c = useContext(Ctx);
  if (!c) throw new Error('useApp outside the app');
  return c;
}

/** Re-render when any of `slices` changes, at most once per `minIntervalMs`. */
export function useSlices(store: FleetStore, slices: Slice[], minIntervalMs = 0): number {
  const [n, bump] = useReducer((x: number) => x + 1, 0);
  useEffect(() => {
    let timer: ReturnType<typeof setTimeout> | undefined;
    let last = 0;
    const fire = () => {
      if (!minIntervalMs) return bump(0);
      if (timer) return;
      const wait = Math.max(0, last + minIntervalMs - Date.now());
      timer = setTimeout(() => { timer = undefined; last = Date.now(); bump(0); }, wait);
    };
    const offs = slices.map((s) => store.on(s, fire));
    return () => { offs.forEach((f) => f()); clearTimeout(timer); };
  }, [store, slices.join(','), minIntervalMs]);
  return n;
}

/** Re-render every `ms` (ages such as "8 s ago" move on their own). */
export function useTick(ms: number): number {
  const [n, bump] = useReducer((x: number) => x + 1, 0);
  useEffect(() => {
    const t = setInterval(() => bump(0), ms);
    return () => clearInterval(t);
  }, [ms]);
  return n;
}
