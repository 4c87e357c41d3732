// The sites a mission may be planned for: where the user operates. A user with a grant at
// every site may leave the site out (the bridge then takes the pinned vehicle's).
import { useEffect, useState } from 'preact/hooks';
import { useApp } from '../ctx';
import { plannableSites } from './plan-model';

export interface SiteChoice {
  options: string[];
  /** The bridge accepts no site (an operator grant that covers every site). */
  optional: boolean;
}

let allSites: string[] | null = null;

export function usePlannableSites(): SiteChoice {
  const { session } = useApp();
  const own = session.me.sites;
  const [known, setKnown] = useState<string[]>(own ?? allSites ?? []);
  useEffect(() => {
    if (own || allSites) return;
    const ac = new AbortController();
    session.get<{ items: { id: string }[] }>('/sites', { limit: 200 }, { signal: ac.signal })
      .then((p) => { allSites = p.items.map((s) => s.id); setKnown(allSites); }, () => undefined);
    return () => ac.abort();
  }, []);
  const optional = session.me.grants.some((g) => g.site_id === null && (g.role === 'operator' || g.role === 'admin'));
  return { options: plannableSites(known, (s) => session.can('operate', s)), optional };
}
