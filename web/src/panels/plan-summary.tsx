// The planner's figures for a previewed plan, and the section frame of the plan form.
import type { ComponentChildren } from 'preact';
import { fmtDistance, fmtDuration, fmtEnergy, fmtNumber } from '../format';
import type { PlanSummary } from './plan-model';

export function Section({ title, children, testid }: { title: string; children: ComponentChildren; testid?: string }) {
  return (
    <section class="plan-section" data-testid={testid}>
      <h3>{title}</h3>
      {children}
    </section>
  );
}

export function PlanSummaryView({ summary: s }: { summary: PlanSummary }) {
  const stations = [...new Set(s.stops.map((x) => x.station).filter(Boolean))];
  return (
    <section class="plan-summary" data-testid="plan-summary" aria-label="plan preview">
      <h3>Preview</h3>
      <div class="figures">
        <Figure label="Distance" value={fmtDistance(s.distance_m)} testid="plan-distance" />
        <Figure label="Duration" value={fmtDuration(s.duration_s)} testid="plan-duration" />
        <Figure label="Energy" value={fmtEnergy(s.energy_wh)} sub={`reserve ${fmtEnergy(s.reserve_wh)}`} testid="plan-energy" />
        <Figure label="Coverage" value={s.coverage_pct == null ? '—' : fmtNumber(s.coverage_pct, 1, '%').replace(' %', '%')}
          sub={s.line_spacing_m != null ? `lines ${fmtNumber(s.line_spacing_m, 1, 'm')} apart` : undefined} testid="plan-coverage" />
        <Figure label="Waypoints" value={String(s.waypoints)} sub={s.legs > 1 ? `${s.legs} legs` : '1 leg'} />
        <Figure label="Charging stops" value={String(s.stops.length)}
          sub={stations.length ? stations.join(', ') : undefined} testid="plan-stops" />
      </div>
      {s.warnings.length > 0 && (
        <ul class="plan-warnings" data-testid="plan-warnings">
          {s.warnings.map((w) => <li>⚠ {w}</li>)}
        </ul>
      )}
    </section>
  );
}

function Figure({ label, value, sub, testid }: { label: string; value: string; sub?: string; testid?: string }) {
  return (
    <div class="figure" data-testid={testid}>
      <div class="figure-label">{label}</div>
      <div class="figure-value">{value}</div>
      {sub && <div class="figure-sub">{sub}</div>}
    </div>
  );
}
