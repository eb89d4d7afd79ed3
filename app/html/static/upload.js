// The upload page: send each chosen (or dropped) file with its transfer progress, then follow
// the upload job's status resource until it is done. Every word shown comes from the
// catalogue strings the server wrote into #bl-upload-text.
(function () {
  'use strict';
  var source = document.getElementById('bl-upload-text');
  if (!source) { return; }
  var strings = JSON.parse(source.textContent);
  var POLL_MS = 500;

  function t(key, values) {
    var text = strings.text[key] || key;
    Object.keys(values || {}).forEach(function (name) {
      text = text.split('{' + name + '}').join(String(values[name]));
    });
    return text;
  }

  function stageLabel(stage) {
    var key = 'stage_' + String(stage || 'queued').split(' ')[0];
    return strings.text[key] || stage;
  }

  function entry(list, name) {
    var item = document.createElement('li');
    item.className = 'upload-entry';
    var bar = document.createElement('progress');
    bar.max = 100;
    bar.value = 0;
    var status = document.createElement('p');
    status.className = 'upload-status';
    item.appendChild(bar);
    item.appendChild(status);
    item.dataset.history = '';
    list.appendChild(item);
    return { item: item, bar: bar, status: status, name: name };
  }

  function show(view, phase, percent, message) {
    view.item.dataset.phase = phase;
    view.bar.value = percent;
    view.status.textContent = message;
    var seen = view.item.dataset.history ? view.item.dataset.history.split(',') : [];
    var mark = phase + ':' + percent;
    if (seen[seen.length - 1] !== mark) { seen.push(mark); }
    view.item.dataset.history = seen.join(',');
  }

  function failure(view, problem) {
    var message = (problem && strings.failures[problem.code]) || (problem && problem.detail) || t('refused');
    view.item.dataset.state = 'failed';
    view.item.dataset.code = (problem && problem.code) || '';
    show(view, 'failed', view.bar.value, t('failed', { name: view.name }) + ' ' + message);
  }

  function finished(view, job, base, lang) {
    view.item.dataset.state = 'done';
    show(view, 'done', 100, t('done', { name: view.name }));
    var target = job.upload ? '/uploads/' + job.upload : '/uploads/' + job.id;
    var link = document.createElement('a');
    link.href = base + target + '?lang=' + encodeURIComponent(lang);
    link.className = 'report-link';
    link.textContent = t('report', { name: view.name });
    view.item.appendChild(link);
    view.item.dataset.report = target;
  }

  function follow(view, url, base, lang, done) {
    fetch(url, { headers: { Accept: 'application/json' }, credentials: 'same-origin' })
      .then(function (response) { return response.json(); })
      .then(function (job) {
        var percent = Math.round((job.progress || 0) * 100);
        view.item.dataset.state = job.state || '';
        if (job.state === 'done') { finished(view, job, base, lang); done(); return; }
        if (job.state === 'failed' || !job.state) { failure(view, job.problem || job); done(); return; }
        var message = job.state === 'queued' ? t('queued', { name: view.name })
          : t('running', { name: view.name, stage: stageLabel(job.stage), percent: percent });
        if (job.rows_read) { message += ' · ' + t('rows', { rows: job.rows_read.toLocaleString(lang) }); }
        if (job.estimate && job.estimate.seconds_left) {
          message += ' · ' + t('left', { seconds: Math.ceil(job.estimate.seconds_left) });
        }
        show(view, 'processing', percent, message);
        window.setTimeout(function () { follow(view, url, base, lang, done); }, POLL_MS);
      })
      .catch(function () {
        window.setTimeout(function () { follow(view, url, base, lang, done); }, POLL_MS * 4);
      });
  }

  function send(form, file, view, done) {
    var data = new FormData();
    Array.prototype.forEach.call(form.elements, function (field) {
      if (!field.name || field.type === 'file' || field.name === 'csrf_token') { return; }
      if (field.type === 'checkbox' && !field.checked) { return; }
      if (field.value === '') { return; }
      data.append(field.name, field.value);
    });
    data.append('file', file, file.name);
    var base = form.dataset.base;
    var lang = form.dataset.lang;
    var request = new XMLHttpRequest();
    request.open('POST', form.action);
    request.setRequestHeader('Accept', 'application/json');
    request.setRequestHeader('Prefer', 'respond-async');
    request.setRequestHeader('X-CSRF-Token', form.elements.csrf_token.value);
    request.upload.onprogress = function (event) {
      if (!event.lengthComputable) { return; }
      var percent = Math.round(100 * event.loaded / event.total);
      show(view, 'sending', percent, t('sending', { name: view.name, percent: percent }));
    };
    request.upload.onload = function () {
      show(view, 'sending', 100, t('sending', { name: view.name, percent: 100 }));
    };
    request.onerror = function () { failure(view, { detail: t('network') }); done(); };
    request.onload = function () {
      view.item.dataset.status = String(request.status);
      var body = null;
      try { body = JSON.parse(request.responseText); } catch (ignored) { body = null; }
      if (request.status === 202 && body) {
        show(view, 'processing', 0, t('queued', { name: view.name }));
        follow(view, request.getResponseHeader('Location') || base + '/uploads/' + body.id, base, lang, done);
      } else if ((request.status === 200 || request.status === 201) && body && body.upload) {
        finished(view, { upload: body.upload.id, id: body.upload.id }, base, lang);
        done();
      } else {
        failure(view, body);
        done();
      }
    };
    request.send(data);
  }

  function attach(form) {
    var input = form.querySelector('input[type=file]');
    var zone = form.querySelector('.drop-zone');
    var list = document.getElementById('upload-progress');
    if (zone) {
      zone.addEventListener('dragover', function (event) { event.preventDefault(); zone.classList.add('dragging'); });
      zone.addEventListener('dragleave', function () { zone.classList.remove('dragging'); });
      zone.addEventListener('drop', function (event) {
        event.preventDefault();
        zone.classList.remove('dragging');
        if (event.dataTransfer && event.dataTransfer.files.length) { input.files = event.dataTransfer.files; }
      });
    }
    form.addEventListener('submit', function (event) {
      event.preventDefault();
      var files = Array.prototype.slice.call(input.files || []);
      if (!files.length) { window.alert(t('none')); return; }
      var button = form.querySelector('button[type=submit]');
      button.disabled = true;
      form.dataset.pending = String(files.length);
      var next = function () {
        var file = files.shift();
        if (!file) { button.disabled = false; form.dataset.pending = '0'; return; }
        send(form, file, entry(list, file.name), next);
      };
      next();
    });
  }

  Array.prototype.forEach.call(document.querySelectorAll('form.upload-form'), attach);

  var job = document.getElementById('job');
  if (job && (job.dataset.state === 'queued' || job.dataset.state === 'running')) {
    var bar = document.getElementById('job-progress');
    var status = document.getElementById('job-status');
    var view = { item: job, bar: bar, status: status, name: '' };
    follow(view, job.dataset.job, job.dataset.base, job.dataset.lang, function () {
      if (job.dataset.report) { window.location.href = job.dataset.base + job.dataset.report + '?lang=' + job.dataset.lang; }
    });
  }
}());
