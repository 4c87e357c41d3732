// Vehicles' API keys: list (paged, newest first), create (the secret is shown this once),
// revoke.
import { useEffect, useMemo, useState } from 'preact/hooks';
import { describeError } from '../api';
import { useApp } from '../ctx';
import { fmtTime } from '../format';
import { CommandButton, LoadState } from '../ui';
import { fromLocalInput, isoZ } from './history-replay';

export interface KeyOut {
  prefix: string; name: string; vehicle_id: string | null; site_id: string | null; created_by: number;
  created_at: string; expires_at: string | null; last_used_at: string | null; revoked_at: string | null;
}
interface KeyCreated extends KeyOut { key: string }

const VEHICLE_ID = /^[A-Za-z][A-Za-z0-9_]{0,63}$/;
const t = (iso: string | null) => (iso ? fmtTime(Date.parse(iso) / 1000) : '—');

function keyState(k: KeyOut): 'revoked' | 'expired' | 'active' {
  if (k.revoked_at) return 'revoked';
  if (k.expires_at && Date.parse(k.expires_at) <= Date.now()) return 'expired';
  return 'active';
}

function Secret({ created, onDone }: { created: KeyCreated; onDone(): void }) {
  const [copied, setCopied] = useState<string | null>(null);
  const copy = async () => {
    try {
      await navigator.clipboard.writeText(created.key);
      setCopied('copied to the clipboard');
    } catch {
      setCopied('the clipboard is not available: select the key and copy it');
    }
  };
  return (
    <div class="h-secret" role="alert">
      <b>API key {created.prefix} for {created.vehicle_id} at {created.site_id}</b>
      <span>Copy this key now and store it on the vehicle. <b>It will not be shown again</b>: the server keeps only its hash.</span>
      <code data-testid="admin-key-secret">{created.key}</code>
      <div class="row">
        <button type="button" class="primary" onClick={() => void copy()} data-testid="admin-key-copy">Copy</button>
        <button type="button" onClick={onDone}>I have stored it</button>
        {copied && <span class="muted" role="status">{copied}</span>}
      </div>
    </div>
  );
}

