// HTTP to web_bridge: one place that adds the token, applies a deadline, refreshes once on
// 401 and turns every failure into an ApiError whose message a person can act on.
import type { Grant, Me, Role } from './types';

export const API = '/api/v1';
const DEFAULT_TIMEOUT_MS = 15_000;
const REFRESH_MARGIN_S = 60;

export class ApiError extends Error {
  constructor(readonly status: number, message: string, readonly body?: unknown) {
    super(message);
    this.name = 'ApiError';
  }
}

/** The message a failed request shows: the server's `detail`, or what went wrong on the way. */
export function describeError(err: unknown): string {
  if (err instanceof ApiError) return err.message;
  if (err instanceof DOMException && err.name === 'TimeoutError') return 'the server did not answer in time';
  if (err instanceof TypeError) return 'the server cannot be reached';
  return err instanceof Error ? err.message : String(err);
}

async function errorOf(res: Response): Promise<ApiError> {
  let body: unknown = undefined;
  let message = `${res.status} ${res.statusText}`;
  try {
    body = await res.json();
    const detail = (body as { detail?: unknown }).detail;
    if (typeof detail === 'string') message = detail;
    else if (Array.isArray(detail)) message = detail.map((d) => d?.msg ?? String(d)).join('; ');
  } catch {
    /* not JSON: keep the status line */
  }
  return new ApiError(res.status, message, body);
}

export interface RequestOptions {
  query?: Record<string, string | number | boolean | null | undefined | (string | number)[]>;
  json?: unknown;
  form?: Record<string, string>;
  timeoutMs?: number;
  /** Answer as text/blob instead of JSON. */
  as?: 'json' | 'text' | 'blob' | 'none';
  signal?: AbortSignal;
}

export function buildUrl(path: string, query?: RequestOptions['query']): string {
  const url = new URL(API + path, window.location.origin);
  for (const [k, v] of Object.entries(query ?? {})) {
    if (v === undefined || v === null || v === '') continue;
    if (Array.isArray(v)) v.forEach((x) => url.searchParams.append(k, String(x)));
    else url.searchParams.set(k, String(v));
  }
  return url.pathname + url.search;
}

interface TokenAnswer { access_token: string; expires_in: number }

type Listener = () => void;

/** A logged-in user: the access token (memory only; the refresh token is an httpOnly cookie). */
export class Session {
  private token: string;
  private refreshTimer: ReturnType<typeof setTimeout> | undefined;
  private refreshing: Promise<boolean> | undefined;
  private listeners = new Set<Listener>();
  private ended = false;

  private constructor(token: string, public me: Me) {
    this.token = token;
  }

  /** Log in with a username and password. */
  static async login(username: string, password: string): Promise<Session> {
    const res = await fetch(`${API}/auth/login`, {
      method: 'POST',
      credentials: 'same-origin',
      body: new URLSearchParams({ username, password }),
      signal: AbortSignal.timeout(DEFAULT_TIMEOUT_MS),
    });
    if (!res.ok) throw await errorOf(res);
    return Session.start(((await res.json()) as TokenAnswer).access_token);
  }

  /** Resume from the refresh cookie (a reload keeps the operator logged in), or null. */
  static async resume(): Promise<Session | null> {
    const token = await Session.refreshToken();
    return token ? Session.start(token) : null;
  }

  private static async refreshToken(): Promise<string | null> {
    const res = await fetch(`${API}/auth/refresh`, {
      method: 'POST', credentials: 'same-origin', signal: AbortSignal.timeout(DEFAULT_TIMEOUT_MS),
    });
    if (res.status === 401) return null;
    if (!res.ok) throw await errorOf(res);
    return ((await res.json()) as TokenAnswer).access_token;
  }

  private static async start(token: string): Promise<Session> {
    const res = await fetch(`${API}/auth/me`, {
      headers: { Authorization: `Bearer ${token}` }, signal: AbortSignal.timeout(DEFAULT_TIMEOUT_MS),
    });
    if (!res.ok) throw await errorOf(res);
    const s = new Session(token, (await res.json()) as Me);
    s.schedule();
    return s;
  }

  get accessToken(): string { return this.token; }
  get active(): boolean { return !this.ended; }

  /** Called when the session ends (logout, or the refresh was refused). */
  onEnd(fn: Listener): () => void {
    this.listeners.add(fn);
    return () => this.listeners.delete(fn);
  }
  private tokenListeners = new Set<Listener>();
  /** Called after each silent refresh (the WebSocket re-authenticates in band). */
  onToken(fn: Listener): () => void {
    this.tokenListeners.add(fn);
    return () => this.tokenListeners.delete(fn);
  }

  private schedule(): void {
    clearTimeout(this.refreshTimer);
    const inS = Math.max(5, this.me.expires_at - Date.now() / 1000 - REFRESH_MARGIN_S);
    this.refreshTimer = setTimeout(() => void this.refresh(), inS * 1000);
  }

