// The live map: one MapLibre map fed from the store by ONE animation-frame loop. The loop drains
// the store's dirty set, patches a Map of vehicle features and hands MapLibre a new array at
// most four times a second; trails, mission paths and homes follow at a slower pace. Nothing
// here creates a DOM element per vehicle: hover and selection are layers and one popup.
import type { Feature, FeatureCollection, Position } from 'geojson';
import {
  AttributionControl, Map as MlMap, NavigationControl, Popup, ScaleControl, setWorkerUrl,
  type GeoJSONSource, type LngLatBoundsLike, type MapGeoJSONFeature,
} from 'maplibre-gl';
import workerUrl from 'maplibre-gl/dist/maplibre-gl-worker.mjs?url';
import type { AppCtx } from '../ctx';
import type { DrawMode, LngLat, MapApi, PreviewOverlay, ReplayOverlay } from './api';
import { startDrawSession, type DrawSession } from './draw';
import {
  boundsOf, featureCoords, graticule, homeFeatures, line, nextZoneChange, showsPath, splitPath,
  vehicleFeature, zoneFeatures,
} from './geo';
import { MapFeeds } from './feeds';
import { addIcons, setHatch } from './icons';
import { INTERACTIVE, LayerSync, baseStyle, layers, readTheme, type LayerState, type SourceId, type Theme } from './layers';
import { homePopup, missionPopup, stationPopup, vehiclePopup, zonePopup } from './popup';

setWorkerUrl(workerUrl);

// Each vehicle push costs the map a full redraw (in software WebGL, ~100-250 ms at 1,000
// vehicles): a big fleet is redrawn at the rate its data comes (1 Hz), a small one faster so
// motion looks smooth. Trails and paths ride on the same redraw (see frame()).
const VEHICLE_MS = 250;
const BIG_FLEET = 200;
const BIG_FLEET_VEHICLE_MS = 1000;
const BIG_FLEET_TRAIL_ZOOM = 13;
const TRAIL_MS = 1000;
const MISSION_MS = 1000;
const HOME_MS = 3000;

export interface DrawUi { mode: DrawMode; editing: boolean }


export interface ControllerHooks {
  app(): AppCtx;
  onDraw(ui: DrawUi | null): void;
  onReady(api: MapApi): void;
}

const EMPTY: FeatureCollection = { type: 'FeatureCollection', features: [] };
const fc = (features: Feature[]): FeatureCollection => ({ type: 'FeatureCollection', features });

export class MapController {
  readonly map: MlMap;
  private theme: Theme;
  private st: LayerState = { selected: null, dimmed: false, zone: null, offendingZone: null };
  private sync: LayerSync;
  private site: string | null = null;
  private loaded = false;
  private raf = 0;
  private offs: (() => void)[] = [];
  private abortedAt = 0;
  private feeds = new MapFeeds(() => this.session, (what) => { this.need[what] = true; });

  private vehicles = new Map<string, Feature>();
  private homeKeys = new Map<string, string>();
  private need = { vehicles: true, trails: true, homes: true, zones: true, stations: true, missions: true, grid: true, all: true };
  private last = { vehicles: 0, trails: 0, missions: 0, homes: 0, hover: 0 };
  private nextZoneAt: number | null = null;


  private fitted: 'none' | 'other' | 'vehicles' = 'none';
  private fitOnFlush = false;
  private trailsShown = false;
  private userMoved = false;
  private loadedAt = 0;

  private popup: Popup;
  private hoverAt: { x: number; y: number } | null = null;
  private hoverMoved = false;
  private hovered: { kind: string; key: string; props: Record<string, unknown> } | null = null;
  private drawing: DrawSession | null = null;

