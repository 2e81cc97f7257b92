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

/* Policy editor: under each quasi-identifier, a table of a few sample values at every level of its
   hierarchy, refreshed as the column, builder, parameters or ARX file change. The server builds the
   preview with the same code a release uses (anonymization/policy/preview.py). */
(function () {
  "use strict";

  var DELAY_MS = 300;

  function field(block, name) {
    return block.querySelector('[name$="-' + name + '"]');
  }

  function cell(tag, text, scope) {
    var element = document.createElement(tag);
    element.textContent = text;
    if (scope) { element.setAttribute("scope", scope); }
    return element;
  }

  function render(output, data) {
    output.textContent = "";
    if (data.error) {
      output.appendChild(cell("p", data.error)).className = "qi-preview__error";
      return;
    }
    var table = document.createElement("table");
    table.className = "qi-preview__table";
    var caption = cell("caption", "Preview: sample values at each level");
    table.appendChild(caption);
    var head = table.createTHead().insertRow();
    data.levels.forEach(function (name, index) { head.appendChild(cell("th", index + ". " + name, "col")); });
    var body = table.createTBody();
    data.rows.forEach(function (values) {
      var row = body.insertRow();
      values.forEach(function (value) { row.appendChild(cell("td", value)); });
    });
    output.appendChild(table);
  }

  function arxText(block) {
    var upload = field(block, "arx_upload");
    if (upload && upload.files && upload.files.length) { return upload.files[0].text(); }
    var text = field(block, "arx_csv");
    return Promise.resolve(text ? text.value : "");
  }

  function refresh(block, output, url) {
    var column = field(block, "column"), builder = field(block, "builder"), params = field(block, "params");
    if (!column || !builder || !column.value || !builder.value) {
      output.textContent = "Choose a column and a builder to see a preview.";
      return;
    }
    arxText(block).then(function (arx) {
      var data = new FormData();
      data.append("column", column.value);
      data.append("builder", builder.value);
      data.append("params", params && params.value.trim() ? params.value : "{}");
      data.append("arx_csv", builder.value === "arx" ? arx : "");
      var token = document.querySelector('input[name="csrfmiddlewaretoken"]');
      return fetch(url, { method: "POST", body: data, credentials: "same-origin",
                          headers: { "X-CSRFToken": token ? token.value : "" } });
    }).then(function (response) { return response.json(); })
      .then(function (json) { render(output, json); })
      .catch(function () { output.textContent = "The preview could not be loaded."; });
  }

  function attach(block, url) {
    if (block.querySelector(".qi-preview") || !field(block, "builder")) { return; }
    var output = document.createElement("div");
    output.className = "qi-preview";
    output.setAttribute("aria-live", "polite");
    block.appendChild(output);
    var timer = null;
    function later() {
      window.clearTimeout(timer);
      timer = window.setTimeout(function () { refresh(block, output, url); }, DELAY_MS);
    }
    block.addEventListener("input", later);
    block.addEventListener("change", later);
    refresh(block, output, url);
  }

  document.addEventListener("DOMContentLoaded", function () {
    var config = document.getElementById("qi-preview-config");
    if (!config) { return; }
    var url = config.getAttribute("data-url");
    function attachAll() {
      document.querySelectorAll(".qi-inline .inline-related:not(.empty-form)").forEach(function (block) {
        attach(block, url);
      });
    }
    attachAll();
    document.addEventListener("formset:added", attachAll);
  });
}());
