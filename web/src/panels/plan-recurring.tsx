// Recurring missions: fly the plan above on a schedule, and stop a schedule. The bridge
// lists no schedules, so the page keeps the ones made here and recognises the others by
// the missions they spawned ("<template>@<time>").
import { useState } from 'preact/hooks';
import { describeError } from '../api';
import { useApp, useSlices } from '../ctx';
import { fmtTime } from '../format';
import { CommandButton } from '../ui';
import { buildSpec, recurringBody, type Drawn, type PlanForm } from './plan-model';

export interface KnownSchedule {
  template_id: string;
  recurrence?: string;
  next_at?: number;
  type?: string;
  site_id?: string | null;
}

interface RecurringOut { template_id: string; next_at: number; message: string; site_id: string | null }

const key = (user: string) => `fleet.recurring.${user}`;

export function loadSchedules(user: string): KnownSchedule[] {
  try {
    const v = JSON.parse(localStorage.getItem(key(user)) ?? '[]');
    return Array.isArray(v) ? v.filter((x) => x && typeof x.template_id === 'string') : [];
  } catch {
    return [];
  }
}

function saveSchedules(user: string, list: KnownSchedule[]): void {
  try { localStorage.setItem(key(user), JSON.stringify(list.slice(-50))); } catch { /* storage full or off */ }
}

/** Schedules made here, plus the templates of spawned missions the page sees. */
export function knownSchedules(saved: KnownSchedule[], missionIds: Iterable<string>): KnownSchedule[] {
  const out = new Map(saved.map((s) => [s.template_id, s]));
  for (const id of missionIds) {
    const at = id.indexOf('@');
    if (at > 0) {
      const t = id.slice(0, at).split('/')[0];
      if (!out.has(t)) out.set(t, { template_id: t });
    }
  }
  return [...out.values()];
}

export function PlanRecurring({ form, drawn }: { form: PlanForm; drawn: Drawn | null }) {
  const { session, store, toast } = useApp();
  useSlices(store, ['missions'], 2000);
  const user = session.me.username;
  const [saved, setSaved] = useState<KnownSchedule[]>(() => loadSchedules(user));
  const [recurrence, setRecurrence] = useState('every 60 minutes');
  const [other, setOther] = useState('');
  const [error, setError] = useState<string | null>(null);
  const [made, setMade] = useState<RecurringOut | null>(null);
  const [busy, setBusy] = useState(false);
  const schedules = knownSchedules(saved, store.missions.keys());

  const keep = (list: KnownSchedule[]) => { setSaved(list); saveSchedules(user, list); };

  const schedule = async () => {
    setError(null);
    setMade(null);
    const spec = buildSpec(form, drawn);
    if (!spec.ok) { setError(spec.error); return; }
    const body = recurringBody(spec.value, form, recurrence);
    if (!body.ok) { setError(body.error); return; }
    setBusy(true);
    try {
      const r = await session.post<RecurringOut>('/missions/recurring', body.value, { timeoutMs: 30_000 });
      setMade(r);
      keep([...saved.filter((s) => s.template_id !== r.template_id),
        { template_id: r.template_id, recurrence: recurrence.trim(), next_at: r.next_at, type: form.type, site_id: r.site_id }]);
      toast('ok', `Schedule ${r.template_id} created`);
    } catch (err) {
      setError(describeError(err));
    } finally {
      setBusy(false);
    }
  };

  const cancel = (id: string) => () =>
    session.del(`/missions/recurring/${encodeURIComponent(id)}`, { timeoutMs: 30_000 });
  const forget = (id: string) => keep(saved.filter((s) => s.template_id !== id));

  return (
    <details class="plan-section plan-recurring" data-testid="plan-recurring">
      <summary><h3>Recurring schedule</h3></summary>
      <p class="muted small">Fly the plan above again and again. Each occurrence is a mission
        named <code>&lt;schedule&gt;@&lt;time&gt;</code>.</p>
      <div class="row">
        <label class="grow">Recurrence
          <input value={recurrence} maxLength={100} data-testid="plan-recurrence"
            placeholder='"every 15 minutes" or cron (UTC), e.g. "0 6 * * 1-5"'
            onInput={(e) => setRecurrence(e.currentTarget.value)} />
        </label>
        <button type="button" data-testid="plan-schedule" disabled={busy} onClick={() => void schedule()}>
          {busy ? 'Scheduling…' : 'Schedule'}
        </button>
      </div>
      {error && <div class="error-line" role="alert" data-testid="plan-recurring-error">{error}</div>}
      {made && (
        <div class="plan-created" role="status" data-testid="plan-recurring-created">
          Schedule <b>{made.template_id}</b> created: first mission at {fmtTime(made.next_at)}.
        </div>
      )}
      {schedules.length > 0 && (
        <table class="mp-table compact">
          <thead><tr><th>Schedule</th><th>Recurrence</th><th>Next</th><th /></tr></thead>
          <tbody>
            {schedules.map((s) => (
              <tr data-testid="recurring-row" data-template={s.template_id}>
                <td>{s.template_id}{s.type && <div class="muted small">{s.type}{s.site_id ? ` · ${s.site_id}` : ''}</div>}</td>
                <td class="small">{s.recurrence ?? <span class="muted">seen from its missions</span>}</td>
                <td class="small">{s.next_at ? fmtTime(s.next_at) : '—'}</td>
                <td>
                  <CommandButton label="Cancel" danger testid="recurring-cancel" run={cancel(s.template_id)}
                    okText={(a) => (a as { message?: string })?.message || 'canceled'}
                    onDone={(r) => { if (r.ok) forget(s.template_id); }}
                    confirm={{ title: `Stop schedule ${s.template_id}?`,
                      body: 'No new missions are spawned; those already spawned are not touched.',
                      confirmLabel: 'Stop schedule' }} />
                  {saved.some((x) => x.template_id === s.template_id) && (
                    <button type="button" class="icon" title="forget (keep the schedule running)"
                      aria-label={`forget ${s.template_id}`} onClick={() => forget(s.template_id)}>✕</button>
                  )}
                </td>
              </tr>
            ))}
          </tbody>
        </table>
      )}
      <div class="row">
        <label class="grow">Stop another schedule by id
          <input value={other} placeholder="r-…" data-testid="plan-recurring-id"
            onInput={(e) => setOther(e.currentTarget.value.trim())} />
        </label>
        <CommandButton label="Stop" danger testid="plan-recurring-cancel" disabled={!other} run={cancel(other)}
          okText={(a) => (a as { message?: string })?.message || 'canceled'}
          onDone={(r) => { if (r.ok) { forget(other); setOther(''); } }}
          confirm={{ title: `Stop schedule ${other}?`, body: 'No new missions are spawned.', confirmLabel: 'Stop schedule' }} />
      </div>
    </details>
  );
}
