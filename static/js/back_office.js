/* Back office behaviour, loaded on every admin page (CSP: script-src 'self', no inline code).
   Release progress: while a release shown on the page is queued or running, ask the server for its
   status every few seconds and update the bar; when one finishes, reload the page to show its figures. */
(function () {
  "use strict";

  var POLL_MS = 2000;
  var GIVE_UP_MS = 60 * 60 * 1000;

  function activeProgress() {
    return Array.prototype.slice.call(document.querySelectorAll('.release-progress[data-active="true"]'));
  }

  function update(spans, data) {
    var finished = false;
    data.releases.forEach(function (release) {
      spans.forEach(function (span) {
        if (span.getAttribute("data-release") !== String(release.id)) { return; }
        var bar = span.querySelector("progress");
        bar.value = release.progress;
        bar.textContent = release.progress + "%";
        span.lastChild.textContent = " " + (release.step || "waiting for a worker");
        if (!release.active) { finished = true; }
      });
      document.querySelectorAll('[data-release-status="' + release.id + '"]').forEach(function (badge) {
        badge.textContent = release.status_label;
        badge.className = "badge badge--" + release.status;
      });
    });
    return finished;
  }

  function poll(started) {
    var spans = activeProgress();
    if (!spans.length || Date.now() - started > GIVE_UP_MS) { return; }
    var ids = spans.map(function (span) { return "id=" + encodeURIComponent(span.getAttribute("data-release")); });
    fetch(spans[0].getAttribute("data-url") + "?" + ids.join("&"), { credentials: "same-origin" })
      .then(function (response) { return response.ok ? response.json() : null; })
      .then(function (data) {
        if (data && update(spans, data)) { window.location.reload(); return; }
        window.setTimeout(function () { poll(started); }, POLL_MS);
      })
      .catch(function () { window.setTimeout(function () { poll(started); }, POLL_MS * 5); });
  }

  document.addEventListener("DOMContentLoaded", function () {
    if (activeProgress().length) { window.setTimeout(function () { poll(Date.now()); }, POLL_MS); }
  });
}());
