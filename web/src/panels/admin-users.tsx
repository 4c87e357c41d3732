// Users and their grants (a role per site, or at every site): list, create, edit, disable.
import { useState } from 'preact/hooks';
import { describeError } from '../api';
import { useApp } from '../ctx';
import type { Grant, Role } from '../types';
import { CommandButton, LoadState, useFetch } from '../ui';

export interface UserOut { id: number; username: string; display_name: string | null; is_active: boolean; grants: Grant[] }

const ROLES: Role[] = ['viewer', 'operator', 'admin'];
const USERNAME = /^[A-Za-z0-9_.@-]{1,64}$/;

export function GrantTags({ grants }: { grants: Grant[] }) {
  if (!grants.length) return <span class="muted">no access</span>;
  return <>{grants.map((g) => <span class={`h-grant h-grant-${g.role}`}>{g.role} @ {g.site_id ?? 'all sites'}</span>)}</>;
}

/** Rows of role + site; an empty site is every site. */
export function GrantsEditor(props: { value: Grant[]; sites: string[]; onChange(g: Grant[]): void; idPrefix: string }) {
  const set = (i: number, g: Partial<Grant>) => props.onChange(props.value.map((x, j) => (j === i ? { ...x, ...g } : x)));
  return (
    <div class="h-grants" role="group" aria-label="grants">
      {props.value.map((g, i) => (
        <div class="h-grant-row">
          <select aria-label={`grant ${i + 1} role`} value={g.role} data-testid={`${props.idPrefix}-role-${i}`}
            onChange={(e) => set(i, { role: e.currentTarget.value as Role })}>
            {ROLES.map((r) => <option value={r}>{r}</option>)}
          </select>
          <span class="muted">at</span>
          <select aria-label={`grant ${i + 1} site`} value={g.site_id ?? ''} data-testid={`${props.idPrefix}-site-${i}`}
            onChange={(e) => set(i, { site_id: e.currentTarget.value || null })}>
            <option value="">all sites</option>
            {g.site_id && !props.sites.includes(g.site_id) && <option value={g.site_id}>{g.site_id}</option>}
            {props.sites.map((s) => <option value={s}>{s}</option>)}
          </select>
          <button type="button" class="icon" aria-label={`remove grant ${i + 1}`} title="remove this grant"
            onClick={() => props.onChange(props.value.filter((_, j) => j !== i))}>✕</button>
        </div>
      ))}
      <div><button type="button" onClick={() => props.onChange([...props.value, { role: 'viewer', site_id: props.sites[0] ?? null }])}>
        + Add grant</button></div>
    </div>
  );
}

function CreateUser({ sites, onCreated }: { sites: string[]; onCreated(u: UserOut): void }) {
  const { session, toast } = useApp();
  const [username, setUsername] = useState('');
  const [display, setDisplay] = useState('');
  const [password, setPassword] = useState('');
  const [grants, setGrants] = useState<Grant[]>([{ role: 'viewer', site_id: null }]);
  const [busy, setBusy] = useState(false);
  const [error, setError] = useState<string | null>(null);
  const submit = async (e: Event) => {
    e.preventDefault();
    if (!USERNAME.test(username)) return setError('username: 1–64 letters, digits or _ . @ -');
    if (password.length < 10) return setError('password must be at least 10 characters');
    setBusy(true);
    setError(null);
    try {
      const u = await session.post<UserOut>('/users', {
        username, password, display_name: display.trim() || null, grants,
      });
      toast('ok', `user ${u.username} created`);
      setUsername(''); setDisplay(''); setPassword(''); setGrants([{ role: 'viewer', site_id: null }]);
      onCreated(u);
    } catch (err) {
      setError(describeError(err));
    } finally {
      setBusy(false);
    }
  };
  return (
    <form class="admin-form" onSubmit={submit} aria-label="new user">
      <h3>New user</h3>
      <label>Username<input value={username} required autoComplete="off" data-testid="admin-user-username"
        onInput={(e) => setUsername(e.currentTarget.value)} /></label>
      <label>Display name<input value={display} autoComplete="off" onInput={(e) => setDisplay(e.currentTarget.value)} /></label>
      <label>Password (10+ characters)<input type="password" value={password} required minLength={10} autoComplete="new-password"
        data-testid="admin-user-password" onInput={(e) => setPassword(e.currentTarget.value)} /></label>
      <div class="h-full"><span class="muted">Grants</span>
        <GrantsEditor value={grants} sites={sites} onChange={setGrants} idPrefix="admin-user-grant" /></div>
      {error && <div class="error-line h-full" role="alert" data-testid="admin-user-error">{error}</div>}
      <div class="h-full row">
        <button type="submit" class="primary" disabled={busy} data-testid="admin-user-create">
          {busy ? 'Creating…' : 'Create user'}</button>
      </div>
    </form>
  );
}

