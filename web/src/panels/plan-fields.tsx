// The plan's parameters: flight (per mission type, only what the planner accepts for it)
// and dispatch (priority, site, vehicle, start).
import { useApp, useSlices } from '../ctx';
import { fmtPct, humanize } from '../format';
import { PATTERNS, type PlanForm } from './plan-model';
import type { SiteChoice } from './plan-sites';
import { Section } from './plan-summary';

type Update = (patch: Partial<PlanForm>) => void;

function Num(props: {
  label: string; value: string; unit?: string; min?: number; max?: number; step?: number;
  placeholder?: string; testid?: string; onInput(v: string): void;
}) {
  return (
    <label>{props.label}{props.unit ? ` (${props.unit})` : ''}
      <input type="number" inputMode="decimal" value={props.value} min={props.min} max={props.max}
        step={props.step ?? 'any'} placeholder={props.placeholder} data-testid={props.testid}
        onInput={(e) => props.onInput(e.currentTarget.value)} />
    </label>
  );
}

export function PlanFields({ form: f, update, sites }: { form: PlanForm; update: Update; sites: SiteChoice }) {
  return (
    <>
      <Section title="Flight">
        <div class="grid2">
          <Num label="Altitude" unit="m above home" value={f.altitude} min={1} max={500} testid="plan-altitude"
            onInput={(v) => update({ altitude: v })} />
          <Num label="Speed" unit="m/s" value={f.speed} min={0.1} max={30} placeholder="vehicle cruise" testid="plan-speed"
            onInput={(v) => update({ speed: v })} />
        </div>
        {f.type === 'survey' && <SurveyFields f={f} update={update} />}
        {f.type === 'inspection' && f.inspection === 'orbit' && (
          <div class="grid2">
            <Num label="Orbit radius" unit="m" value={f.orbitRadius} min={1} max={5000} onInput={(v) => update({ orbitRadius: v })} />
          </div>
        )}
        {f.type === 'patrol' && (
          <div class="grid2">
            <Num label="Laps" value={f.repeat} min={1} max={100} step={1} onInput={(v) => update({ repeat: v })} />
          </div>
        )}
        {f.type === 'delivery' && (
          <div class="grid2">
            <Num label="Payload" unit="kg" value={f.payloadKg} min={0} max={1000} onInput={(v) => update({ payloadKg: v })} />
            <Num label="Handling time" unit="s" value={f.handlingS} min={0} max={3600} onInput={(v) => update({ handlingS: v })} />
          </div>
        )}
        {f.type === 'emergency' && (
          <div class="grid2">
            <Num label="Hover at target" unit="s" value={f.hoverS} min={0} max={7200} onInput={(v) => update({ hoverS: v })} />
            <label class="inline check"><input type="checkbox" checked={f.land}
              onChange={(e) => update({ land: e.currentTarget.checked })} /> Land at the target</label>
          </div>
        )}
        <label class="inline check"><input type="checkbox" checked={f.returnHome}
          onChange={(e) => update({ returnHome: e.currentTarget.checked })} /> Return home at the end</label>
      </Section>
      <DispatchFields f={f} update={update} sites={sites} />
    </>
  );
}

function SurveyFields({ f, update }: { f: PlanForm; update: Update }) {
  return (
    <>
      <div class="grid2">
        <label>Pattern
          <select value={f.pattern} data-testid="plan-pattern" onChange={(e) => update({ pattern: e.currentTarget.value as PlanForm['pattern'] })}>
            {PATTERNS.map((p) => <option value={p}>{p}</option>)}
          </select>
        </label>
        {f.pattern === 'spiral' ? (
          <label>Spiral
            <select value={f.spiral} onChange={(e) => update({ spiral: e.currentTarget.value as PlanForm['spiral'] })}>
              <option value="outward">outward</option>
              <option value="inward">inward</option>
            </select>
          </label>
        ) : (
          <Num label="Line bearing" unit="°" value={f.sweepDeg} min={-360} max={360} placeholder="longest edge"
            onInput={(v) => update({ sweepDeg: v })} />
        )}
        <Num label="Side overlap" unit="%" value={f.sideOverlap} min={0} max={99} testid="plan-side-overlap"
          onInput={(v) => update({ sideOverlap: v })} />
        <Num label="Front overlap" unit="%" value={f.frontOverlap} min={0} max={99} testid="plan-front-overlap"
          onInput={(v) => update({ frontOverlap: v })} />
      </div>
      <div class="row plan-choice" role="radiogroup" aria-label="camera">
        <span class="muted small">Camera:</span>
        <label class="inline"><input type="radio" name="cam" checked={f.cameraMode === 'footprint'}
          onChange={() => update({ cameraMode: 'footprint' })} /> ground footprint</label>
        <label class="inline"><input type="radio" name="cam" checked={f.cameraMode === 'fov'}
          onChange={() => update({ cameraMode: 'fov' })} /> field of view</label>
      </div>
      <div class="grid2">
        {f.cameraMode === 'footprint' ? (
          <>
            <Num label="Footprint width" unit="m" value={f.footprintW} min={0.1} testid="plan-footprint-w"
              onInput={(v) => update({ footprintW: v })} />
            <Num label="Footprint height" unit="m" value={f.footprintH} min={0.1} testid="plan-footprint-h"
              onInput={(v) => update({ footprintH: v })} />
          </>
        ) : (
          <>
            <Num label="Horizontal FOV" unit="°" value={f.hfov} min={1} max={170} onInput={(v) => update({ hfov: v })} />
            <Num label="Vertical FOV" unit="°" value={f.vfov} min={1} max={170} onInput={(v) => update({ vfov: v })} />
          </>
        )}
      </div>
    </>
  );
}

function DispatchFields({ f, update, sites }: { f: PlanForm; update: Update; sites: SiteChoice }) {
  const { store } = useApp();
  useSlices(store, ['vehicles'], 2000);
  const vehicles = [...store.vehicles.values()]
    .filter((v) => !f.site || v.site_id === f.site)
    .sort((a, b) => a.vehicle_id.localeCompare(b.vehicle_id));
  return (
    <Section title="Dispatch">
      <div class="grid2">
        <Num label="Priority" unit="1–10, 10 most urgent" value={f.priority} min={1} max={10} step={1}
          testid="plan-priority" onInput={(v) => update({ priority: v })} />
        <label>Site
          <select value={f.site} data-testid="plan-site" onChange={(e) => update({ site: e.currentTarget.value, vehicle: '' })}>
            {sites.optional && <option value="">— from the vehicle —</option>}
            {!sites.optional && !sites.options.length && <option value="">you operate at no site</option>}
            {sites.options.map((s) => <option value={s}>{s}</option>)}
          </select>
        </label>
        <label>Vehicle
          <select value={f.vehicle} data-testid="plan-vehicle" onChange={(e) => update({ vehicle: e.currentTarget.value })}>
            <option value="">any (the planner picks)</option>
            {vehicles.map((v) => (
              <option value={v.vehicle_id}>{v.vehicle_id} — {humanize(v.status)}, {fmtPct(v.battery_pct)}</option>
            ))}
          </select>
        </label>
        <label>Start at (local time)
          <input type="datetime-local" value={f.startAt} data-testid="plan-start"
            onInput={(e) => update({ startAt: e.currentTarget.value })} />
        </label>
      </div>
    </Section>
  );
}
