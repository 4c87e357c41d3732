// The audit log: who did what to which object, filtered, paged newest first, and as CSV.
import { useEffect, useState } from 'preact/hooks';
import { describeError } from '../api';
import { useApp } from '../ctx';
import { fmtTime } from '../format';
import { CommandButton, LoadState } from '../ui';
import { fromLocalInput, isoZ } from './history-replay';

interface AuditEntry {
  id: number; time: string; user_id: number | null; username: string | null; role: string | null;
  api_key_id: number | null; action: string; method: string | null; result: string | null;
  status_code: number | null; target_type: string | null; target_id: string | null;
  site_id: string | null; remote_addr: string | null; details: Record<string, unknown>;
}

interface Filters { user: string; action: string; target: string; result: string; from: string; to: string }
const EMPTY: Filters = { user: '', action: '', target: '', result: '', from: '', to: '' };
const PAGE = 100;

/** The query of GET /audit (and its CSV) for a filter form; an error names a bad bound. */
export function auditQuery(f: Filters): Record<string, string | undefined> | string {
  const t0 = fromLocalInput(f.from);
  const t1 = fromLocalInput(f.to);
  if (t0 !== null && t1 !== null && t1 <= t0) return 'the end of the time range is not after its start';
  return {
    user: f.user.trim() || undefined, action: f.action.trim() || undefined, target: f.target.trim() || undefined,
    result: f.result || undefined, t0: t0 === null ? undefined : isoZ(t0), t1: t1 === null ? undefined : isoZ(t1),
  };
}

export function AuditTab() {
  const { session } = useApp();
  const [form, setForm] = useState<Filters>(EMPTY);
  const [applied, setApplied] = useState<Filters>(EMPTY);
  const [rows, setRows] = useState<AuditEntry[]>([]);
  const [cursor, setCursor] = useState<string | null>(null);
  const [loading, setLoading] = useState(true);
  const [error, setError] = useState<string | null>(null);
  const [open, setOpen] = useState<number | null>(null);

  const page = async (f: Filters, after: string | null) => {
    const q = auditQuery(f);
    if (typeof q === 'string') { setError(q); setLoading(false); return; }
    setLoading(true);
    setError(null);
    try {
      const p = await session.get<{ items: AuditEntry[]; next_cursor: string | null }>('/audit', {
        ...q, limit: PAGE, cursor: after ?? undefined,
      });
      setRows((prev) => (after ? [...prev, ...p.items] : p.items));
      setCursor(p.next_cursor);
    } catch (err) {
      setError(describeError(err));
    } finally {
      setLoading(false);
    }
  };
  useEffect(() => { void page(applied, null); }, [applied]);

  const field = (k: keyof Filters) => ({
    value: form[k],
    onInput: (e: Event) => setForm({ ...form, [k]: (e.currentTarget as HTMLInputElement).value }),
  });
  const apply = (e: Event) => { e.preventDefault(); setApplied({ ...form }); };

  return (
    <div class="admin-section">
      <form class="admin-form" onSubmit={apply} aria-label="audit filters">
        <label>User (exact)<input {...field('user')} data-testid="admin-audit-user" /></label>
        <label>Action contains<input {...field('action')} data-testid="admin-audit-action" /></label>
        <label>Target id<input {...field('target')} data-testid="admin-audit-target" /></label>
        <label>Result<select value={form.result} data-testid="admin-audit-result"
          onChange={(e) => setForm({ ...form, result: e.currentTarget.value })}>
          <option value="">any</option><option value="allowed">allowed</option>
          <option value="refused">refused</option><option value="failed">failed</option>
        </select></label>
        <label>From<input type="datetime-local" {...field('from')} /></label>
        <label>To<input type="datetime-local" {...field('to')} /></label>
        <div class="h-full row">
          <button type="submit" class="primary" data-testid="admin-audit-apply">Apply filters</button>
          <button type="button" onClick={() => { setForm(EMPTY); setApplied(EMPTY); }}>Clear</button>
          <span class="spacer" />
          <CommandButton label="Export CSV" testid="admin-audit-csv" okText={() => 'downloaded'}
            run={() => {
              const q = auditQuery(applied);
              if (typeof q === 'string') return Promise.reject(new Error(q));
              return session.download('/audit/export.csv', q, 'audit_log.csv');
            }} />
        </div>
      </form>
      <LoadState loading={loading && !rows.length} error={error} empty={!loading && !error && !rows.length}
        emptyText="No audit entry matches these filters." />
      <div class="h-table-wrap">
        <table data-testid="admin-audit">
          <thead><tr><th>Time</th><th>User</th><th>Action</th><th>Result</th><th>Target</th><th>Site</th><th>From</th><th>Details</th></tr></thead>
          <tbody>
            {rows.map((r) => {
              const details = JSON.stringify(r.details);
              const expanded = open === r.id;
              return [
                <tr class="audit-row" key={r.id} tabIndex={0} aria-expanded={expanded}
                  onClick={() => setOpen(expanded ? null : r.id)}
                  onKeyDown={(e) => { if (e.key === 'Enter') setOpen(expanded ? null : r.id); }}>
                  <td title={r.time}>{fmtTime(Date.parse(r.time) / 1000)}</td>
                  <td>{r.username ?? (r.api_key_id ? `key #${r.api_key_id}` : '—')}{r.role && <span class="muted"> ({r.role})</span>}</td>
                  <td>{r.action}</td>
                  <td class={`h-result-${r.result ?? ''}`}>{r.result ?? '—'}{r.status_code ? ` ${r.status_code}` : ''}</td>
                  <td>{r.target_type ? `${r.target_type}${r.target_id ? `: ${r.target_id}` : ''}` : '—'}</td>
                  <td>{r.site_id ?? '—'}</td>
                  <td class="muted">{r.remote_addr ?? ''}</td>
                  <td class="audit-details" title={details}>{details === '{}' ? '' : details}</td>
                </tr>,
                expanded && (
                  <tr class="audit-expanded" key={`${r.id}-x`}>
                    <td colSpan={8}><pre>{JSON.stringify({ ...r, details: r.details }, null, 2)}</pre></td>
                  </tr>
                ),
              ];
            })}
          </tbody>
        </table>
      </div>
      <div class="row">
        {cursor && <button type="button" disabled={loading} onClick={() => void page(applied, cursor)}>Load more</button>}
        <span class="spacer" />
        <span class="muted">{rows.length} entr{rows.length === 1 ? 'y' : 'ies'}{cursor ? ' (more available)' : ''}</span>
      </div>
    </div>
  );
}
