// Stewardship pages: buttons and forms post the JSON API with the sign-in's CSRF token,
// then say what happened (the server's problem detail when refused) and reload.
(function () {
  "use strict";
  var data = document.getElementById("stewardship-data");
  if (!data) { return; }
  var status = document.getElementById("stewardship-status");

  function say(text) { if (status) { status.textContent = text; } }

  function post(url, body) {
    return fetch(url, {
      method: "POST",
      credentials: "same-origin",
      headers: { "Content-Type": "application/json", "X-CSRF-Token": data.dataset.csrf },
      body: JSON.stringify(body)
    }).then(function (response) {
      return response.text().then(function (text) {
        var parsed = null;
        try { parsed = JSON.parse(text); } catch (e) { parsed = null; }
        if (!response.ok) {
          var detail = parsed && parsed.detail ? parsed.detail : response.status;
          say(data.dataset.failed + " " + detail);
          throw new Error(String(detail));
        }
        say(data.dataset.done);
        return parsed;
      });
    });
  }

  function reasonOf(row) {
    var input = row ? row.querySelector(".pair-reason") : null;
    var reason = input ? input.value.trim() : "";
    if (!reason) { say(data.dataset.reasonNeeded); if (input) { input.focus(); } }
    return reason;
  }

  document.querySelectorAll(".pair-merge").forEach(function (button) {
    button.addEventListener("click", function () {
      var row = button.closest("tr");
      var reason = reasonOf(row);
      if (!reason) { return; }
      post(button.dataset.url, { into: button.dataset.into, reason: reason })
        .then(function () { row.remove(); }, function () {});
    });
  });

  document.querySelectorAll(".pair-reject").forEach(function (button) {
    button.addEventListener("click", function () {
      var row = button.closest("tr");
      var reason = reasonOf(row);
      if (!reason) { return; }
      post(button.dataset.url, { sites: [row.dataset.a, row.dataset.b], reason: reason })
        .then(function () { row.remove(); }, function () {});
    });
  });

  var merge = document.getElementById("merge-form");
  if (merge) {
    merge.addEventListener("submit", function (event) {
      event.preventDefault();
      var into = merge.querySelector("[name=into]").value.trim();
      var reason = merge.querySelector("[name=reason]").value.trim();
      post(merge.dataset.url, { into: into, reason: reason }).then(function () {
        window.location.reload();
      }, function () {});
    });
  }

  document.querySelectorAll(".restore-version").forEach(function (button) {
    button.addEventListener("click", function () {
      var reason = window.prompt(data.dataset.reasonPrompt || "Reason");
      if (!reason) { return; }
      post(button.dataset.url, { reason: reason, version: Number(button.dataset.version) })
        .then(function () { window.location.reload(); }, function () {});
    });
  });

  var retract = document.getElementById("retract-form");
  if (retract) {
    retract.addEventListener("submit", function (event) {
      event.preventDefault();
      var reason = retract.querySelector("[name=reason]").value.trim();
      post(retract.dataset.url, { reason: reason }).then(function (summary) {
        var out = document.getElementById("retract-result");
        if (out && summary) {
          out.textContent = JSON.stringify(summary, null, 2);
          out.hidden = false;
        }
      }, function () {});
    });
  }
}());
