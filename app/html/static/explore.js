// The large-data map: MapLibre GL JS drawing this service's vector tiles (OGC API - Tiles,
// WebMercatorQuad, one MVT layer per collection named by its id). The view and the filters
// live in the page URL, which follows the map as it moves, so any view can be shared or
// embedded. The page config (layers, words in the page language, choices) is a JSON block the
// server wrote; nothing here is fetched from outside the service.
(function () {
  'use strict';
  var holder = document.getElementById('bl-explore');
  var source = document.getElementById('bl-explore-config');
  if (!holder || !source || typeof maplibregl === 'undefined') { return; }
  var config = JSON.parse(source.textContent);
  var W = config.words;
  var kinds = config.choices.kinds;
  var filters = Object.assign({}, config.filters);
  var shown = {};
  config.layers.forEach(function (layer) { shown[layer.id] = layer.on; });
  maplibregl.setWorkerUrl(config.worker);

  // -- URLs ---------------------------------------------------------------------------------

  function filterQuery() {
    var out = new URLSearchParams();
    config.filterNames.forEach(function (name) {
      if (filters[name] !== undefined && filters[name] !== '') { out.set(name, filters[name]); }
    });
    return out;
  }

  function tileUrl(layer) {
    var url = config.tiles.replace('{collection}', encodeURIComponent(layer.id));
    var query = layer.filtered ? filterQuery().toString() : '';
    return query ? url + '?' + query : url;
  }

  function pageQuery(extra) {
    var out = filterQuery();
    var centre = map.getCenter();
    out.set('center', centre.lng.toFixed(5) + ',' + centre.lat.toFixed(5));
    out.set('zoom', map.getZoom().toFixed(2));
    out.set('layers', config.layers.filter(function (l) { return shown[l.id]; })
      .map(function (l) { return l.id; }).join(','));
    out.set('lang', config.lang);
    Object.keys(extra || {}).forEach(function (k) { out.set(k, extra[k]); });
    return out;
  }

  function syncUrl() {
    var query = pageQuery();
    if (config.embed) { query.set('embed', 'true'); }
    history.replaceState(null, '', config.path + '?' + query.toString());
    document.querySelectorAll('[data-lang]').forEach(function (link) {
      var other = pageQuery({ lang: link.dataset.lang });
      link.setAttribute('href', config.path + '?' + other.toString());
    });
    var embed = document.getElementById('bl-embed');
    if (embed) {
      var src = location.origin + config.path + '?' + pageQuery({ embed: 'true' }).toString();
      embed.value = '<iframe src="' + src.replace(/&/g, '&amp;').replace(/"/g, '&quot;') +
        '" width="800" height="600" style="border:0"></iframe>';
    }
  }

  // -- style ----------------------------------------------------------------------------------

  var kindColour = ['match', ['get', 'kind']];
  kinds.forEach(function (k) { kindColour.push(k.code, k.colour); });
  kindColour.push('#777777');
  var POLYGONS = ['in', ['geometry-type'], ['literal', ['Polygon', 'MultiPolygon']]];
  var LINES = ['in', ['geometry-type'], ['literal', ['LineString', 'MultiLineString']]];
  var POINTS = ['in', ['geometry-type'], ['literal', ['Point', 'MultiPoint']]];

  function areaLayers(id, src, fill, opacity, line) {
    return [
      { id: id + '-fill', type: 'fill', source: src, 'source-layer': id, filter: POLYGONS,
        paint: { 'fill-color': fill, 'fill-opacity': opacity } },
      { id: id + '-outline', type: 'line', source: src, 'source-layer': id, filter: POLYGONS,
        paint: { 'line-color': line, 'line-width': 1 } }
    ];
  }

  function styleLayers(layer) {
    var id = layer.id;
    var src = 'src-' + id;
    switch (layer.style) {
      case 'countries':
        return areaLayers(id, src, '#f4f1ea', 1, '#b8b0a0');
      case 'disputed':
        return areaLayers(id, src, '#e3c9a8', 0.5, '#b07d48');
      case 'zones':
        return areaLayers(id, src, '#2e8b57', 0.15, '#2e8b57');
      case 'areas':
        return areaLayers(id, src, '#8e44ad', 0.15, '#8e44ad').concat([
          { id: id + '-point', type: 'circle', source: src, 'source-layer': id, filter: POINTS,
            paint: { 'circle-radius': 6, 'circle-color': '#8e44ad', 'circle-opacity': 0.6 } }
        ]);
      case 'borders':
        return [{ id: id + '-line', type: 'line', source: src, 'source-layer': id,
          paint: { 'line-color': '#6a3d9a', 'line-width': 1.6, 'line-dasharray': [3, 2] } }];
      case 'routes':
        // cross-border flows stand out: thicker and red
        return [{ id: id + '-line', type: 'line', source: src, 'source-layer': id, filter: LINES,
          paint: {
            'line-color': ['case', ['==', ['get', 'cross_border'], true], '#c0392b', '#d68910'],
            'line-width': ['case', ['==', ['get', 'cross_border'], true], 2.2, 1.4],
            'line-opacity': 0.8
          } }];
      case 'band':
        return [
          { id: 'bands-fill', type: 'fill', source: 'src-bands',
            paint: { 'fill-color': '#e67e22', 'fill-opacity': 0.15 } },
          { id: 'bands-line', type: 'line', source: 'src-bands',
            paint: { 'line-color': '#e67e22', 'line-width': 1 } }
        ];
      case 'points':
        return [{ id: id + '-point', type: 'circle', source: src, 'source-layer': id,
          paint: { 'circle-radius': 3, 'circle-color': '#555555' } }];
      case 'sites':
        return [
          { id: 'sites-aggregated', type: 'circle', source: src, 'source-layer': id,
            filter: ['has', 'point_count'],
            paint: {
              'circle-color': '#34495e', 'circle-opacity': 0.55,
              'circle-stroke-color': '#ffffff', 'circle-stroke-width': 1,
              'circle-radius': ['interpolate', ['linear'], ['sqrt', ['get', 'point_count']],
                1, 4, 10, 10, 100, 22, 1000, 40]
            } },
          { id: 'sites-point', type: 'circle', source: src, 'source-layer': id,
            filter: ['!', ['has', 'point_count']],
            paint: {
              'circle-color': kindColour, 'circle-stroke-color': '#222222',
              'circle-stroke-width': 0.6,
              'circle-radius': ['interpolate', ['linear'], ['zoom'], 4, 2.5, 10, 5, 14, 7]
            } }
        ];
      default:
        return areaLayers(id, src, '#7f8c8d', 0.2, '#555555').concat([
          { id: id + '-line', type: 'line', source: src, 'source-layer': id, filter: LINES,
            paint: { 'line-color': '#555555', 'line-width': 1.2 } },
          { id: id + '-point', type: 'circle', source: src, 'source-layer': id, filter: POINTS,
            paint: { 'circle-radius': 3.5, 'circle-color': '#555555' } }
        ]);
    }
  }

  var EMPTY = { type: 'FeatureCollection', features: [] };
  var style = {
    version: 8,
    sources: {},
    layers: [{ id: 'background', type: 'background', paint: { 'background-color': '#dbe7ef' } }]
  };
  var drawnBy = {};
  config.layers.forEach(function (layer) {
    if (layer.style === 'band') {
      style.sources['src-bands'] = { type: 'geojson', data: EMPTY };
    } else {
      style.sources['src-' + layer.id] = {
        type: 'vector', tiles: [tileUrl(layer)], minzoom: 0, maxzoom: 16,
        attribution: layer.id === 'borders' ? config.attribution : undefined
      };
    }
    drawnBy[layer.id] = styleLayers(layer).map(function (l) {
      l.layout = { visibility: shown[layer.id] ? 'visible' : 'none' };
      style.layers.push(l);
      return l.id;
    });
  });

  var map = new maplibregl.Map({
    container: holder,
    style: style,
    center: config.view.center,
    zoom: config.view.zoom,
    maxZoom: 20,
    attributionControl: { compact: false },
    dragRotate: false,
    pitchWithRotate: false
  });
  map.touchZoomRotate.disableRotation();
  map.addControl(new maplibregl.NavigationControl({ showCompass: false }), 'top-right');
  map.addControl(new maplibregl.ScaleControl({ unit: 'metric' }), 'bottom-right');

  // -- aggregated counts (HTML labels: the page needs no glyph server) ------------------------

  var countMarkers = [];
  var MAX_COUNT_LABELS = 400;
  function drawCounts() {
    countMarkers.forEach(function (m) { m.remove(); });
    countMarkers = [];
    if (!shown.sites || !map.getLayer('sites-aggregated')) { return; }
    var seen = {};
    map.queryRenderedFeatures({ layers: ['sites-aggregated'] }).some(function (f) {
      var where = f.geometry.coordinates;
      var key = where[0].toFixed(4) + ',' + where[1].toFixed(4);
      if (seen[key]) { return false; }
      seen[key] = true;
      var label = document.createElement('div');
      label.className = 'bl-count';
      label.textContent = Number(f.properties.point_count).toLocaleString(config.lang);
      countMarkers.push(new maplibregl.Marker({ element: label }).setLngLat(where).addTo(map));
      return countMarkers.length >= MAX_COUNT_LABELS;
    });
  }

  // -- popups -----------------------------------------------------------------------------------

  function row(dl, term, value) {
    if (value === undefined || value === null || value === '') { return; }
    var dt = document.createElement('dt');
    dt.textContent = term;
    var dd = document.createElement('dd');
    dd.textContent = value;
    dl.appendChild(dt);
    dl.appendChild(dd);
  }

  function label(list, code) {
    var found = list.find(function (item) { return item.code === code; });
    return found ? found.label : code;
  }

  function sitePopup(feature) {
    var p = feature.properties;
    var box = document.createElement('div');
    var title = document.createElement('strong');
    title.textContent = p.name || p.id || '';
    box.appendChild(title);
    var dl = document.createElement('dl');
    row(dl, W.kind, label(kinds, p.kind));
    var mins = p.minerals;
    if (typeof mins === 'string') {
      try { mins = JSON.parse(mins); } catch (e) { mins = mins.split(','); }
    }
    if (Array.isArray(mins)) {
      row(dl, W.minerals, mins.map(function (m) { return label(config.choices.minerals, m); }).join(', '));
    }
    row(dl, W.country, p.country ? label(config.choices.countries, p.country) : '');
    row(dl, W.border, p.border_pair ? label(config.choices.borders, p.border_pair) : '');
    var metres = p.border_distance_m;
    if (metres === undefined || metres === null) {
      metres = p.border_distance_km === undefined || p.border_distance_km === null ? null : p.border_distance_km * 1000;
    }
    if (metres !== null) {
      var km = (Number(metres) / 1000).toLocaleString(config.lang, { maximumFractionDigits: 1 });
      row(dl, W.distance, W.km.replace('{n}', km));
    }
    box.appendChild(dl);
    var id = p.id || feature.id;
    if (id !== undefined && !config.embed) {
      var link = document.createElement('a');
      link.href = config.sitePage + encodeURIComponent(id) + '?f=html&lang=' + config.lang;
      link.textContent = W.open;
      box.appendChild(link);
    }
    return box;
  }

  map.on('click', 'sites-point', function (e) {
    new maplibregl.Popup({ maxWidth: '320px' }).setLngLat(e.lngLat)
      .setDOMContent(sitePopup(e.features[0])).addTo(map);
  });
  map.on('click', 'sites-aggregated', function (e) {
    var box = document.createElement('div');
    box.textContent = W.aggregated + ' (' +
      Number(e.features[0].properties.point_count).toLocaleString(config.lang) + ')';
    new maplibregl.Popup().setLngLat(e.lngLat).setDOMContent(box).addTo(map);
    map.easeTo({ center: e.lngLat, zoom: Math.min(map.getZoom() + 2, 20) });
  });
  ['sites-point', 'sites-aggregated'].forEach(function (id) {
    map.on('mouseenter', id, function () { map.getCanvas().style.cursor = 'pointer'; });
    map.on('mouseleave', id, function () { map.getCanvas().style.cursor = ''; });
  });

  // -- filters, layers, band ------------------------------------------------------------------

  var status = document.getElementById('bl-status');
  function say(text) { if (status) { status.textContent = text; } }

  // The band's own line: why a band is missing (too wide, the server busy drawing others'),
  // never a silent blank, and not overwritten by the count of the status line above it.
  var bandStatus = document.getElementById('bl-band-status');
  function sayBand(text) { if (bandStatus) { bandStatus.textContent = text; } }

  function loadBand() {
    var source = map.getSource('src-bands');
    if (!source) { return; }
    sayBand('');
    if (!filters.within_km) { source.setData(EMPTY); return; }
    var query = new URLSearchParams({ within_km: filters.within_km });
    if (filters.border) { query.set('border', filters.border); }
    fetch(config.bands + '?' + query.toString(), { headers: { Accept: 'application/geo+json' } })
      .then(function (r) {
        if (r.ok) { return r.json(); }
        // say why (too wide, or the server busy drawing others' bands), never a silent blank
        return r.json().catch(function () { return {}; }).then(function (body) {
          sayBand(W.band_failed + ' ' + (body.detail || r.status));
          return EMPTY;
        });
      })
      .then(function (data) { source.setData(data); })
      .catch(function () { source.setData(EMPTY); sayBand(W.band_failed); });
  }

  function countMatches() {
    var query = filterQuery();
    query.set('limit', '1');
    return fetch(config.items + '?' + query.toString(), { headers: { Accept: 'application/geo+json' } })
      .then(function (r) {
        return r.json().then(function (body) { return { ok: r.ok, body: body }; });
      });
  }

  function showCount(answer) {
    if (!answer.ok) {
      say(W.invalid + ' ' + (answer.body.detail || ''));
      return false;
    }
    var n = answer.body.numberMatched;
    if (n === undefined) {
      say(W.matched_more.replace('{n}', Number(answer.body.numberReturned).toLocaleString(config.lang)));
    } else {
      say(W.matched.replace('{n}', Number(n).toLocaleString(config.lang)));
    }
    return true;
  }

  function setShown(id, on) {
    shown[id] = on;
    (drawnBy[id] || []).forEach(function (layerId) {
      map.setLayoutProperty(layerId, 'visibility', on ? 'visible' : 'none');
    });
    var box = document.querySelector('#bl-layers input[value="' + id + '"]');
    if (box) { box.checked = on; }
  }

  function applyFilters(next) {
    var previous = filters;
    filters = next;
    say(W.loading);
    countMatches().then(function (answer) {
      if (!showCount(answer)) { filters = previous; return; }
      config.layers.forEach(function (layer) {
        if (layer.filtered) { map.getSource('src-' + layer.id).setTiles([tileUrl(layer)]); }
      });
      if (filters.within_km && !previous.within_km) { setShown('bands', true); }
      loadBand();
      syncUrl();
    }).catch(function () { filters = previous; say(W.invalid); });
  }

  var form = document.getElementById('bl-filters');
  if (form) {
    form.addEventListener('submit', function (e) {
      e.preventDefault();
      var next = Object.assign({}, filters);
      ['kind', 'mineral', 'country', 'border', 'within_km', 'q', 'filter'].forEach(function (name) {
        var value = form.elements[name].value.trim();
        if (value) { next[name] = value; } else { delete next[name]; }
      });
      applyFilters(next);
    });
    form.addEventListener('reset', function () {
      setTimeout(function () { applyFilters({}); }, 0);
    });
    form.querySelectorAll('input[name="layer"]').forEach(function (box) {
      box.addEventListener('change', function () {
        setShown(box.value, box.checked);
        if (box.value === 'sites') { drawCounts(); }
        syncUrl();
      });
    });
  }

  // -- state for people and for tests ---------------------------------------------------------

  var errors = [];
  map.on('error', function (e) { errors.push(String((e.error && e.error.message) || e)); });
  map.on('moveend', syncUrl);
  map.on('idle', drawCounts);
  map.on('load', function () {
    loadBand();
    syncUrl();
    if (status) { countMatches().then(showCount).catch(function () { say(W.invalid); }); }
    holder.dataset.loaded = 'true';
  });
  window.blExplore = { map: map, errors: errors, filters: function () { return filters; },
    shown: shown, applyFilters: applyFilters };
}());
