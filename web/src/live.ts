// The one WebSocket to web_bridge (protocol 1, see src/web_bridge/web_bridge/routes/ws.py):
// a ticket to connect, subscriptions replayed after every reconnect with `since` = the last
// sequence number seen, jittered exponential back-off, a heartbeat that notices a server
// that went silent without closing, and in-band re-authentication after a token refresh.

/** The channels whose updates the server keeps, so a reconnect can resume without a gap. */
export const LOGGED_PREFIXES = ['missions', 'mission/', 'events', 'zones', 'charging'];

export function isLogged(channel: string): boolean {
  return LOGGED_PREFIXES.some((p) => channel.startsWith(p));
}

export interface SocketLike {
  onopen: ((ev: unknown) => void) | null;
  onmessage: ((ev: { data: unknown }) => void) | null;
  onclose: ((ev: { code: number; reason: string }) => void) | null;
  onerror: ((ev: unknown) => void) | null;
  readonly readyState: number;
  send(data: string): void;
  close(code?: number, reason?: string): void;
}

export type Phase = 'connecting' | 'open' | 'reconnecting' | 'stopped';

export interface ConnState {
  phase: Phase;
  /** Failed attempts since the last good connection. */
  attempt: number;
  /** When the next attempt starts (ms since epoch), while reconnecting. */
  retryAt: number | null;
  lastError: string | null;
  /** 'shared' (Redis) or 'local' delivery, as the server says. */
  mode: string | null;
  /** Updates the server dropped for this client (it read too slowly). */
  dropped: number;
  /** When a message last arrived (ms since epoch). */
  lastMessageAt: number | null;
}

export interface LiveHandlers {
  snapshot(channel: string, data: unknown, seq: string | null): void;
  update(channel: string, kind: string, data: unknown, seq: string | null): void;
  state(s: ConnState): void;
}

export interface LiveOptions {
  /** A fresh single-use ticket (POST /auth/ws-ticket). */
  ticket: () => Promise<string>;
  /** The current access token, for in-band re-authentication. */
  token: () => string;
  url?: (ticket: string) => string;
  socket?: (url: string) => SocketLike;
  random?: () => number;
  now?: () => number;
  baseDelayMs?: number;
  maxDelayMs?: number;
  heartbeatMs?: number;
  /** No message for this long means the connection is dead. */
  silenceMs?: number;
}

/** Full-jitter back-off: uniform in [base/2, min(max, base·2^attempt)]. */
export function backoffDelay(attempt: number, base: number, max: number, random: () => number): number {
  const ceiling = Math.min(max, base * 2 ** Math.min(attempt, 16));
  const floor = Math.min(base / 2, ceiling);
  return floor + random() * (ceiling - floor);
}

/** Compare two stream sequence numbers ("<ms>-<n>"); numbers compare numerically. */
export function seqAfter(a: string, b: string): boolean {
  const [am, an] = a.split('-').map(Number);
  const [bm, bn] = b.split('-').map(Number);
  return am !== bm ? am > bm : (an ?? 0) > (bn ?? 0);
}

export class LiveClient {
  private ws: SocketLike | null = null;
  private channels = new Set<string>();
  private lastSeq = new Map<string, string>();
  private st: ConnState = { phase: 'stopped', attempt: 0, retryAt: null, lastError: null, mode: null, dropped: 0, lastMessageAt: null };
  private retryTimer: ReturnType<typeof setTimeout> | undefined;
  private beatTimer: ReturnType<typeof setInterval> | undefined;
  private generation = 0;
  private readonly o: Required<LiveOptions>;

  constructor(private readonly h: LiveHandlers, opts: LiveOptions) {
    this.o = {
      url: (t) => `${location.protocol === 'https:' ? 'wss' : 'ws'}://${location.host}/api/v1/ws?ticket=${encodeURIComponent(t)}`,
      socket: (u) => new WebSocket(u) as unknown as SocketLike,
      random: Math.random,
      now: Date.now,
      baseDelayMs: 500,
      maxDelayMs: 15_000,
      heartbeatMs: 10_000,
      silenceMs: 25_000,
      ...opts,
    };
  }

  get state(): ConnState { return this.st; }
  /** The last sequence number seen on a channel (resume point). */
  seqOf(channel: string): string | undefined { return this.lastSeq.get(channel); }

  start(): void {
    if (this.st.phase !== 'stopped') return;
    this.connect();
  }

  stop(): void {
    this.generation++;
    clearTimeout(this.retryTimer);
    clearInterval(this.beatTimer);
    const ws = this.ws;
    this.ws = null;
    ws?.close(1000, 'client stopped');
    this.set({ phase: 'stopped', retryAt: null });
  }

  subscribe(channel: string): void {
    if (this.channels.has(channel)) return;
    this.channels.add(channel);
    this.sendSubscribe(channel);
  }

  unsubscribe(channel: string): void {
    if (!this.channels.delete(channel)) return;
    this.lastSeq.delete(channel);
    this.send({ type: 'unsubscribe', channel });
  }

  /** Send the current access token (after a refresh) so the session outlives the old one. */
  reauth(): void {
    this.send({ type: 'auth', token: this.o.token() });
  }

