// Administration: users and their grants, vehicles' API keys, and the audit log.
import { useState } from 'preact/hooks';
import { useApp } from '../ctx';
import { useFetch } from '../ui';
import { AuditTab } from './admin-audit';
import { KeysTab } from './admin-keys';
import { UsersTab } from './admin-users';
import './history.css';

type Sub = 'users' | 'keys' | 'audit';
const SUBS: { id: Sub; label: string }[] = [
  { id: 'users', label: 'Users' }, { id: 'keys', label: 'API keys' }, { id: 'audit', label: 'Audit log' },
];

export function AdminPanel() {
  const { session } = useApp();
  const [sub, setSub] = useState<Sub>('users');
  const [sites] = useFetch(async (signal) => {
    const p = await session.get<{ items: { id: string }[] }>('/sites', { limit: 1000 }, { signal });
    return p.items.map((s) => s.id);
  }, []);
  if (!session.can('admin')) return <div class="muted">Administration needs the admin role.</div>;
  const siteIds = sites ?? session.me.sites ?? [];
  return (
    <div class="admin">
      <div class="row">
        <h2 class="h-grow">Administration</h2>
        <div class="h-seg" role="tablist" aria-label="administration">
          {SUBS.map((s) => (
            <button type="button" role="tab" aria-selected={sub === s.id} class={sub === s.id ? 'active' : ''}
              data-testid={`admin-tab-${s.id}`} onClick={() => setSub(s.id)}>{s.label}</button>
          ))}
        </div>
      </div>
      {sub === 'users' && <UsersTab sites={siteIds} />}
      {sub === 'keys' && <KeysTab sites={siteIds} />}
      {sub === 'audit' && <AuditTab />}
    </div>
  );
}
