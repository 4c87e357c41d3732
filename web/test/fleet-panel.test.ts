// The fleet table rendered for real (happy-dom): 1,000 vehicles show 200 rows, filtering
// and sorting act on the DOM, a row opens the vehicle.
import { h, render } from 'preact';
import { act } from 'preact/test-utils';
import { afterEach, describe, expect, it, vi } from 'vitest';
import { Ctx, type AppCtx } from '../src/ctx';
import { FleetPanel } from '../src/panels/fleet';
import { FleetStore } from '../src/store';
import type { Vehicle } from '../src/types';

function v(i: number): Vehicle {
  return {
    vehicle_id: `uav${i}`, stamp: Date.now() / 1000, status: i % 2 ? 'in_mission' : 'idle', liveness: i % 50 ? 'fresh' : 'lost',
    mode: 'AUTO.MISSION', armed: false, landed_state: 'on_ground', battery_pct: (i * 7) % 100, voltage_v: 15, current_a: 1,
    position: null, relative_altitude_m: 0, heading_deg: 0, ground_speed_mps: 0, home: null,
    mission_id: i % 2 ? `m${i}` : null, last_reached_item: 0, model: 'x500', site_id: i % 3 ? 'north' : 'south',
    health: { gps_ok: true, estimator_ok: true, sensors_ok: true, battery_ok: true, motors_ok: true, link_ok: true, warnings: [] },
  };
}

function mount(site: string | null = null, n = 1000) {
  const store = new FleetStore();
  store.setVehicles(Array.from({ length: n }, (_, i) => v(i)));
  const openVehicle = vi.fn();
  const ctx = {
    session: { me: { grants: [{ role: 'admin', site_id: null }] }, can: () => true },
    store, live: {}, map: null, site, setSite: () => undefined, tab: 'fleet', setTab: vi.fn(), openVehicle, toast: () => undefined,
  } as unknown as AppCtx;
  const root = document.createElement('div');
  document.body.append(root);
  act(() => render(h(Ctx.Provider, { value: ctx }, h(FleetPanel, {})), root));
  return { root, store, openVehicle };
}

const rows = (root: HTMLElement) => [...root.querySelectorAll<HTMLElement>('[data-testid=vehicle-row]')];

afterEach(() => { document.body.innerHTML = ''; });

describe('FleetPanel', () => {
  it('renders 200 of 1,000 vehicles, with "show more"', () => {
    const { root } = mount();
    expect(root.querySelector('[data-testid=fleet-table]')).not.toBeNull();
    expect(rows(root)).toHaveLength(200);
    expect(root.querySelector('[data-testid=fleet-showing]')!.textContent).toContain('showing 200 of 1000');
    act(() => root.querySelector<HTMLButtonElement>('[data-testid=fleet-show-more]')!.click());
    expect(rows(root)).toHaveLength(400);
  });

  it('filters by text and the site chosen in the header', () => {
    const { root } = mount('south');
    const input = root.querySelector<HTMLInputElement>('[data-testid=fleet-filter]')!;
    act(() => { input.value = 'uav99'; input.dispatchEvent(new Event('input')); });
    const ids = rows(root).map((r) => r.dataset.vehicle);
    expect(ids).toEqual(['uav99', 'uav990', 'uav993', 'uav996', 'uav999']);
    expect(root.querySelector('th')!.textContent).toContain('Vehicle'); // the site column is hidden
    expect([...root.querySelectorAll('th')].some((th) => th.textContent!.includes('Site'))).toBe(false);
    act(() => { input.value = ''; input.dispatchEvent(new Event('input')); });
  });

  it('sorts on a header click and opens a vehicle on a row click', () => {
    const { root, openVehicle } = mount(null, 120);
    act(() => root.querySelector<HTMLButtonElement>('[data-testid=fleet-sort-battery]')!.click());
    const first = rows(root)[0];
    expect(Number(first.querySelector('.battery-text')!.textContent!.replace('%', ''))).toBe(0);
    expect(root.querySelector('th[aria-sort=ascending]')!.textContent).toContain('Battery');
    act(() => first.click());
    expect(openVehicle).toHaveBeenCalledWith(first.dataset.vehicle);
    // Leave the module's remembered sort as it was for other tests.
    act(() => root.querySelector<HTMLButtonElement>('[data-testid=fleet-sort-vehicle]')!.click());
  });
});