export function KeysTab({ sites }: { sites: string[] }) {
  const { session, store } = useApp();
  const adminSites = useMemo(() => sites.filter((s) => session.can('admin', s)), [sites]);
  const [filter, setFilter] = useState('');
  const [keys, setKeys] = useState<KeyOut[]>([]);
  const [cursor, setCursor] = useState<string | null>(null);
  const [loading, setLoading] = useState(true);
  const [error, setError] = useState<string | null>(null);
  const [created, setCreated] = useState<KeyCreated | null>(null);

  const page = async (after: string | null) => {
    setLoading(true);
    setError(null);
    try {
      const p = await session.get<{ items: KeyOut[]; next_cursor: string | null }>('/keys', {
        site: filter || undefined, limit: 100, cursor: after ?? undefined,
      });
      setKeys((prev) => (after ? [...prev, ...p.items] : p.items));
      setCursor(p.next_cursor);
    } catch (err) {
      setError(describeError(err));
    } finally {
      setLoading(false);
    }
  };
  useEffect(() => { void page(null); }, [filter]);

  // The form
  const [vehicle, setVehicle] = useState('');
  const [site, setSite] = useState('');
  const [name, setName] = useState('');
  const [expires, setExpires] = useState('');
  const [busy, setBusy] = useState(false);
  const [formError, setFormError] = useState<string | null>(null);
  const vehicles = [...store.vehicles.values()].sort((a, b) => a.vehicle_id.localeCompare(b.vehicle_id, undefined, { numeric: true }));
  useEffect(() => { if (!site && adminSites.length) setSite(adminSites[0]); }, [adminSites.join(',')]);

  const pickVehicle = (v: string) => {
    setVehicle(v);
    const known = store.vehicles.get(v)?.site_id;
    if (known && adminSites.includes(known)) setSite(known);
  };

  const create = async (e: Event) => {
    e.preventDefault();
    if (!VEHICLE_ID.test(vehicle)) return setFormError('vehicle: a vehicle id (a letter, then letters, digits or _)');
    if (!site) return setFormError('choose the site the key belongs to');
    if (!name.trim()) return setFormError('name: say what the key is for');
    const exp = fromLocalInput(expires);
    if (expires && (exp === null || exp <= Date.now() / 1000)) return setFormError('the expiry must be in the future');
    setBusy(true);
    setFormError(null);
    try {
      const k = await session.post<KeyCreated>('/keys', {
        vehicle_id: vehicle, site_id: site, name: name.trim(), expires_at: exp === null ? null : isoZ(exp),
      });
      setCreated(k);
      const { key: _secret, ...listed } = k;
      setKeys((prev) => [listed, ...prev]);
      setName('');
      setExpires('');
    } catch (err) {
      setFormError(describeError(err));
    } finally {
      setBusy(false);
    }
  };

  return (
    <div class="admin-section">
      {created && <Secret created={created} onDone={() => setCreated(null)} />}
      <form class="admin-form" onSubmit={create} aria-label="new API key">
        <h3>New API key</h3>
        <label>Vehicle<input list="admin-key-vehicles" value={vehicle} required data-testid="admin-key-vehicle"
          onInput={(e) => pickVehicle(e.currentTarget.value)} placeholder="vehicle id" /></label>
        <datalist id="admin-key-vehicles">{vehicles.map((v) => <option value={v.vehicle_id}>{v.site_id ?? ''}</option>)}</datalist>
        <label>Site<select value={site} required data-testid="admin-key-site" onChange={(e) => setSite(e.currentTarget.value)}>
          {!adminSites.length && <option value="">no site where you are admin</option>}
          {adminSites.map((s) => <option value={s}>{s}</option>)}
        </select></label>
        <label>Name<input value={name} required maxLength={200} placeholder="e.g. LTE modem uav-7"
          data-testid="admin-key-name" onInput={(e) => setName(e.currentTarget.value)} /></label>
        <label>Expires (optional)<input type="datetime-local" value={expires} onInput={(e) => setExpires(e.currentTarget.value)} /></label>
        {formError && <div class="error-line h-full" role="alert" data-testid="admin-key-error">{formError}</div>}
        <div class="h-full row">
          <button type="submit" class="primary" disabled={busy} data-testid="admin-key-create">{busy ? 'Creating…' : 'Create key'}</button>
        </div>
      </form>
      <div class="row">
        <label class="row" style={{ flexDirection: 'row' }}>Site
          <select value={filter} onChange={(e) => setFilter(e.currentTarget.value)}>
            <option value="">all my sites</option>
            {adminSites.map((s) => <option value={s}>{s}</option>)}
          </select></label>
        <span class="spacer" />
        <span class="muted">{keys.length} key{keys.length === 1 ? '' : 's'}</span>
      </div>
      <LoadState loading={loading && !keys.length} error={error} empty={!loading && !error && !keys.length} emptyText="No API key yet." />
      <div class="h-table-wrap">
        <table data-testid="admin-keys">
          <thead><tr><th>Key</th><th>Vehicle @ site</th><th>Created</th><th>Last used</th><th>State</th><th /></tr></thead>
          <tbody>
            {keys.map((k) => {
              const st = keyState(k);
              return (
                <tr class={st === 'active' ? '' : 'h-inactive'} data-prefix={k.prefix}>
                  <td><code>{k.prefix}</code><div class="muted h-key-name" title={k.name}>{k.name}</div></td>
                  <td>{k.vehicle_id ?? '—'} <span class="muted">@ {k.site_id ?? '—'}</span></td>
                  <td>{t(k.created_at)}<div class="muted">{k.expires_at ? `expires ${t(k.expires_at)}` : 'no expiry'}</div></td>
                  <td>{t(k.last_used_at)}</td>
                  <td class={st === 'active' ? 'h-result-allowed' : st === 'expired' ? 'h-result-refused' : 'h-result-failed'}>{st}</td>
                  <td>{!k.revoked_at && (
                    <CommandButton label="Revoke" danger testid="admin-key-revoke"
                      confirm={{ title: `Revoke API key ${k.prefix}?`, confirmLabel: 'Revoke key',
                        body: <>The vehicle {k.vehicle_id} can no longer send with this key, on every bridge instance, at once. This cannot be undone.</> }}
                      run={async () => {
                        const r = await session.del<KeyOut>(`/keys/${k.prefix}`);
                        setKeys((prev) => prev.map((x) => (x.prefix === r.prefix ? r : x)));
                        return r;
                      }}
                      okText={() => 'revoked'} />
                  )}</td>
                </tr>
              );
            })}
          </tbody>
        </table>
      </div>
      {cursor && <div><button type="button" disabled={loading} onClick={() => void page(cursor)}>Load more</button></div>}
    </div>
  );
}
