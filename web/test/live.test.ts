import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import { LiveClient, backoffDelay, isLogged, seqAfter, type ConnState, type SocketLike } from '../src/live';

class FakeSocket implements SocketLike {
  onopen: ((ev: unknown) => void) | null = null;
  onmessage: ((ev: { data: unknown }) => void) | null = null;
  onclose: ((ev: { code: number; reason: string }) => void) | null = null;
  onerror: ((ev: unknown) => void) | null = null;
  readyState = 0;
  sent: Record<string, unknown>[] = [];
  constructor(readonly url: string) {}
  send(data: string) { this.sent.push(JSON.parse(data)); }
  close() { this.readyState = 3; }
  open() { this.readyState = 1; this.onopen?.({}); }
  receive(m: unknown) { this.onmessage?.({ data: JSON.stringify(m) }); }
  drop(code = 1006, reason = '') { this.readyState = 3; this.onclose?.({ code, reason }); }
}

function client() {
  const sockets: FakeSocket[] = [];
  const got: { snapshots: [string, unknown][]; updates: [string, string, unknown][]; states: ConnState[] } =
    { snapshots: [], updates: [], states: [] };
  const live = new LiveClient({
    snapshot: (c, d) => got.snapshots.push([c, d]),
    update: (c, k, d) => got.updates.push([c, k, d]),
    state: (s) => got.states.push(s),
  }, {
    ticket: async () => 't1',
    token: () => 'fresh-token',
    url: (t) => `ws://test/ws?ticket=${t}`,
    socket: (u) => { const s = new FakeSocket(u); sockets.push(s); return s; },
    random: () => 0.5,
    now: () => Date.now(),
  });
  return { live, sockets, got };
}

async function flush() { for (let i = 0; i < 5; i++) await Promise.resolve(); }

describe('the live client', () => {
  beforeEach(() => vi.useFakeTimers());
  afterEach(() => vi.useRealTimers());

  it('subscribes to every channel once the socket opens', async () => {
    const { live, sockets } = client();
    live.subscribe('fleet');
    live.subscribe('events');
    live.start();
    await flush();
    sockets[0].open();
    expect(sockets[0].url).toBe('ws://test/ws?ticket=t1');
    expect(sockets[0].sent).toEqual([{ type: 'subscribe', channel: 'fleet' }, { type: 'subscribe', channel: 'events' }]);
    expect(live.state.phase).toBe('open');
  });

  it('resumes logged channels from the last sequence number after a reconnect', async () => {
    const { live, sockets, got } = client();
    live.subscribe('fleet');
    live.subscribe('missions');
    live.start();
    await flush();
    sockets[0].open();
    sockets[0].receive({ type: 'snapshot', channel: 'missions', seq: '100-0', data: [] });
    sockets[0].receive({ type: 'update', channel: 'missions', kind: 'mission', seq: '105-1', data: { mission_id: 'm' } });
    sockets[0].drop(1006);
    expect(live.state.phase).toBe('reconnecting');
    expect(live.state.attempt).toBe(1);
    await vi.advanceTimersByTimeAsync(1000);
    sockets[1].open();
    expect(sockets[1].sent).toContainEqual({ type: 'subscribe', channel: 'missions', since: '105-1' });
    expect(sockets[1].sent).toContainEqual({ type: 'subscribe', channel: 'fleet' });
    expect(got.updates).toHaveLength(1);
  });

  it('skips a replayed update it has already applied', async () => {
    const { live, sockets, got } = client();
    live.subscribe('events');
    live.start();
    await flush();
    sockets[0].open();
    sockets[0].receive({ type: 'update', channel: 'events', kind: 'event', seq: '200-0', data: 1 });
    sockets[0].receive({ type: 'update', channel: 'events', kind: 'event', seq: '200-0', data: 1 });
    sockets[0].receive({ type: 'update', channel: 'events', kind: 'event', seq: '199-5', data: 0 });
    sockets[0].receive({ type: 'update', channel: 'events', kind: 'event', seq: '201-0', data: 2 });
    expect(got.updates.map((u) => u[2])).toEqual([1, 2]);
  });

  it('backs off with growing jittered delays and resets after a good connection', async () => {
    const { live, sockets } = client();
    live.start();
    await flush();
    sockets[0].drop();
    const first = live.state.retryAt! - Date.now();
    await vi.advanceTimersByTimeAsync(first + 1);
    sockets[1].drop();
    const second = live.state.retryAt! - Date.now();
    expect(second).toBeGreaterThan(first);
    await vi.advanceTimersByTimeAsync(second + 1);
    sockets[2].open();
    expect(live.state.attempt).toBe(0);
  });

  it('reconnects when the server goes silent without closing', async () => {
    const { live, sockets } = client();
    live.start();
    await flush();
    sockets[0].open();
    await vi.advanceTimersByTimeAsync(31_000);
    expect(live.state.phase).toBe('reconnecting');
    expect(live.state.lastError).toMatch(/no message for/);
    await vi.advanceTimersByTimeAsync(2_000);
    expect(sockets.length).toBe(2);
  });

  it('pings while connected and re-authenticates in band', async () => {
    const { live, sockets } = client();
    live.start();
    await flush();
    sockets[0].open();
    await vi.advanceTimersByTimeAsync(10_001);
    expect(sockets[0].sent.some((m) => m.type === 'ping')).toBe(true);
    live.reauth();
    expect(sockets[0].sent).toContainEqual({ type: 'auth', token: 'fresh-token' });
  });

  it('ignores a corrupted frame and keeps going', async () => {
    const { live, sockets, got } = client();
    live.subscribe('fleet');
    live.start();
    await flush();
    sockets[0].open();
    sockets[0].onmessage?.({ data: '{not json' });
    sockets[0].receive({ type: 'snapshot', channel: 'fleet', seq: '1-0', data: [] });
    expect(got.snapshots).toHaveLength(1);
  });

  it('stops for good when stopped', async () => {
    const { live, sockets } = client();
    live.start();
    await flush();
    sockets[0].open();
    live.stop();
    await vi.advanceTimersByTimeAsync(60_000);
    expect(sockets).toHaveLength(1);
    expect(live.state.phase).toBe('stopped');
  });
});

describe('sequence numbers and back-off', () => {
  it('compares stream ids numerically', () => {
    expect(seqAfter('1700000000010-0', '1700000000009-5')).toBe(true);
    expect(seqAfter('100-2', '100-10')).toBe(false);
    expect(seqAfter('100-10', '100-2')).toBe(true);
  });
  it('knows which channels can be resumed', () => {
    expect(isLogged('missions')).toBe(true);
    expect(isLogged('mission/abc')).toBe(true);
    expect(isLogged('fleet')).toBe(false);
    expect(isLogged('vehicle/uav0')).toBe(false);
  });
  it('keeps every delay between half the base and the cap', () => {
    for (let attempt = 0; attempt < 30; attempt++) {
      for (const r of [0, 0.5, 0.999]) {
        const d = backoffDelay(attempt, 500, 15_000, () => r);
        expect(d).toBeGreaterThanOrEqual(250);
        expect(d).toBeLessThanOrEqual(15_000);
      }
    }
  });
});
