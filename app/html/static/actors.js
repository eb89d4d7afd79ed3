// The site page's supply-chain actors: read from the site's actors link (the actors
// collection, JSON) and written into the table the server rendered with translated headers.
(function () {
  'use strict';
  var table = document.getElementById('actors');
  var types = document.getElementById('bl-actor-types');
  if (!table || !types) { return; }
  var labels = JSON.parse(types.textContent);
  var none = table.dataset.none;
  var site = table.dataset.site;
  var url = new URL(table.dataset.src, document.baseURI);
  url.searchParams.set('f', 'json');
  url.searchParams.set('limit', '100');
  function cell(row, text) {
    var td = document.createElement('td');
    td.textContent = text === null || text === undefined || text === '' ? none : String(text);
    row.appendChild(td);
    return td;
  }
  fetch(url, { headers: { Accept: 'application/geo+json' } })
    .then(function (response) { return response.ok ? response.json() : null; })
    .then(function (collection) {
      if (!collection) { return; }
      var features = collection.features || [];
      if (!features.length) {
        document.getElementById('actors-none').hidden = false;
        return;
      }
      var body = table.tBodies[0];
      features.forEach(function (feature) {
        var p = feature.properties || {};
        var row = document.createElement('tr');
        row.dataset.actor = feature.id;
        cell(row, p.name);
        cell(row, labels[p.actor_type] || p.actor_type);
        cell(row, p.registration);
        var links = [];
        if ((p.works_at || []).indexOf(site) >= 0) { links.push(table.dataset.works); }
        if ((p.buys_at || []).indexOf(site) >= 0) { links.push(table.dataset.buys); }
        cell(row, links.join(', '));
        body.appendChild(row);
      });
      table.hidden = false;
      table.dataset.loaded = String(features.length);
    })
    .catch(function () { /* the link below the table still leads to the actors */ });
}());
