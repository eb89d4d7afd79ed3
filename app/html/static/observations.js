// The site page's observations: read from the site's `related` link (the observations
// collection, JSON) and written into the table the server rendered with translated headers.
(function () {
  'use strict';
  var table = document.getElementById('observations');
  var vocabulary = document.getElementById('bl-vocabulary');
  if (!table || !vocabulary) { return; }
  var words = JSON.parse(vocabulary.textContent);
  var none = table.dataset.none;
  var dates = new Intl.DateTimeFormat(words.lang, { dateStyle: 'long', timeZone: 'UTC' });
  var numbers = new Intl.NumberFormat(words.lang, { maximumFractionDigits: 1 });
  var url = new URL(table.dataset.src, document.baseURI);
  url.searchParams.set('f', 'json');
  url.searchParams.set('limit', '100');
  function cell(row, text) {
    var td = document.createElement('td');
    td.textContent = text === null || text === undefined || text === '' ? none : String(text);
    row.appendChild(td);
  }
  fetch(url, { headers: { Accept: 'application/geo+json' } })
    .then(function (response) { return response.ok ? response.json() : null; })
    .then(function (collection) {
      if (!collection) { return; }
      var features = collection.features || [];
      if (!features.length) {
        document.getElementById('observations-none').hidden = false;
        return;
      }
      var body = table.tBodies[0];
      features.forEach(function (feature) {
        var p = feature.properties || {};
        var row = document.createElement('tr');
        cell(row, p.observed_on ? dates.format(new Date(p.observed_on + 'T00:00:00Z')) : null);
        cell(row, p.name);
        cell(row, (p.minerals || []).map(function (m) { return words.minerals[m] || m; }).join(', '));
        cell(row, typeof p.accuracy_m === 'number' ? numbers.format(p.accuracy_m) : null);
        cell(row, p.upload);
        body.appendChild(row);
      });
      table.hidden = false;
      table.dataset.loaded = String(features.length);
    })
    .catch(function () { /* the link below the table still leads to the observations */ });
}());
