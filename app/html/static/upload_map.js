// The upload report's map: the accepted rows (new sites, matched sites, rows with a warning)
// over the international borders, from the JSON block the server wrote.
(function () {
  'use strict';
  var holder = document.getElementById('bl-upload-map');
  var source = document.getElementById('bl-upload-points');
  if (!holder || !source || typeof L === 'undefined') { return; }
  var data = JSON.parse(source.textContent);
  var colours = { created: '#1b7837', matched: '#2166ac', warning: '#d95f02' };
  var map = L.map(holder, { scrollWheelZoom: false });
  var layer = L.geoJSON(data, {
    pointToLayer: function (feature, latlng) {
      var colour = colours[feature.properties.marker] || colours.matched;
      return L.circleMarker(latlng, { radius: 7, color: colour, weight: 2, fillColor: colour, fillOpacity: 0.7 });
    },
    onEachFeature: function (feature, layer) {
      // a text node, not a string: Leaflet puts a string tooltip in as HTML
      layer.bindTooltip(document.createTextNode(String(feature.properties.label)));
    }
  }).addTo(map);
  var bounds = layer.getBounds();
  if (bounds.isValid()) { map.fitBounds(bounds.pad(0.3), { maxZoom: 9 }); } else { map.setView([2, 20], 4); }
  holder.dataset.features = String(layer.getLayers().length);
  ['created', 'matched', 'warning'].forEach(function (marker) {
    holder.dataset[marker] = String(data.features.filter(function (f) { return f.properties.marker === marker; }).length);
  });
  var view = map.getBounds();
  var clamp = function (v, limit) { return Math.max(-limit, Math.min(limit, v)).toFixed(4); };
  fetch(holder.dataset.borders + '?f=json&limit=100&bbox=' + [
    clamp(view.getWest(), 180), clamp(view.getSouth(), 90), clamp(view.getEast(), 180), clamp(view.getNorth(), 90)
  ].join(','), { headers: { Accept: 'application/geo+json' } })
    .then(function (response) { return response.ok ? response.json() : null; })
    .then(function (borders) {
      if (!borders) { return; }
      L.geoJSON(borders, { style: { color: '#6a3d9a', weight: 2, dashArray: '6 4' }, interactive: false }).addTo(map).bringToBack();
    })
    .catch(function () { /* the map still shows the rows */ });
}());