function EditUser({ user, sites, onSaved, onCancel }: { user: UserOut; sites: string[]; onSaved(u: UserOut): void; onCancel(): void }) {
  const { session } = useApp();
  const [display, setDisplay] = useState(user.display_name ?? '');
  const [grants, setGrants] = useState<Grant[]>(user.grants.map((g) => ({ ...g })));
  const [password, setPassword] = useState('');
  const same = (a: Grant[], b: Grant[]) => JSON.stringify(a) === JSON.stringify(b);
  const body = () => {
    const b: Record<string, unknown> = {};
    if ((display.trim() || null) !== user.display_name) b.display_name = display.trim() || null;
    if (!same(grants, user.grants)) b.grants = grants;
    if (password) b.password = password;
    return b;
  };
  const endsSessions = !same(grants, user.grants) || !!password;
  return (
    <div class="admin-form" data-testid="admin-user-edit">
      <h3>Edit {user.username}</h3>
      <label>Display name<input value={display} onInput={(e) => setDisplay(e.currentTarget.value)} /></label>
      <label>New password (optional)<input type="password" value={password} minLength={10} autoComplete="new-password"
        onInput={(e) => setPassword(e.currentTarget.value)} /></label>
      <div class="h-full"><span class="muted">Grants</span>
        <GrantsEditor value={grants} sites={sites} onChange={setGrants} idPrefix="admin-edit-grant" /></div>
      {endsSessions && <div class="h-full h-pill-note">Saving signs {user.username} out everywhere (grants or password change).</div>}
      <div class="h-full row">
        <CommandButton label="Save" class="primary" testid="admin-user-save"
          disabled={!Object.keys(body()).length || (!!password && password.length < 10)}
          run={async () => { const u = await session.patch<UserOut>(`/users/${user.id}`, body()); onSaved(u); return u; }}
          okText={() => 'saved'} />
        <button type="button" onClick={onCancel}>Cancel</button>
      </div>
    </div>
  );
}

export function UsersTab({ sites }: { sites: string[] }) {
  const { session } = useApp();
  const everywhere = session.me.grants.some((g) => g.role === 'admin' && g.site_id === null);
  const [users, error, loading, reload] = useFetch(
    (signal) => (everywhere ? session.get<UserOut[]>('/users', undefined, { signal }) : Promise.resolve([])), []);
  const [editing, setEditing] = useState<number | null>(null);
  if (!everywhere) {
    return <div class="muted" data-testid="admin-users">Managing users needs the admin role at every site; you are admin at some sites only.</div>;
  }
  const list = [...(users ?? [])].sort((a, b) => a.username.localeCompare(b.username));
  const edited = list.find((u) => u.id === editing);
  return (
    <div class="admin-section">
      <LoadState loading={loading && !users} error={error} />
      {edited && <EditUser key={edited.id} user={edited} sites={sites}
        onSaved={() => { setEditing(null); reload(); }} onCancel={() => setEditing(null)} />}
      <div class="h-table-wrap">
        <table data-testid="admin-users">
          <thead><tr><th>User</th><th>Name</th><th>Grants</th><th>Status</th><th /></tr></thead>
          <tbody>
            {list.map((u) => (
              <tr class={u.is_active ? '' : 'h-inactive'} data-user={u.username}>
                <td>{u.username}</td>
                <td>{u.display_name ?? <span class="muted">—</span>}</td>
                <td class="h-wrap"><GrantTags grants={u.grants} /></td>
                <td>{u.is_active ? 'active' : 'disabled'}</td>
                <td><div class="row h-nowrap">
                  <button type="button" onClick={() => setEditing(u.id)} data-testid="admin-user-edit-open">Edit</button>
                  <CommandButton label={u.is_active ? 'Disable' : 'Enable'} danger={u.is_active}
                    disabled={u.id === session.me.user_id} testid="admin-user-toggle"
                    confirm={{
                      title: `${u.is_active ? 'Disable' : 'Enable'} ${u.username}?`,
                      body: u.is_active ? `${u.username} is signed out everywhere and cannot log in until enabled again.`
                        : `${u.username} can log in again with their password.`,
                    }}
                    run={() => session.patch(`/users/${u.id}`, { is_active: !u.is_active })}
                    onDone={(r) => r.ok && reload()} />
                </div></td>
              </tr>
            ))}
          </tbody>
        </table>
      </div>
      <CreateUser sites={sites} onCreated={() => reload()} />
    </div>
  );
}