  constructor(private readonly el: HTMLDivElement, private readonly hooks: ControllerHooks) {
    this.theme = readTheme();
    this.map = new MlMap({
      container: el,
      style: baseStyle(this.theme, this.st),
      center: [0, 20], zoom: 1.5,
      attributionControl: false,
      pitchWithRotate: false, maxPitch: 0,
      fadeDuration: 0,
      validateStyle: false,
    });
    (window as unknown as { __fleetMap?: MlMap }).__fleetMap = this.map;
    this.sync = new LayerSync(this.map, layers(this.theme, this.st));
    addIcons(this.map, this.theme.warn);
    this.map.addControl(new NavigationControl({ visualizePitch: false }), 'top-right');
    this.map.addControl(new ScaleControl({ unit: 'metric', maxWidth: 120 }), 'bottom-right');
    this.popup = new Popup({ closeButton: false, closeOnClick: false, className: 'fleet-popup', maxWidth: '280px', offset: 14 });

    this.map.on('load', () => {
      this.loaded = true;
      this.loadedAt = performance.now();
      this.themeChanged(); // the page may have switched theme while the style loaded
      // For end-to-end tests and benchmarks (harmless: the same the panels get).
      (window as unknown as { __fleetMapApi?: MapApi }).__fleetMapApi = this.api;
      this.hooks.onReady(this.api);
    });
    this.map.on('movestart', (e) => { if ((e as { originalEvent?: Event }).originalEvent) this.userMoved = true; });
    this.map.on('moveend', () => { this.need.grid = true; this.need.trails = true; });
    this.map.on('resize', () => { this.need.grid = true; });
    this.map.on('mousemove', (e) => { this.hoverAt = e.point; this.hoverMoved = true; });
    this.map.on('mouseout', () => { this.hoverAt = null; this.hoverMoved = true; });
    this.map.on('click', (e) => this.click(e.point));
    this.raf = requestAnimationFrame(this.frame);

    const store = this.hooks.app().store;
    this.st.selected = store.selected;
    this.offs.push(
      store.on('selection', () => { this.st.selected = store.selected; this.restyle(); }),
      store.on('zones', () => { this.need.zones = true; }),
      store.on('missions', () => { this.need.missions = true; }),
    );
    const obs = new MutationObserver(() => this.themeChanged());
    obs.observe(document.documentElement, { attributes: true, attributeFilter: ['data-theme'] });
    this.offs.push(() => obs.disconnect());

    void this.loadBasemap();
    this.feeds.start();
  }

  destroy(): void {
    cancelAnimationFrame(this.raf);
    this.abortedAt = Date.now();
    this.feeds.stop();
    this.offs.forEach((f) => f());
    this.drawing?.cancel();
    this.popup.remove();
    this.map.remove();
    const w = window as unknown as { __fleetMap?: MlMap; __fleetMapApi?: MapApi };
    if (w.__fleetMap === this.map) delete w.__fleetMap;
    if (w.__fleetMapApi === this.api) delete w.__fleetMapApi;
  }

  setSite(site: string | null): void {
    if (site === this.site) return;
    const first = this.site === null && !this.loaded;
    this.site = site;
    this.need = { ...this.need, all: true, zones: true, stations: true, missions: true };
    // Picking a site is asking to look at it: frame its fleet once it is drawn.
    if (!first) this.fitOnFlush = true;
  }

  private get session() { return this.hooks.app().session; }
  private get store() { return this.hooks.app().store; }

  private source(id: SourceId): GeoJSONSource | undefined {
    return this.map.getSource(id) as GeoJSONSource | undefined;
  }

  private restyle(): void {
    if (this.loaded) this.sync.apply(layers(this.theme, this.st));
  }

  private themeChanged(): void {
    this.theme = readTheme();
    if (!this.loaded) return;
    setHatch(this.map, this.theme.warn);
    this.restyle();
  }

  // ------------------------------------------------------------------------ data from the bridge

  private async loadBasemap(): Promise<void> {
    const cfg = await this.feeds.config();
    const tiles = cfg?.basemap_tiles;
    if (!tiles || this.abortedAt) return;
    const add = () => {
      if (this.map.getSource('basemap')) return;
      this.map.addSource('basemap', {
        type: 'raster', tiles: [tiles], tileSize: 256, maxzoom: 19,
        ...(cfg?.basemap_attribution ? { attribution: cfg.basemap_attribution } : {}),
      });
      this.map.addLayer({ id: 'basemap', type: 'raster', source: 'basemap', paint: { 'raster-opacity': 0.85 } }, 'grid-line');
      if (cfg?.basemap_attribution) this.map.addControl(new AttributionControl({ compact: true }), 'bottom-right');
    };
    if (this.loaded) add();
    else this.map.once('load', add);
  }

  // ------------------------------------------------------------------------ the frame loop