  /** Rotate the tokens now; false if the server refused (the session has ended). */
  refresh(): Promise<boolean> {
    this.refreshing ??= (async () => {
      try {
        const token = await Session.refreshToken();
        if (!token) { this.end(); return false; }
        this.token = token;
        const res = await fetch(`${API}/auth/me`, { headers: { Authorization: `Bearer ${token}` } });
        if (res.ok) this.me = (await res.json()) as Me;
        this.schedule();
        this.tokenListeners.forEach((fn) => fn());
        return true;
      } catch {
        // The server is away: keep the token we have and try again soon.
        clearTimeout(this.refreshTimer);
        this.refreshTimer = setTimeout(() => void this.refresh(), 5_000);
        return true;
      } finally {
        this.refreshing = undefined;
      }
    })();
    return this.refreshing;
  }

  private end(): void {
    if (this.ended) return;
    this.ended = true;
    clearTimeout(this.refreshTimer);
    this.listeners.forEach((fn) => fn());
  }

  async logout(): Promise<void> {
    try {
      await this.request('POST', '/auth/logout', { as: 'none', timeoutMs: 5_000 });
    } finally {
      this.end();
    }
  }

  /** One request; a 401 triggers one refresh and one retry. */
  async request<T = unknown>(method: string, path: string, opts: RequestOptions = {}): Promise<T> {
    const send = (): Promise<Response> => {
      const headers: Record<string, string> = { Authorization: `Bearer ${this.token}` };
      let body: BodyInit | undefined;
      if (opts.json !== undefined) { headers['Content-Type'] = 'application/json'; body = JSON.stringify(opts.json); }
      if (opts.form) body = new URLSearchParams(opts.form);
      const timeout = AbortSignal.timeout(opts.timeoutMs ?? DEFAULT_TIMEOUT_MS);
      return fetch(buildUrl(path, opts.query), {
        method, headers, body, credentials: 'same-origin',
        signal: opts.signal ? AbortSignal.any([opts.signal, timeout]) : timeout,
      });
    };
    let res = await send();
    if (res.status === 401 && !this.ended) {
      if (await this.refresh()) res = await send();
    }
    if (!res.ok) throw await errorOf(res);
    switch (opts.as ?? 'json') {
      case 'none': return undefined as T;
      case 'text': return (await res.text()) as T;
      case 'blob': return (await res.blob()) as T;
      default: return (res.status === 204 ? undefined : await res.json()) as T;
    }
  }

  get<T = unknown>(path: string, query?: RequestOptions['query'], opts: RequestOptions = {}): Promise<T> {
    return this.request<T>('GET', path, { ...opts, query });
  }
  post<T = unknown>(path: string, json?: unknown, opts: RequestOptions = {}): Promise<T> {
    return this.request<T>('POST', path, { ...opts, json });
  }
  put<T = unknown>(path: string, json?: unknown, opts: RequestOptions = {}): Promise<T> {
    return this.request<T>('PUT', path, { ...opts, json });
  }
  patch<T = unknown>(path: string, json?: unknown, opts: RequestOptions = {}): Promise<T> {
    return this.request<T>('PATCH', path, { ...opts, json });
  }
  del<T = unknown>(path: string, opts: RequestOptions = {}): Promise<T> {
    return this.request<T>('DELETE', path, opts);
  }

  /** Download an authenticated file (CSV, PDF, MCAP) under its server-given name. */
  async download(path: string, query: RequestOptions['query'], fallbackName: string): Promise<void> {
    const blob = await this.request<Blob>('GET', path, { query, as: 'blob', timeoutMs: 120_000 });
    const a = document.createElement('a');
    a.href = URL.createObjectURL(blob);
    a.download = fallbackName;
    document.body.append(a);
    a.click();
    a.remove();
    setTimeout(() => URL.revokeObjectURL(a.href), 10_000);
  }

  /** The user's role at a site (the strongest grant that covers it), or null. */
  roleAt(site: string | null | undefined): Role | null {
    return roleAt(this.me.grants, site);
  }
  can(action: 'operate' | 'admin', site?: string | null): boolean {
    return can(this.me.grants, action, site);
  }
}

const RANK: Record<Role, number> = { viewer: 1, operator: 2, admin: 3 };

/**
 * The strongest role the grants give at `site`, as the bridge decides: `null` is a thing
 * with no site, which only a grant at every site covers; `undefined` asks "at any site".
 */
export function roleAt(grants: Grant[], site: string | null | undefined): Role | null {
  let best: Role | null = null;
  for (const g of grants) {
    if (site !== undefined && g.site_id !== null && g.site_id !== site) continue;
    if (!best || RANK[g.role] > RANK[best]) best = g.role;
  }
  return best;
}

/** May these grants operate (or administer) at `site` (see roleAt for null and undefined). */
export function can(grants: Grant[], action: 'operate' | 'admin', site?: string | null): boolean {
  const role = roleAt(grants, site);
  if (!role) return false;
  return action === 'operate' ? RANK[role] >= RANK.operator : role === 'admin';
}
