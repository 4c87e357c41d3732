// Mission planning: choose a type, draw its shape on the map, set the flight, preview the
// planner's answer (path, figures, charging stops, or the zone that refuses it), submit.
// The draft survives a tab switch: an operator checks the fleet and comes back to the plan.
import { useEffect, useMemo, useRef, useState } from 'preact/hooks';
import { describeError } from '../api';
import { useApp, useSlices } from '../ctx';
import type { LngLat, PreviewOverlay } from '../map/api';
import type { MissionOut } from './missions';
import { focusMission } from './missions-model';
import { PlanFields } from './plan-fields';
import {
  DEFAULT_FORM, buildSpec, createBody, describeDrawn, drawLabel, drawModeFor, drawnOverlay, drawnPoints, parsePreview,
  previewBody, zoneInMessage, type Drawn, type PlanForm, type PlanSummary, type PreviewOut,
} from './plan-model';
import { PlanRecurring } from './plan-recurring';
import { PlanSummaryView, Section } from './plan-summary';
import { usePlannableSites } from './plan-sites';
import './missions.css';

interface Refusal { text: string; zoneId: string | null }
interface Preview { overlay: PreviewOverlay; summary: PlanSummary }
interface Draft { user: number; form: PlanForm; drawn: Drawn | null; preview: Preview | null; refusal: Refusal | null }

let draft: Draft | null = null;

// Changing these does not change the plan, so the preview stays.
const KEEPS_PREVIEW = new Set<keyof PlanForm>(['name', 'priority', 'site', 'startAt']);
const PLANNER_TIMEOUT_MS = 30_000;

