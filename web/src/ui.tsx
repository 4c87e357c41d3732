// Small shared pieces: buttons that run a command and show its answer, a confirmation
// dialog, the battery bar and status pill. Panels compose these; nothing here knows a route.
import type { ComponentChildren } from 'preact';
import { useEffect, useRef, useState } from 'preact/hooks';
import { describeError } from './api';
import { batteryLevel, fmtPct, humanize, statusColor } from './format';

export function BatteryBar({ pct }: { pct: number | null | undefined }) {
  const level = batteryLevel(pct);
  const w = pct == null || !Number.isFinite(pct) ? 0 : Math.max(0, Math.min(100, pct));
  return (
    <span class={`battery battery-${level}`} title={`battery ${fmtPct(pct)}`} aria-label={`battery ${fmtPct(pct)}`}>
      <span class="battery-track"><span class="battery-fill" style={{ width: `${w}%` }} /></span>
      <span class="battery-text">{fmtPct(pct)}</span>
    </span>
  );
}

export function StatusPill({ status, stale }: { status: string; stale?: boolean }) {
  return (
    <span class={`pill${stale ? ' pill-stale' : ''}`} style={{ '--c': statusColor(status) } as Record<string, string>}>
      {humanize(status)}
    </span>
  );
}

export function ProgressBar({ pct, label }: { pct: number | null | undefined; label?: string }) {
  const w = pct == null || !Number.isFinite(pct) ? 0 : Math.max(0, Math.min(100, pct));
  return (
    <span class="progress" role="progressbar" aria-valuenow={Math.round(w)} aria-valuemin={0} aria-valuemax={100} title={label}>
      <span class="progress-fill" style={{ width: `${w}%` }} />
      <span class="progress-text">{label ?? `${Math.round(w)}%`}</span>
    </span>
  );
}

/** A modal question; resolves true on confirm. Escape and the backdrop cancel. */
export function Confirm(props: {
  title: string; body: ComponentChildren; confirmLabel: string; danger?: boolean;
  onAnswer(ok: boolean): void;
}) {
  const ok = useRef<HTMLButtonElement>(null);
  useEffect(() => {
    ok.current?.focus();
    const key = (e: KeyboardEvent) => { if (e.key === 'Escape') props.onAnswer(false); };
    window.addEventListener('keydown', key);
    return () => window.removeEventListener('keydown', key);
  }, []);
  return (
    <div class="modal-backdrop" onClick={() => props.onAnswer(false)}>
      <div class="modal" role="dialog" aria-modal="true" aria-label={props.title} onClick={(e) => e.stopPropagation()}>
        <h3>{props.title}</h3>
        <div class="modal-body">{props.body}</div>
        <div class="modal-actions">
          <button type="button" onClick={() => props.onAnswer(false)}>Cancel</button>
          <button type="button" ref={ok} class={props.danger ? 'danger' : 'primary'} data-testid="confirm-ok"
            onClick={() => props.onAnswer(true)}>{props.confirmLabel}</button>
        </div>
      </div>
    </div>
  );
}

export interface CommandResult { ok: boolean; text: string }

/**
 * A button that runs a command against the bridge and shows what came back: the
 * acknowledgement, or the error (504 "no sign of it", 409 the planner's reason...).
 * `confirm` asks first (destructive commands).
 */
export function CommandButton(props: {
  label: string;
  run: () => Promise<unknown>;
  okText?: (answer: unknown) => string;
  confirm?: { title: string; body: ComponentChildren; confirmLabel?: string };
  danger?: boolean;
  disabled?: boolean;
  testid?: string;
  class?: string;
  onDone?: (r: CommandResult) => void;
}) {
  const [busy, setBusy] = useState(false);
  const [asking, setAsking] = useState(false);
  const [result, setResult] = useState<CommandResult | null>(null);
  const go = async () => {
    setBusy(true);
    setResult(null);
    let r: CommandResult;
    try {
      const answer = await props.run();
      r = { ok: true, text: props.okText ? props.okText(answer) : 'done' };
    } catch (err) {
      r = { ok: false, text: describeError(err) };
    }
    setBusy(false);
    setResult(r);
    props.onDone?.(r);
  };
  return (
    <span class="command">
      <button type="button" class={`${props.danger ? 'danger' : ''} ${props.class ?? ''}`} data-testid={props.testid}
        disabled={busy || props.disabled} aria-busy={busy}
        onClick={() => (props.confirm ? setAsking(true) : void go())}>
        {busy ? `${props.label}…` : props.label}
      </button>
      {result && (
        <span class={`command-result ${result.ok ? 'ok' : 'error'}`} role="status" data-testid={props.testid ? `${props.testid}-result` : undefined}>
          {result.text}
        </span>
      )}
      {asking && props.confirm && (
        <Confirm title={props.confirm.title} body={props.confirm.body} danger={props.danger}
          confirmLabel={props.confirm.confirmLabel ?? props.label}
          onAnswer={(yes) => { setAsking(false); if (yes) void go(); }} />
      )}
    </span>
  );
}

/** A "loading / error / empty" line for panels that fetch. */
export function LoadState(props: { loading?: boolean; error?: string | null; empty?: boolean; emptyText?: string }) {
  if (props.loading) return <div class="muted">Loading…</div>;
  if (props.error) return <div class="error-line" role="alert">{props.error}</div>;
  if (props.empty) return <div class="muted">{props.emptyText ?? 'Nothing to show.'}</div>;
  return null;
}

/** Fetch once per `deps` change; returns [data, error, loading, reload]. */
export function useFetch<T>(load: (signal: AbortSignal) => Promise<T>, deps: unknown[], everyMs = 0):
  [T | null, string | null, boolean, () => void] {
  const [data, setData] = useState<T | null>(null);
  const [error, setError] = useState<string | null>(null);
  const [loading, setLoading] = useState(true);
  const [n, setN] = useState(0);
  useEffect(() => {
    const ac = new AbortController();
    let timer: ReturnType<typeof setTimeout> | undefined;
    const run = async () => {
      try {
        const d = await load(ac.signal);
        if (!ac.signal.aborted) { setData(d); setError(null); }
      } catch (err) {
        if (!ac.signal.aborted) setError(describeError(err));
      } finally {
        if (!ac.signal.aborted) {
          setLoading(false);
          if (everyMs) timer = setTimeout(run, everyMs);
        }
      }
    };
    setLoading(true);
    void run();
    return () => { ac.abort(); clearTimeout(timer); };
  }, [...deps, n]);
  return [data, error, loading, () => setN((x) => x + 1)];
}