  private frame = (t: number): void => {
    this.raf = requestAnimationFrame(this.frame);
    if (!this.loaded) return;
    const n = this.need;
    const every = this.vehicles.size >= BIG_FLEET ? BIG_FLEET_VEHICLE_MS : VEHICLE_MS;
    let pushed = false;
    if ((n.vehicles || n.all || this.store.dirtyAll || this.store.dirty.size) && t - this.last.vehicles >= every) {
      this.last.vehicles = t;
      this.flushVehicles();
      pushed = true;
    }
    // Trails and mission paths change only with the vehicles: push them in the same frame,
    // so the map redraws once for all three.
    if (n.trails && (pushed || t - this.last.trails >= 2 * TRAIL_MS) && t - this.last.trails >= TRAIL_MS) {
      this.last.trails = t;
      n.trails = false;
      this.flushTrails();
    }
    if (n.missions && (pushed || t - this.last.missions >= 2 * MISSION_MS) && t - this.last.missions >= MISSION_MS) {
      this.last.missions = t;
      n.missions = false;
      this.flushMissions();
    }
    if (n.homes && t - this.last.homes >= HOME_MS) {
      this.last.homes = t;
      n.homes = false;
      this.source('homes')?.setData(homeFeatures(this.store.vehicles.values(), this.site));
    }
    if (this.nextZoneAt !== null && Date.now() / 1000 >= this.nextZoneAt) n.zones = true;
    if (n.zones) {
      n.zones = false;
      const now = Date.now() / 1000;
      this.source('zones')?.setData(zoneFeatures(this.store.zones, now, this.site));
      this.nextZoneAt = nextZoneChange(this.store.zones, now);
    }
    if (n.stations) {
      n.stations = false;
      this.flushStations();
    }
    if (n.grid) {
      n.grid = false;
      const b = this.map.getBounds();
      this.source('grid')?.setData(graticule({ w: b.getWest(), s: b.getSouth(), e: b.getEast(), n: b.getNorth() }));
    }
    if (this.hoverMoved || (this.hovered && t - this.last.hover >= 1000)) {
      this.last.hover = t;
      this.hoverMoved = false;
      this.hover();
    }
    this.autoFit(t);
  };

  private flushVehicles(): void {
    const store = this.store;
    const all = this.need.all || store.dirtyAll;
    if (all) {
      this.vehicles.clear();
      for (const v of store.vehicles.values()) {
        const f = vehicleFeature(v, this.site);
        if (f) this.vehicles.set(v.vehicle_id, f);
      }
      this.homeKeys.clear();
      this.need.homes = true;
    } else {
      for (const id of store.dirty) {
        const v = store.vehicles.get(id);
        const f = v ? vehicleFeature(v, this.site) : null;
        if (f) this.vehicles.set(id, f);
        else this.vehicles.delete(id);
        const h = v?.home ? `${v.home.longitude},${v.home.latitude}` : '';
        if (this.homeKeys.get(id) !== h) { this.homeKeys.set(id, h); this.need.homes = true; }
      }
    }
    store.dirty.clear();
    store.dirtyAll = false;
    this.need.all = false;
    this.need.vehicles = false;
    this.need.trails = true;
    this.need.missions = true;
    const features = Array.from(this.vehicles.values());
    const count = features.length;
    const src = this.source('vehicles');
    if (!src) return;
    if (this.fitOnFlush) {
      this.fitOnFlush = false;
      if (!this.drawing) this.fitFleet();
    }
    void src.setData(fc(features)).then(() => this.el.setAttribute('data-vehicles-drawn', String(count)), () => undefined);
  }

  private flushTrails(): void {
    // 1,000 trails rebuilt every second were the map's most expensive layer (measured in
    // bench/dashboard_frames.py: picture 5 s late, 3 fps in software WebGL). A big fleet
    // shows trails only zoomed in, and only for the vehicles in view.
    const big = this.vehicles.size >= BIG_FLEET;
    if (big && this.map.getZoom() < BIG_FLEET_TRAIL_ZOOM) {
      if (this.trailsShown) this.source('trails')?.setData(EMPTY);
      this.trailsShown = false;
      return;
    }
    const view = big ? this.map.getBounds() : null;
    const out: Feature[] = [];
    for (const id of this.vehicles.keys()) {
      const t = this.store.trails.get(id);
      if (!t || t.length < 2) continue;
      if (view && !view.contains(t[t.length - 1])) continue;
      out.push(line(t, { id }));
    }
    this.source('trails')?.setData(fc(out));
    this.trailsShown = out.length > 0;
  }

  private flushMissions(): void {
    const out: Feature[] = [];
    const shown = new Set<string>();
    for (const m of this.store.missions.values()) {
      if (!showsPath(m) || !m.vehicle_id) continue;
      const v = this.store.vehicles.get(m.vehicle_id);
      if (this.site && v && v.site_id !== this.site) continue;
      shown.add(m.mission_id);
      const e = this.feeds.path(m.mission_id);
      if (!e.coords) continue;
      const pos = v?.position ? [v.position.longitude, v.position.latitude] : null;
      const hint = e.coords.length === m.waypoint_count ? m.current_waypoint : null;
      const s = splitPath(e.coords, pos, e.segment, hint);
      e.segment = s.segment;
      const props = { mission: m.mission_id, vehicle: m.vehicle_id };
      if (s.remaining.length >= 2) out.push(line(s.remaining, { ...props, kind: 'planned' }));
      if (s.flown.length >= 2) out.push(line(s.flown, { ...props, kind: 'flown' }));
    }
    this.feeds.keepPaths(shown);
    this.source('missions')?.setData(fc(out));
  }

