// The small map of the HTML pages: the page's features (from the JSON block the server
// wrote) over the international borders, read from this service's own borders collection.
(function () {
  'use strict';
  var holder = document.getElementById('bl-map');
  var source = document.getElementById('bl-map-data');
  if (!holder || !source || typeof L === 'undefined') { return; }
  var data = JSON.parse(source.textContent);
  var map = L.map(holder, { scrollWheelZoom: false });
  var features = L.geoJSON(data, {
    pointToLayer: function (feature, latlng) {
      return L.circleMarker(latlng, { radius: 7, color: '#0b4f8a', weight: 2, fillColor: '#2f80c8', fillOpacity: 0.8 });
    },
    style: function () { return { color: '#0b4f8a', weight: 2, fillOpacity: 0.15 }; },
    onEachFeature: function (feature, layer) {
      var name = feature.properties && feature.properties.name;
      // a text node, not a string: Leaflet puts a string tooltip in as HTML
      layer.bindTooltip(document.createTextNode(String(name || feature.id)));
    }
  }).addTo(map);
  var bounds = features.getBounds();
  if (bounds.isValid()) {
    map.fitBounds(bounds.pad(0.3), { maxZoom: 9 });
  } else {
    map.setView([2, 20], 4);
  }
  holder.dataset.features = String(features.getLayers().length);
  var view = map.getBounds();
  var clamp = function (v, limit) { return Math.max(-limit, Math.min(limit, v)).toFixed(4); };
  var url = holder.dataset.borders + '?f=json&limit=100&bbox=' + [
    clamp(view.getWest(), 180), clamp(view.getSouth(), 90),
    clamp(view.getEast(), 180), clamp(view.getNorth(), 90)
  ].join(',');
  fetch(url, { headers: { Accept: 'application/geo+json' } })
    .then(function (response) { return response.ok ? response.json() : null; })
    .then(function (borders) {
      if (!borders) { return; }
      var layer = L.geoJSON(borders, { style: { color: '#6a3d9a', weight: 2, dashArray: '6 4' }, interactive: false });
      layer.addTo(map).bringToBack();
      holder.dataset.bordersLoaded = String(layer.getLayers().length);
    })
    .catch(function () { /* the map still shows the features */ });
}());
