// The portal's only script: copy buttons, the live list of exchanges, job progress. No build step.
"use strict";
document.addEventListener("click", (event) => {
  const button = event.target.closest("button.copy");
  if (!button) return;
  const text = button.dataset.copy || "";
  const done = () => { button.dataset.copied = "1"; button.textContent = "✓"; };
  if (navigator.clipboard && window.isSecureContext) {
    navigator.clipboard.writeText(text).then(done, done);
  } else {
    const area = document.createElement("textarea");
    area.value = text; document.body.appendChild(area); area.select();
    try { document.execCommand("copy"); } catch (e) { /* nothing more to try */ }
    area.remove(); done();
  }
  window.drimlabCopied = text;
});

function liveList() {
  const table = document.querySelector("table[data-live]");
  if (!table || !window.EventSource) return;
  const body = table.querySelector("tbody");
  const source = new EventSource(table.dataset.live);
  source.addEventListener("exchange", (event) => {
    const template = document.createElement("template");
    template.innerHTML = event.data.trim();
    const row = template.content.firstElementChild;
    if (!row || document.getElementById(row.id)) return;
    row.classList.add("new");
    body.insertBefore(row, body.firstChild);
    const empty = table.querySelector("tr.empty");
    if (empty) empty.remove();
  });
}

function jobProgress() {
  const box = document.querySelector("[data-job]");
  if (!box) return;
  const bar = box.querySelector("progress");
  const label = box.querySelector(".job-state");
  const poll = () => {
    fetch(box.dataset.job, { headers: { "Accept": "application/json" } })
      .then((r) => r.json())
      .then((job) => {
        if (bar) bar.value = job.percent;
        if (label) label.textContent = `${job.state} · ${job.steps_done}/${job.steps_total || "?"} · ${job.parts} parts`;
        if (job.finished) { window.location.reload(); } else { setTimeout(poll, 500); }
      })
      .catch(() => setTimeout(poll, 1500));
  };
  poll();
}

document.addEventListener("DOMContentLoaded", () => { liveList(); jobProgress(); });
