// Airspace: the no-fly zones in force (or scheduled), and for an admin of every site the
// tools to draw, reshape, retime and lift them. Zones apply to every site, so the bridge
// only lets a global admin change them; everyone else sees the list.
import type { FeatureCollection } from 'geojson';
import { useEffect, useRef, useState } from 'preact/hooks';
import { describeError } from '../api';
import { useApp, useSlices, useTick } from '../ctx';
import { fmtTime } from '../format';
import type { LngLat } from '../map/api';
import type { ZoneFeature } from '../types';
import { CommandButton } from '../ui';
import {
  fmtBand, formOf, openRing, replaceBody, slugId, sortZones, zoneFeature, zoneStatus, type ZoneForm, type ZoneStatus,
} from './airspace-model';
import './missions.css';

const ZONE_TIMEOUT_MS = 30_000;

function ZoneBadge({ status }: { status: ZoneStatus }) {
  return <span class={`zone-badge zone-${status}`}>{status.toUpperCase()}</span>;
}

function fmtWindow(from: number | null, until: number | null): string {
  if (from == null && until == null) return 'always';
  if (from == null) return `until ${fmtTime(until)}`;
  if (until == null) return `from ${fmtTime(from)}`;
  return `${fmtTime(from)} → ${fmtTime(until)}`;
}

export function AirspacePanel() {
  const { session, store, map } = useApp();
  useSlices(store, ['zones'], 300);
  useTick(30_000);
  const [text, setText] = useState('');
  const [selected, setSelected] = useState<string | null>(null);
  // null: not editing; '' : a new zone; else the id of the zone being edited.
  const [editing, setEditing] = useState<string | null>(null);
  // Only an admin at every site may change zones (routes/zones.py: _require_global_admin).
  const admin = session.me.grants.some((g) => g.role === 'admin' && g.site_id === null);

  useEffect(() => () => { map?.highlightZone(null); }, [map]);

  const show = (z: ZoneFeature) => {
    setSelected(z.id);
    map?.highlightZone(z.id);
    map?.fitTo(openRing(z), 80);
  };

  const now = Date.now() / 1000;
  const q = text.trim().toLowerCase();
  const zones = sortZones(store.zones, now)
    .filter((z) => !q || `${z.id} ${z.properties.name}`.toLowerCase().includes(q));
  const counts = { active: 0, scheduled: 0, expired: 0 };
  store.zones.forEach((z) => counts[zoneStatus(z, now)]++);
  const editedZone = editing ? store.zones.find((z) => z.id === editing) ?? null : null;

  return (
    <div class="mp airspace">
      <div class="mp-toolbar">
        <span class="muted small">
          {counts.active} active · {counts.scheduled} scheduled · {counts.expired} expired
        </span>
        <label class="mp-search">
          <span class="sr-only">Search zones</span>
          <input type="search" placeholder="Search zones…" value={text} onInput={(e) => setText(e.currentTarget.value)} />
        </label>
        {admin && (
          <button type="button" class="primary" data-testid="zone-new" disabled={editing !== null}
            onClick={() => { setEditing(''); setSelected(null); map?.highlightZone(null); }}>
            New zone
          </button>
        )}
      </div>
      {!admin && (
        <div class="muted small">No-fly zones apply to every site: changing them needs the admin role at every site.</div>
      )}
      {editing !== null && (
        <ZoneEditor key={editing || '(new)'} zone={editedZone} isNew={editing === ''}
          onClose={() => setEditing(null)} />
      )}
      <table class="mp-table" data-testid="zones-list">
        <thead>
          <tr><th>Status</th><th>Zone</th><th>Altitude · active</th>{admin && <th />}</tr>
        </thead>
        <tbody>
          {zones.map((z) => {
            const status = zoneStatus(z, now);
            return (
              <tr class={`zone-row${selected === z.id ? ' selected' : ''}`} data-testid="zone-row" data-zone={z.id}
                data-status={status} onClick={() => show(z)}>
                <td><ZoneBadge status={status} /></td>
                <td>
                  <button type="button" class="link" onClick={(e) => { e.stopPropagation(); show(z); }}>
                    {z.properties.name || z.id}
                  </button>
                  {z.properties.name && z.properties.name !== z.id && <div class="muted small">{z.id}</div>}
                </td>
                <td>
                  {fmtBand(z.properties.floor_m, z.properties.ceiling_m)}
                  <div class="muted small">{fmtWindow(z.properties.active_from, z.properties.active_until)}</div>
                </td>
                {admin && (
                  <td onClick={(e) => e.stopPropagation()}>
                    <div class="row nowrap">
                      <button type="button" data-testid="zone-edit" disabled={editing !== null}
                        onClick={() => { setEditing(z.id); show(z); }}>Edit</button>
                      <CommandButton label="Lift" danger testid="zone-delete"
                        run={() => session.del(`/zones/${encodeURIComponent(z.id)}`, { timeoutMs: ZONE_TIMEOUT_MS })}
                        okText={() => 'lifted'}
                        confirm={{
                          title: `Lift no-fly zone ${z.properties.name || z.id}?`,
                          body: <>Vehicles may fly through <b>{z.properties.name || z.id}</b> at once, at every site.</>,
                          confirmLabel: 'Lift zone',
                        }} />
                    </div>
                  </td>
                )}
              </tr>
            );
          })}
        </tbody>
      </table>
      {!zones.length && (
        <div class="muted mp-empty">{store.zones.length ? 'No zone matches.' : 'No no-fly zones are in force.'}</div>
      )}
    </div>
  );
}