  private flushStations(): void {
    const out: Feature[] = [];
    for (const s of this.feeds.stations) {
      const p = s.properties;
      if (this.site && p.site_id && p.site_id !== this.site) continue;
      const load = this.feeds.loads.get(String(p.station_id ?? s.id));
      out.push({
        type: 'Feature', geometry: s.geometry,
        properties: {
          kind: 'station', station_id: p.station_id ?? s.id, name: p.name ?? s.id, pads: p.pads,
          charge_rate_w: p.charge_rate_w, waiting: load ? load.queued + load.flying : 0,
          queued: load?.queued ?? 0, charging: load?.charging ?? 0,
        },
      });
      for (const pad of (p.pad_positions as number[][] | null | undefined) ?? []) {
        out.push({ type: 'Feature', geometry: { type: 'Point', coordinates: pad }, properties: { kind: 'pad' } });
      }
    }
    this.source('stations')?.setData(fc(out));
  }

  // ------------------------------------------------------------------------ framing

  private autoFit(t: number): void {
    if (this.userMoved || this.fitted === 'vehicles') return;
    if (this.vehicles.size) {
      this.fitted = 'vehicles';
      this.fitFleet(0);
    } else if (this.fitted === 'none' && t - this.loadedAt > 2500) {
      const b = boundsOf(this.otherCoords());
      if (b) {
        this.fitted = 'other';
        this.fitBounds(b, 60, 0);
      }
    }
  }

  private *otherCoords(): Generator<Position> {
    yield* featureCoords(zoneFeatures(this.store.zones, Date.now() / 1000, this.site));
    for (const s of this.feeds.stations) yield s.geometry.coordinates;
  }

  private fitBounds(b: [LngLat, LngLat], padding: number, duration = 600): void {
    const c = this.map.getContainer();
    const pad = Math.max(0, Math.min(padding, c.clientWidth / 4, c.clientHeight / 4));
    this.map.fitBounds(b as LngLatBoundsLike, { padding: pad, maxZoom: 16, duration });
  }

  /** Frame every vehicle shown (else the zones and stations). */
  fitFleet(duration = 600): void {
    const b = boundsOf(Array.from(this.vehicles.values(), (f) => (f.geometry as { coordinates: Position }).coordinates))
      ?? boundsOf(this.otherCoords());
    if (b) this.fitBounds(b, 70, duration);
  }

  // ------------------------------------------------------------------------ pointer

  private query(point: { x: number; y: number }, layerIds: string[], r = 6): MapGeoJSONFeature[] {
    const ids = layerIds.filter((id) => this.map.getLayer(id));
    if (!ids.length) return [];
    return this.map.queryRenderedFeatures([[point.x - r, point.y - r], [point.x + r, point.y + r]], { layers: ids });
  }

  private click(point: { x: number; y: number }): void {
    if (this.drawing) return;
    // Vehicles parked side by side overlap: take the one nearest the pointer.
    let id: string | undefined;
    let best = Infinity;
    for (const f of this.query(point, ['veh-icon-sel', 'veh-icon'], 10)) {
      const p = this.map.project((f.geometry as unknown as { coordinates: [number, number] }).coordinates);
      const d = (p.x - point.x) ** 2 + (p.y - point.y) ** 2;
      if (d < best) { best = d; id = f.properties?.id as string; }
    }
    if (id) this.hooks.app().openVehicle(id);
  }