  /** Reconnect now (the user pressed "retry", or the network came back). */
  retryNow(): void {
    if (this.st.phase !== 'reconnecting') return;
    clearTimeout(this.retryTimer);
    this.connect();
  }

  private set(patch: Partial<ConnState>): void {
    this.st = { ...this.st, ...patch };
    this.h.state(this.st);
  }

  private send(msg: unknown): void {
    if (this.ws && this.ws.readyState === 1) this.ws.send(JSON.stringify(msg));
  }

  private sendSubscribe(channel: string): void {
    const since = isLogged(channel) ? this.lastSeq.get(channel) : undefined;
    this.send(since ? { type: 'subscribe', channel, since } : { type: 'subscribe', channel });
  }

  private async connect(): Promise<void> {
    const gen = ++this.generation;
    this.set({ phase: this.st.attempt ? 'reconnecting' : 'connecting', retryAt: null });
    let ticket: string;
    try {
      ticket = await this.o.ticket();
    } catch (err) {
      if (gen === this.generation) this.fail(`no ticket: ${err instanceof Error ? err.message : String(err)}`);
      return;
    }
    if (gen !== this.generation) return;
    let ws: SocketLike;
    try {
      ws = this.o.socket(this.o.url(ticket));
    } catch (err) {
      this.fail(err instanceof Error ? err.message : String(err));
      return;
    }
    this.ws = ws;
    ws.onopen = () => {
      if (gen !== this.generation) return;
      for (const c of this.channels) this.sendSubscribe(c);
      this.set({ phase: 'open', attempt: 0, lastError: null, lastMessageAt: this.o.now() });
      clearInterval(this.beatTimer);
      this.beatTimer = setInterval(() => this.heartbeat(gen), this.o.heartbeatMs);
    };
    ws.onmessage = (ev) => {
      if (gen !== this.generation) return;
      this.st.lastMessageAt = this.o.now();
      this.onMessage(String(ev.data));
    };
    ws.onerror = () => { /* onclose follows and decides */ };
    ws.onclose = (ev) => {
      if (gen !== this.generation) return;
      this.ws = null;
      clearInterval(this.beatTimer);
      this.fail(ev.reason ? `closed ${ev.code}: ${ev.reason}` : `closed ${ev.code}`);
    };
  }

  private heartbeat(gen: number): void {
    if (gen !== this.generation || !this.ws) return;
    const silent = this.o.now() - (this.st.lastMessageAt ?? 0);
    if (silent > this.o.silenceMs) {
      // The server (or the path to it) is gone without a close: do not wait for TCP.
      const ws = this.ws;
      this.generation++;
      this.ws = null;
      clearInterval(this.beatTimer);
      try { ws.close(4000, 'silent'); } catch { /* already closed */ }
      this.fail(`no message for ${Math.round(silent / 1000)} s`);
      return;
    }
    this.send({ type: 'ping', id: String(this.o.now()) });
  }

  private fail(reason: string): void {
    const attempt = this.st.attempt + 1;
    const delay = backoffDelay(attempt - 1, this.o.baseDelayMs, this.o.maxDelayMs, this.o.random);
    this.set({ phase: 'reconnecting', attempt, lastError: reason, retryAt: this.o.now() + delay });
    clearTimeout(this.retryTimer);
    const gen = this.generation;
    this.retryTimer = setTimeout(() => { if (gen === this.generation) void this.connect(); }, delay);
  }

  private remember(channel: string, seq: unknown): void {
    if (typeof seq !== 'string' || !isLogged(channel)) return;
    const prev = this.lastSeq.get(channel);
    if (!prev || seqAfter(seq, prev)) this.lastSeq.set(channel, seq);
  }

  private onMessage(text: string): void {
    let m: Record<string, unknown>;
    try {
      m = JSON.parse(text) as Record<string, unknown>;
    } catch {
      return; // the server only sends JSON; ignore a corrupted frame rather than die
    }
    const channel = typeof m.channel === 'string' ? m.channel : '';
    switch (m.type) {
      case 'hello':
        this.set({ mode: typeof m.mode === 'string' ? m.mode : null });
        break;
      case 'snapshot':
        if (!this.channels.has(channel)) break;
        this.remember(channel, m.seq);
        this.h.snapshot(channel, m.data, typeof m.seq === 'string' ? m.seq : null);
        break;
      case 'update': {
        if (!this.channels.has(channel)) break;
        const seq = typeof m.seq === 'string' ? m.seq : null;
        // A replayed update already applied before the reconnect is skipped.
        const prev = this.lastSeq.get(channel);
        if (seq && prev && isLogged(channel) && m.kind !== 'vehicles' && !seqAfter(seq, prev)) break;
        this.remember(channel, seq);
        this.h.update(channel, String(m.kind), m.data, seq);
        break;
      }
      case 'status':
        if (typeof m.dropped_total === 'number') this.set({ dropped: m.dropped_total });
        if (typeof m.mode === 'string') this.set({ mode: m.mode });
        break;
      default:
        break; // resumed, pong, auth_ok, unsubscribed: nothing to do
    }
  }
}