function ZoneEditor({ zone, isNew, onClose }: { zone: ZoneFeature | null; isNew: boolean; onClose(): void }) {
  const { session, store, map, toast } = useApp();
  const [form, setForm] = useState<ZoneForm>(() => formOf(zone));
  const [idTouched, setIdTouched] = useState(!isNew);
  const [ring, setRing] = useState<LngLat[] | null>(() => (zone ? openRing(zone) : null));
  const [drawing, setDrawing] = useState(false);
  const [busy, setBusy] = useState(false);
  const [error, setError] = useState<string | null>(null);
  const cancel = useRef<(() => void) | null>(null);

  // The shape being edited, shown until it is saved or abandoned.
  useEffect(() => {
    if (!map) return;
    if (drawing || !ring || ring.length < 3) { map.setHighlight(null); return; }
    const fc: FeatureCollection = {
      type: 'FeatureCollection',
      features: [{ type: 'Feature', properties: { kind: 'zone-draft' },
        geometry: { type: 'Polygon', coordinates: [[...ring, ring[0]]] } }],
    };
    map.setHighlight(fc);
  }, [map, ring, drawing]);
  useEffect(() => () => { cancel.current?.(); map?.setHighlight(null); }, [map]);

  const set = (patch: Partial<ZoneForm>) => {
    setError(null);
    setForm((f) => {
      const next = { ...f, ...patch };
      if (isNew && !idTouched && patch.name !== undefined) {
        next.id = slugId(patch.name, store.zones.map((z) => z.id));
      }
      return next;
    });
  };

  const draw = () => {
    if (!map) return;
    cancel.current?.();
    setDrawing(true);
    setError(null);
    cancel.current = map.startDraw('polygon', (coords) => {
      cancel.current = null;
      setDrawing(false);
      if (coords.length >= 3) setRing(coords);
    }, ring ?? undefined, () => { cancel.current = null; setDrawing(false); });
  };

  const save = async () => {
    const built = zoneFeature(form, ring);
    if (!built.ok) { setError(built.error); return; }
    if (isNew && store.zones.some((z) => z.id === built.value.id)) {
      setError(`Id: a zone ${built.value.id} already exists`);
      return;
    }
    setBusy(true);
    setError(null);
    try {
      if (isNew) await session.post('/zones', built.value, { timeoutMs: ZONE_TIMEOUT_MS });
      else await session.put('/zones', replaceBody(store.zones, zone!.id, built.value), { timeoutMs: ZONE_TIMEOUT_MS });
      toast('ok', `Zone ${built.value.id} ${isNew ? 'created' : 'saved'}`);
      map?.highlightZone(built.value.id);
      onClose();
    } catch (err) {
      setError(describeError(err));
    } finally {
      setBusy(false);
    }
  };

  return (
    <section class="plan-section zone-editor" data-testid="zone-editor" aria-label={isNew ? 'new zone' : `edit zone ${zone?.id}`}>
      <h3>{isNew ? 'New no-fly zone' : `Edit ${zone?.properties.name || zone?.id}`}</h3>
      <div class="grid2">
        <label>Name
          <input value={form.name} maxLength={200} data-testid="zone-name" onInput={(e) => set({ name: e.currentTarget.value })} />
        </label>
        <label>Id
          <input value={form.id} maxLength={64} readOnly={!isNew} data-testid="zone-id"
            title={isNew ? 'letters, digits, - _ .' : 'the id of a zone in force does not change'}
            onInput={(e) => { setIdTouched(true); set({ id: e.currentTarget.value }); }} />
        </label>
        <label>Floor (m above ground)
          <input type="number" min={0} step="any" value={form.floor} data-testid="zone-floor"
            onInput={(e) => set({ floor: e.currentTarget.value })} />
        </label>
        <label>Ceiling (m, empty: none)
          <input type="number" min={0} step="any" value={form.ceiling} data-testid="zone-ceiling"
            onInput={(e) => set({ ceiling: e.currentTarget.value })} />
        </label>
        <label>Active from (empty: now)
          <input type="datetime-local" value={form.from} data-testid="zone-from" onInput={(e) => set({ from: e.currentTarget.value })} />
        </label>
        <label>Active until (empty: no end)
          <input type="datetime-local" value={form.until} data-testid="zone-until" onInput={(e) => set({ until: e.currentTarget.value })} />
        </label>
      </div>
      <div class="row">
        <button type="button" data-testid="zone-draw" disabled={!map || drawing} onClick={draw}>
          {ring ? 'Edit shape' : 'Draw shape'}
        </button>
        {drawing && <button type="button" class="primary" data-testid="zone-finish" onClick={() => map?.finishDraw()}>Finish</button>}
        <span class="muted small">
          {drawing ? 'Click the map to add corners; double-click, Enter or "Finish" to close the shape.'
            : ring ? `${ring.length} corners` : 'no shape yet'}
        </span>
      </div>
      {error && <div class="error-line" role="alert" data-testid="zone-error">{error}</div>}
      <div class="row">
        <button type="button" class="primary" data-testid="zone-save" disabled={busy || drawing} onClick={() => void save()}>
          {busy ? 'Saving…' : isNew ? 'Create zone' : 'Save zone'}
        </button>
        <button type="button" disabled={busy} onClick={onClose}>Cancel</button>
      </div>
    </section>
  );
}
