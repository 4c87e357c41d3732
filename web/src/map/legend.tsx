// The map's key, bottom-left, folded away on request (remembered across reloads).
import { useState } from 'preact/hooks';
import { STATUS_COLORS, humanize } from '../format';

const STATUSES = ['idle', 'in_mission', 'returning', 'charging', 'maintenance', 'offline'];

function Arrow({ color, opacity = 1 }: { color: string; opacity?: number }) {
  return (
    <svg viewBox="0 0 16 16" width="14" height="14" aria-hidden="true">
      <path d="M8 1 L14 15 L8 11.5 L2 15 Z" fill={color} opacity={opacity} stroke="var(--map-bg)" stroke-width="1" />
    </svg>
  );
}

export function Legend() {
  // Open by default on a control-room screen; folded on a laptop, where it hides the map.
  const [open, setOpen] = useState(() => {
    const saved = localStorage.getItem('fleet.legend');
    return saved ? saved !== 'closed' : window.innerHeight >= 900;
  });
  const toggle = () => {
    const v = !open;
    setOpen(v);
    localStorage.setItem('fleet.legend', v ? 'open' : 'closed');
  };
  return (
    <div class={`map-legend${open ? ' open' : ''}`} data-testid="map-legend">
      <button type="button" class="map-legend-toggle" aria-expanded={open} onClick={toggle}>
        {open ? '▾' : '▸'} Legend
      </button>
      {open && (
        <ul>
          {STATUSES.map((s) => (
            <li><Arrow color={STATUS_COLORS[s]} />{humanize(s)}</li>
          ))}
          <li>
            <svg viewBox="0 0 16 16" width="14" height="14" aria-hidden="true">
              <circle cx="8" cy="8" r="6.5" fill="none" stroke="var(--muted)" stroke-width="1.3" stroke-dasharray="2.5 2" />
              <path d="M8 4 L11 12 L8 10 L5 12 Z" fill={STATUS_COLORS.in_mission} opacity="0.45" />
            </svg>
            stale / lost
          </li>
          <li>
            <svg viewBox="0 0 16 16" width="14" height="14" aria-hidden="true">
              <circle cx="8" cy="8" r="6.5" fill="color-mix(in srgb, var(--accent) 22%, transparent)" stroke="var(--accent)" stroke-width="1.5" />
            </svg>
            selected
          </li>
          <li><i class="lg-sw lg-zone-active" />no-fly active</li>
          <li><i class="lg-sw lg-zone-scheduled" />no-fly scheduled</li>
          <li>
            <svg viewBox="0 0 16 16" width="14" height="14" aria-hidden="true">
              <rect x="1.5" y="1.5" width="13" height="13" rx="3" fill={STATUS_COLORS.charging} />
              <path d="M9 3.5 L5 8.5 L7.6 8.5 L6.6 12.5 L11 7 L8.4 7 Z" fill="var(--map-bg)" />
            </svg>
            station <span class="lg-badge" title="vehicles waiting">2</span>
          </li>
          <li>
            <svg viewBox="0 0 16 16" width="14" height="14" aria-hidden="true">
              <path d="M8 2 L14.5 8 L12.5 8 L12.5 14 L3.5 14 L3.5 8 L1.5 8 Z" fill="var(--muted)" />
            </svg>
            home
          </li>
          <li title="a mission's path: flown (solid) and still to fly (dashed)"><i class="lg-line lg-flown" /><i class="lg-line lg-planned" />mission path</li>
          <li><i class="lg-line lg-trail" />recent track</li>
        </ul>
      )}
    </div>
  );
}