  private hover(): void {
    const at = this.hoverAt;
    if (!at || this.drawing) {
      this.hovered = null;
      this.popup.remove();
      this.map.getCanvas().style.cursor = '';
      return;
    }
    const hits = this.query(at, INTERACTIVE);
    hits.sort((a, b) => INTERACTIVE.indexOf(a.layer.id) - INTERACTIVE.indexOf(b.layer.id));
    const f = hits[0];
    if (!f) {
      this.hovered = null;
      this.popup.remove();
      this.map.getCanvas().style.cursor = '';
      return;
    }
    const layer = f.layer.id;
    const p = f.properties ?? {};
    const kind = layer.startsWith('veh') ? 'vehicle' : layer.startsWith('station') ? 'station'
      : layer.startsWith('home') ? 'home' : layer.startsWith('mission') ? 'mission' : 'zone';
    const key = String(p.id ?? p.station_id ?? p.mission ?? p.ids ?? '');
    this.map.getCanvas().style.cursor = kind === 'vehicle' ? 'pointer' : '';
    let content: HTMLElement | null = null;
    if (kind === 'vehicle') {
      const v = this.store.vehicles.get(key);
      if (v) content = vehiclePopup(v);
    } else if (kind === 'station') content = stationPopup(p, this.feeds.loads.get(key));
    else if (kind === 'home') content = homePopup(p);
    else if (kind === 'mission') content = missionPopup(this.store.missions.get(key), key);
    else content = zonePopup(p);
    if (!content) { this.popup.remove(); return; }
    // Points keep the popup on the thing; lines and areas follow the pointer.
    const g = f.geometry;
    const anchor = g.type === 'Point' ? (g.coordinates as [number, number]) : this.map.unproject([at.x, at.y]);
    this.popup.setLngLat(anchor).setDOMContent(content);
    if (!this.popup.isOpen()) this.popup.addTo(this.map);
    this.hovered = { kind, key, props: p };
  }

  // ------------------------------------------------------------------------ the panels' API

  readonly api: MapApi = {
    flyTo: (at, zoom) => {
      this.userMoved = true;
      this.map.flyTo({ center: at, zoom: zoom ?? Math.max(this.map.getZoom(), 15), duration: 900, essential: true });
    },
    fitTo: (coords, padding = 60) => {
      const b = boundsOf(coords);
      if (!b) return;
      this.userMoved = true;
      this.fitBounds(b, padding);
    },
    setPreview: (p: PreviewOverlay | null) => {
      this.source('preview-paths')?.setData(fc(p?.paths ?? []));
      this.source('preview-area')?.setData(p?.area ? fc([p.area]) : EMPTY);
      this.source('preview-stops')?.setData(fc(p?.stops ?? []));
      this.source('preview-offending')?.setData(p?.offending ? fc([p.offending]) : EMPTY);
      this.st.offendingZone = p?.offendingZoneId ?? null;
      this.restyle();
    },
    setReplay: (r: ReplayOverlay | null) => {
      this.source('replay-track')?.setData(r ? fc([
        { ...r.track, properties: { ...r.track.properties, kind: 'track' } },
        { ...r.flown, properties: { ...r.flown.properties, kind: 'flown' } },
      ]) : EMPTY);
      this.source('replay-pos')?.setData(r?.position ? fc([{
        type: 'Feature', geometry: { type: 'Point', coordinates: r.position },
        properties: { hdg: r.headingDeg == null ? -1 : ((r.headingDeg % 360) + 360) % 360, label: r.label },
      }]) : EMPTY);
    },
    setLiveDimmed: (dimmed) => {
      if (this.st.dimmed === dimmed) return;
      this.st.dimmed = dimmed;
      this.restyle();
    },
    startDraw: (mode: DrawMode, done: (c: LngLat[]) => void, initial?: LngLat[], onCancel?: () => void) => {
      this.drawing?.cancel();
      this.hoverAt = null;
      this.hover();
      const session = startDrawSession(this.map, {
        mode, initial, accent: this.theme.accent, outline: '#ffffff',
        onDone: (c) => { this.endDraw(session); done(c); },
        onCancel: () => { this.endDraw(session); onCancel?.(); },
      });
      this.drawing = session;
      this.hooks.onDraw({ mode, editing: session.editing });
      // A shape to edit that is (partly) out of view is brought into it, below the toolbar.
      const b = initial?.length ? boundsOf(initial) : null;
      if (b) {
        const view = this.map.getBounds();
        if (!view.contains(b[0]) || !view.contains(b[1])) {
          this.userMoved = true;
          this.map.fitBounds(b as LngLatBoundsLike, { padding: { top: 90, bottom: 40, left: 40, right: 60 }, maxZoom: 17, duration: 500 });
        }
      }
      return () => {
        if (this.drawing !== session) return;
        // The caller cancelled: it knows, so its onCancel is not called back.
        onCancel = undefined;
        session.cancel();
      };
    },
    finishDraw: () => this.drawing?.finish(),
    highlightZone: (id) => {
      if (this.st.zone === id) return;
      this.st.zone = id;
      this.restyle();
    },
    setHighlight: (f) => { this.source('highlight')?.setData(f ?? EMPTY); },
  };

  /** The map's own toolbar: finish or cancel the drawing under way. */
  finishDraw(): void { this.drawing?.finish(); }
  cancelDraw(): void { this.drawing?.cancel(); }

  private endDraw(s: DrawSession): void {
    if (this.drawing !== s) return;
    this.drawing = null;
    this.hooks.onDraw(null);
  }
}