export function PlanPanel() {
  const { session, store, map, site: pageSite, setTab, toast } = useApp();
  useSlices(store, ['zones'], 1000);
  const mine = draft?.user === session.me.user_id ? draft : null;
  const [form, setForm] = useState<PlanForm>(mine?.form ?? DEFAULT_FORM);
  const [drawn, setDrawn] = useState<Drawn | null>(mine?.drawn ?? null);
  const [preview, setPreview] = useState<Preview | null>(mine?.preview ?? null);
  const [refusal, setRefusal] = useState<Refusal | null>(mine?.refusal ?? null);
  const [drawing, setDrawing] = useState(false);
  const [busy, setBusy] = useState<'preview' | 'submit' | null>(null);
  const [created, setCreated] = useState<MissionOut | null>(null);
  const cancelDraw = useRef<(() => void) | null>(null);
  const sites = usePlannableSites();

  useEffect(() => {
    draft = { user: session.me.user_id, form, drawn, preview, refusal };
  }, [form, drawn, preview, refusal]);

  // The site defaults to the page's site filter, else the only site the user operates at.
  useEffect(() => {
    if (form.site && sites.options.includes(form.site)) return;
    const pick = pageSite && sites.options.includes(pageSite) ? pageSite
      : sites.optional ? '' : sites.options[0] ?? '';
    if (pick !== form.site) setForm((f) => ({ ...f, site: pick }));
  }, [sites.options.join(','), sites.optional, pageSite]);

  const mode = drawModeFor(form);

  const overlay = useMemo<PreviewOverlay | null>(() => {
    if (drawing) return null;
    if (preview) return preview.overlay;
    const shape = drawnOverlay(drawn);
    if (refusal?.zoneId) return { paths: [], ...shape, offendingZoneId: refusal.zoneId };
    return shape;
  }, [drawing, preview, refusal, drawn]);

  useEffect(() => { map?.setPreview(overlay); }, [map, overlay]);
  useEffect(() => { map?.setHighlight(drawing ? null : drawnPoints(drawn)); }, [map, drawn, drawing]);
  useEffect(() => () => {
    cancelDraw.current?.();
    cancelDraw.current = null;
    map?.setPreview(null);
    map?.setHighlight(null);
  }, [map]);

  const update = (patch: Partial<PlanForm>) => {
    const next = { ...form, ...patch };
    if (drawModeFor(next) !== mode) {
      // A new kind of shape: the old one means nothing to this mission type.
      cancelDraw.current?.();
      cancelDraw.current = null;
      setDrawing(false);
      setDrawn(null);
    }
    setForm(next);
    if (Object.keys(patch).some((k) => !KEEPS_PREVIEW.has(k as keyof PlanForm))) {
      setPreview(null);
      setRefusal(null);
    }
    setCreated(null);
  };

  const startDraw = () => {
    if (!map) return;
    cancelDraw.current?.();
    setPreview(null);
    setRefusal(null);
    setCreated(null);
    setDrawing(true);
    const m = mode;
    // Drawing again over a shape of the same kind edits it rather than starting blank.
    const initial = drawn?.mode === m ? drawn.coords : undefined;
    cancelDraw.current = map.startDraw(m, (coords: LngLat[]) => {
      cancelDraw.current = null;
      setDrawing(false);
      setDrawn(coords.length ? { mode: m, coords } : null);
    }, initial, () => { cancelDraw.current = null; setDrawing(false); });
  };

  const clear = () => {
    cancelDraw.current?.();
    cancelDraw.current = null;
    setDrawing(false);
    setDrawn(null);
    setPreview(null);
    setRefusal(null);
    setCreated(null);
  };

  const refuse = (err: unknown) => {
    const text = describeError(err);
    const zoneId = zoneInMessage(text, store.zones);
    setRefusal({ text, zoneId });
    reveal('[data-testid=plan-error]');
    const zone = zoneId ? store.zones.find((z) => z.id === zoneId) : null;
    if (zone && map) {
      const ring = zone.geometry.coordinates[0] as LngLat[];
      map.fitTo([...ring, ...(drawn?.coords ?? [])], 60);
    }
  };

  const doPreview = async () => {
    const spec = buildSpec(form, drawn);
    setCreated(null);
    if (!spec.ok) { setRefusal({ text: spec.error, zoneId: null }); return; }
    setBusy('preview');
    setRefusal(null);
    try {
      const answer = await session.post<PreviewOut>('/missions/preview', previewBody(spec.value, form),
        { timeoutMs: PLANNER_TIMEOUT_MS });
      const p = parsePreview(answer, spec.value);
      setPreview(p);
      reveal('[data-testid=plan-summary]');
      const coords = p.overlay.paths.flatMap((f) => f.geometry.coordinates as LngLat[]);
      if (coords.length && map) map.fitTo(coords, 60);
    } catch (err) {
      setPreview(null);
      refuse(err);
    } finally {
      setBusy(null);
    }
  };

  const doSubmit = async () => {
    const spec = buildSpec(form, drawn);
    setCreated(null);
    if (!spec.ok) { setRefusal({ text: spec.error, zoneId: null }); return; }
    const body = createBody(spec.value, form);
    if (!body.ok) { setRefusal({ text: body.error, zoneId: null }); return; }
    setBusy('submit');
    setRefusal(null);
    try {
      const m = await session.post<MissionOut>('/missions', body.value, { timeoutMs: PLANNER_TIMEOUT_MS });
      setCreated(m);
      reveal('[data-testid=plan-created]');
      toast('ok', `Mission ${m.mission_id} submitted (${m.state})`);
    } catch (err) {
      refuse(err);
    } finally {
      setBusy(null);
    }
  };

  const openMission = (id: string) => {
    focusMission(id);
    setTab('missions');
  };

  const canPlan = sites.optional || sites.options.length > 0;
  const spec = buildSpec(form, drawn);

  return (
    <div class="mp plan">
      <Section title="Mission">
        <div class="grid2">
          <label>Type
            <select value={form.type} data-testid="plan-type"
              onChange={(e) => update({ type: e.currentTarget.value as PlanForm['type'] })}>
              <option value="survey">Survey (area)</option>
              <option value="inspection">Inspection (perimeter / orbit)</option>
              <option value="patrol">Patrol (route)</option>
              <option value="delivery">Delivery (pickup → drop-off)</option>
              <option value="emergency">Emergency (target)</option>
            </select>
          </label>
          <label>Name (optional)
            <input value={form.name} maxLength={100} placeholder="e.g. roof 3"
              onInput={(e) => update({ name: e.currentTarget.value })} />
          </label>
        </div>
        {form.type === 'inspection' && (
          <div class="row plan-choice" role="radiogroup" aria-label="inspection kind">
            <label class="inline"><input type="radio" name="insp" checked={form.inspection === 'perimeter'}
              onChange={() => update({ inspection: 'perimeter' })} /> Fly a perimeter</label>
            <label class="inline"><input type="radio" name="insp" checked={form.inspection === 'orbit'}
              onChange={() => update({ inspection: 'orbit' })} /> Orbit a structure</label>
          </div>
        )}
      </Section>

      <Section title="Shape on the map">
        <div class="row">
          <button type="button" class={drawn ? '' : 'primary'} data-testid="plan-draw" disabled={!map || drawing}
            title={map ? undefined : 'the map is still loading'} onClick={startDraw}>
            {drawn?.mode === mode ? `Redraw (${drawLabel(mode, form).replace(/^Draw |^Pick /, '')})` : drawLabel(mode, form)}
          </button>
          {drawing && (
            <button type="button" class="primary" data-testid="plan-finish" onClick={() => map?.finishDraw()}>Finish</button>
          )}
          {drawing && (
            <button type="button" onClick={() => { cancelDraw.current?.(); cancelDraw.current = null; setDrawing(false); }}>
              Cancel
            </button>
          )}
          <button type="button" data-testid="plan-clear" disabled={!drawn && !drawing} onClick={clear}>Clear</button>
        </div>
        <div class="muted small plan-hint" data-testid="plan-shape">
          {drawing ? drawHint(mode) : describeDrawn(drawn)}
        </div>
      </Section>

      <PlanFields form={form} update={update} sites={sites} />

      <div class="row plan-actions">
        <button type="button" data-testid="plan-preview" disabled={busy !== null || drawing} onClick={() => void doPreview()}>
          {busy === 'preview' ? 'Planning…' : 'Preview'}
        </button>
        <button type="button" class="primary" data-testid="plan-submit"
          disabled={busy !== null || drawing || !canPlan || !spec.ok}
          title={!spec.ok ? spec.error : !canPlan ? 'you operate at no site' : undefined}
          onClick={() => void doSubmit()}>
          {busy === 'submit' ? 'Submitting…' : 'Submit mission'}
        </button>
        {!spec.ok && !drawing && <span class="muted small">{spec.error}</span>}
      </div>

      {refusal && (
        <div class="plan-error" role="alert" data-testid="plan-error">
          {refusal.text}
          {refusal.zoneId && (
            <div class="small">The no-fly zone <b>{zoneName(store.zones, refusal.zoneId)}</b> is shown in red on the map.</div>
          )}
        </div>
      )}
      {created && (
        <div class="plan-created" role="status" data-testid="plan-created">
          Mission <b data-testid="plan-created-id">{created.mission_id}</b> submitted — {created.state}
          {created.vehicle_id ? ` on ${created.vehicle_id}` : ''}.{' '}
          <button type="button" class="link" data-testid="plan-open-mission" onClick={() => openMission(created.mission_id)}>
            Follow it in Missions →
          </button>
        </div>
      )}
      {preview && <PlanSummaryView summary={preview.summary} />}

      <PlanRecurring form={form} drawn={drawn} />
    </div>
  );
}

/** Bring an answer into view once it rendered (it appears below the form). */
function reveal(selector: string): void {
  requestAnimationFrame(() => document.querySelector(selector)?.scrollIntoView({ block: 'nearest', behavior: 'smooth' }));
}

function drawHint(mode: string): string {
  if (mode === 'point') return 'Click the map to place the point.';
  return `Click the map to add points; double-click, Enter or "Finish" to end${mode === 'polygon' ? ' (the area closes itself)' : ''}.`;
}

function zoneName(zones: { id: string; properties: { name: string } }[], id: string): string {
  const z = zones.find((x) => x.id === id);
  return z?.properties.name && z.properties.name !== id ? `${z.properties.name} (${id})` : id;
}
