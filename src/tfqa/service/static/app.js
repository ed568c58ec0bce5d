// The tfqa web page: upload with progress, the queue, a result view with curves that follow the
// video, and a side-by-side comparison.  Plain JS over the /api/v1 JSON API.  Everything that
// came from a user (file names, warnings) is inserted as text, never as HTML.
"use strict";

const API = "/api/v1";
const DIMS = ["lip_sync", "expression", "audio_quality", "cross_modal", "overall"];
const KEY_EVIDENCE = ["av_offset_ms", "sync_confidence", "face_coverage", "dnsmos_ovrl",
  "snr_db", "blink_rate_per_min", "head_motion_deg_s", "sharpness", "frozen_ratio", "duration_s"];
const { LineChart, fmt } = window.TfqaCharts;
const $ = (sel, root = document) => root.querySelector(sel);

function el(tag, attrs = {}, ...children) {
  const node = document.createElement(tag);
  for (const [k, v] of Object.entries(attrs)) {
    if (k === "class") node.className = v;
    else if (k === "dataset") Object.assign(node.dataset, v);
    else if (k.startsWith("on")) node.addEventListener(k.slice(2), v);
    else node.setAttribute(k, v);
  }
  for (const c of children) {
    if (c === null || c === undefined) continue;
    node.append(c instanceof Node ? c : document.createTextNode(String(c)));
  }
  return node;
}

function token() { return localStorage.getItem("tfqa-token") || ""; }

async function api(path, opts = {}) {
  const headers = { ...(opts.headers || {}) };
  if (opts.admin && token()) headers.Authorization = `Bearer ${token()}`;
  const res = await fetch(API + path, { ...opts, headers });
  if (res.status === 204) return null;
  const body = await res.json().catch(() => ({}));
  if (!res.ok) {
    const err = new Error(body.error ? body.error.message : `HTTP ${res.status}`);
    err.status = res.status;
    err.code = body.error && body.error.code;
    throw err;
  }
  return body;
}

// ---------------------------------------------------------------------------------------
// routing

const state = { offset: 0, limit: 20, selected: new Set(), timer: null, jobTimer: null,
  charts: [] };

function show(view) {
  for (const v of document.querySelectorAll(".view")) v.hidden = v.id !== `view-${view}`;
}

function route() {
  clearInterval(state.timer);
  clearTimeout(state.jobTimer);
  state.charts = [];
  const hash = location.hash.replace(/^#\/?/, "");
  const [name, arg] = hash.split("/");
  if (name === "job" && arg) { show("job"); openJob(arg); }
  else if (name === "compare" && arg) { show("compare"); openCompare(arg.split(",")); }
  else {
    show("home");
    refreshQueue();
    state.timer = setInterval(refreshQueue, 2000);
  }
}

// ---------------------------------------------------------------------------------------
// upload

function upload(file) {
  const row = $("#upload-row");
  const bar = $("#upload-progress");
  const text = $("#upload-text");
  const errBox = $("#upload-error");
  errBox.hidden = true;
  row.hidden = false;
  bar.value = 0;
  text.textContent = `uploading ${file.name}…`;
  const form = new FormData();
  form.append("file", file, file.name);
  const xhr = new XMLHttpRequest();
  xhr.open("POST", `${API}/jobs`);
  xhr.upload.onprogress = (ev) => {
    if (!ev.lengthComputable) return;
    bar.value = Math.round((100 * ev.loaded) / ev.total);
    text.textContent = `uploading ${file.name}: ${bar.value}%`;
  };
  xhr.onload = () => {
    let body = {};
    try { body = JSON.parse(xhr.responseText); } catch (_) { /* shown below */ }
    if (xhr.status === 201) {
      bar.value = 100;
      text.textContent = "uploaded; queued for scoring";
      location.hash = `#/job/${body.id}`;
    } else {
      row.hidden = true;
      errBox.textContent = body.error ? body.error.message : `upload failed (HTTP ${xhr.status})`;
      errBox.hidden = false;
    }
  };
  xhr.onerror = () => {
    row.hidden = true;
    errBox.textContent = "upload failed: the connection was closed (file too large?)";
    errBox.hidden = false;
  };
  xhr.send(form);
}

function setupUpload() {
  const input = $("#file-input");
  const zone = $("#drop-zone");
  input.addEventListener("change", () => { if (input.files[0]) upload(input.files[0]); });
  zone.addEventListener("dragover", (ev) => { ev.preventDefault(); zone.classList.add("over"); });
  zone.addEventListener("dragleave", () => zone.classList.remove("over"));
  zone.addEventListener("drop", (ev) => {
    ev.preventDefault();
    zone.classList.remove("over");
    if (ev.dataTransfer.files[0]) upload(ev.dataTransfer.files[0]);
  });
}

// ---------------------------------------------------------------------------------------
// queue

function progressCell(job) {
  if (job.status === "done") return el("span", { class: "muted" }, "done");
  if (job.status === "failed") return el("span", { class: "error" }, job.error ? job.error.code : "failed");
  const p = job.progress || {};
  const pct = Math.round(100 * (p.fraction || 0));
  return el("span", {}, el("progress", { max: "100", value: String(pct) }), ` ${p.stage || ""} ${pct}%`);
}

function updateCompareButton() {
  const b = $("#compare-selected");
  b.textContent = `Compare selected (${state.selected.size})`;
  b.disabled = state.selected.size < 2;
}

async function refreshQueue() {
  const status = $("#status-filter").value;
  const q = new URLSearchParams({ limit: state.limit, offset: state.offset });
  if (status) q.set("status", status);
  let data;
  try { data = await api(`/jobs?${q}`); } catch (e) { return; }
  const tbody = $("#queue-table tbody");
  tbody.replaceChildren(...data.jobs.map((job) => {
    const box = el("input", { type: "checkbox", title: "select for comparison",
      onchange: (ev) => {
        if (ev.target.checked) state.selected.add(job.id); else state.selected.delete(job.id);
        updateCompareButton();
      } });
    box.checked = state.selected.has(job.id);
    box.disabled = job.status !== "done";
    return el("tr", { dataset: { jobId: job.id, status: job.status } },
      el("td", {}, box),
      el("td", {}, el("a", { href: `#/job/${job.id}` }, job.name)),
      el("td", {}, el("span", { class: `badge ${job.status}` }, job.status)),
      el("td", {}, progressCell(job)),
      el("td", { class: "num" }, job.overall === null ? "—" : job.overall.toFixed(2)),
      el("td", { class: "muted" }, new Date(job.created_at * 1000).toLocaleString()),
      el("td", {}, el("button", { type: "button", onclick: () => deleteJob(job.id) }, "delete")));
  }));
  const last = Math.min(state.offset + state.limit, data.total);
  $("#page-info").textContent = data.total ? `${state.offset + 1}–${last} of ${data.total}` : "no jobs yet";
  $("#page-prev").disabled = state.offset === 0;
  $("#page-next").disabled = last >= data.total;
}

async function deleteJob(id) {
  if (!token()) askToken();
  if (!token()) return;
  try {
    await api(`/jobs/${id}`, { method: "DELETE", admin: true });
    state.selected.delete(id);
    updateCompareButton();
    refreshQueue();
  } catch (e) {
    alert(e.message);
    if (e.status === 401) localStorage.removeItem("tfqa-token");
  }
}

function askToken() {
  const t = prompt("Admin token (printed by `tfqa serve`, or in DATA_DIR/admin-token):", token());
  if (t !== null) localStorage.setItem("tfqa-token", t.trim());
}

// ---------------------------------------------------------------------------------------
// one result

async function openJob(id) {
  $("#job-result").hidden = true;
  $("#job-error").hidden = true;
  let job;
  try { job = await api(`/jobs/${encodeURIComponent(id)}`); } catch (e) {
    $("#job-title").textContent = "Job not found";
    $("#job-status").textContent = e.message;
    return;
  }
  $("#job-title").textContent = job.name;
  $("#job-status").textContent = `${job.status} · job ${job.id} · scorer ${job.scorer}` +
    (job.attempts > 1 ? ` · attempt ${job.attempts}` : "");
  $("#view-job").dataset.status = job.status;
  const row = $("#job-progress-row");
  if (job.status === "queued" || job.status === "running") {
    row.hidden = false;
    const p = job.progress || {};
    $("#job-progress").value = Math.round(100 * (p.fraction || 0));
    $("#job-progress-text").textContent = `${p.stage || job.status} ${Math.round(100 * (p.fraction || 0))}%`;
    state.jobTimer = setTimeout(() => openJob(id), 1000);
    return;
  }
  row.hidden = true;
  if (job.status === "failed") {
    $("#job-error").textContent = `${job.error.code}: ${job.error.message}`;
    $("#job-error").hidden = false;
    return;
  }
  const result = await api(`/jobs/${job.id}/result`);
  renderResult(job, result);
}

// The sub-scores behind a score (the default scorer's two members, or the zero-shot evidence
// terms), e.g. "transformer 4.28 · trees 4.21": shown when the pointer rests on the row.
function membersText(sub) {
  return Object.entries(sub || {}).map(([k, v]) => `${k} ${fmt2(v)}`).join(" · ");
}

function fmt2(v) { return v === null || v === undefined ? "—" : Number(v).toFixed(2); }

function renderScores(box, scores, subscores) {
  box.replaceChildren(...DIMS.map((d) => {
    const s = scores[d];
    const pct = s === null || s === undefined ? 0 : Math.max(0, Math.min(100, ((s - 1) / 4) * 100));
    const hue = Math.round((pct / 100) * 120); // red (1) -> green (5)
    const members = membersText((subscores || {})[d]);
    return el("div", { class: "row", title: members, dataset: { dim: d, score: s === null ? "" : String(s) } },
      el("span", {}, d.replace("_", " ")),
      el("div", { class: "track" }, el("div", { class: "bar", style: `width:${pct}%;background:hsl(${hue},65%,45%)` })),
      el("span", { class: "value" }, s === null || s === undefined ? "—" : s.toFixed(2)));
  }));
}

function curve(result, name) { return (result.curves || {})[name] || []; }
function trace(result, name) { return (result.traces || {})[name] || []; }

function chartSpecs(result) {
  return {
    sync: [
      { label: "sync confidence", values: curve(result, "sync.confidence"), hz: 1 },
      { label: "A/V offset ms", values: curve(result, "sync.offset_ms"), hz: 1, axis: "right" },
    ],
    mouth: [
      { label: "mouth opening", values: trace(result, "face.mouth_open"), hz: 25, normalise: true },
      { label: "speech energy", values: trace(result, "audio.speech_envelope"), hz: 25, normalise: true },
      { label: "mouth predicted from voice", values: trace(result, "sync.mouth_predicted_at_offset"), hz: 25, normalise: true },
    ],
    dnsmos: [{ label: "DNSMOS overall", values: curve(result, "audio.dnsmos_ovrl"), hz: 1, range: [1, 5] }],
    face: [
      { label: "face present", values: curve(result, "face.face_present"), hz: 1, range: [0, 1.05] },
      { label: "sharpness", values: curve(result, "visual.sharpness"), hz: 1, axis: "right" },
    ],
  };
}

function renderResult(job, result) {
  $("#job-result").hidden = false;
  const player = $("#player");
  player.src = `${API}/jobs/${job.id}/video`;
  renderScores($("#scores"), result.scores || {}, result.subscores);
  const ev = result.evidence || {};
  const cov = ev.face_coverage;
  $("#face-coverage").textContent = cov === undefined || cov === null
    ? "no face-track coverage reported"
    : `face found in ${(cov * 100).toFixed(0)} % of frames` +
      (ev.max_faces_detected !== undefined ? ` · most faces in one frame: ${ev.max_faces_detected}` : "");
  const warnings = result.warnings || [];
  $("#warnings").replaceChildren(...(warnings.length ? warnings.map((w) => el("li", {}, w))
    : [el("li", { class: "muted" }, "none")]));
  renderEvidence(ev);
  $("#result-json").href = `${API}/jobs/${job.id}/result`;
  const duration = (result.media && result.media.duration_s) || ev.duration_s || null;
  const seek = (t) => { player.currentTime = t; };
  const specs = chartSpecs(result);
  state.charts = Object.entries(specs).map(([name, series]) =>
    new LineChart($(`#chart-${name}`), { series, duration, onSeek: seek }));
  player.ontimeupdate = () => state.charts.forEach((c) => c.setCursor(player.currentTime));
  player.onseeked = player.ontimeupdate;
  $("#view-job").dataset.rendered = "1";
}

function renderEvidence(ev) {
  const filter = ($("#evidence-filter").value || "").toLowerCase();
  const keys = Object.keys(ev).sort().filter((k) => k.toLowerCase().includes(filter));
  const first = KEY_EVIDENCE.filter((k) => keys.includes(k));
  const ordered = first.concat(keys.filter((k) => !first.includes(k)));
  $("#evidence tbody").replaceChildren(...ordered.map((k) =>
    el("tr", { dataset: { key: k } }, el("td", {}, k), el("td", { class: "num" }, fmt(ev[k])))));
  $("#evidence-filter").oninput = () => renderEvidence(ev);
}

// ---------------------------------------------------------------------------------------
// comparison

async function openCompare(ids) {
  const grid = $("#compare-grid");
  grid.replaceChildren();
  const loaded = await Promise.all(ids.map(async (id) => {
    try {
      const [job, result] = await Promise.all([api(`/jobs/${id}`), api(`/jobs/${id}/result`)]);
      return { job, result };
    } catch (e) { return { id, error: e.message }; }
  }));
  const ok = loaded.filter((x) => !x.error);
  const duration = Math.max(1, ...ok.map((x) => (x.result.media && x.result.media.duration_s) || 0));
  for (const item of loaded) {
    if (item.error) {
      grid.append(el("div", { class: "panel" }, el("p", { class: "error" }, `${item.id}: ${item.error}`)));
      continue;
    }
    const { job, result } = item;
    const scores = el("div", { class: "scores" });
    renderScores(scores, result.scores || {}, result.subscores);
    const ev = result.evidence || {};
    const table = el("table", { class: "key-evidence" }, ...KEY_EVIDENCE.filter((k) => k in ev)
      .map((k) => el("tr", { dataset: { key: k } }, el("td", {}, k), el("td", { class: "num" }, fmt(ev[k])))));
    const c1 = el("canvas", { class: "chart", dataset: { chart: "sync" } });
    const c2 = el("canvas", { class: "chart", dataset: { chart: "dnsmos" } });
    const c3 = el("canvas", { class: "chart", dataset: { chart: "mouth" } });
    const card = el("div", { class: "panel compare-card", dataset: { jobId: job.id } },
      el("h3", {}, el("a", { href: `#/job/${job.id}` }, job.name)),
      el("video", { src: `${API}/jobs/${job.id}/video`, controls: "", preload: "metadata" }),
      scores, table, c1, c2, c3);
    grid.append(card);
    const specs = chartSpecs(result);
    // Same time axis in every column, so the curves line up across clips.
    for (const [canvas, name] of [[c1, "sync"], [c2, "dnsmos"], [c3, "mouth"]]) {
      state.charts.push(new LineChart(canvas, { series: specs[name], duration }));
    }
  }
}

// ---------------------------------------------------------------------------------------
// health and start-up

async function refreshHealth() {
  try {
    const h = await api("/health");
    $("#health").textContent = `${h.status} · workers ${h.workers.alive}/${h.workers.wanted} · ` +
      `queue ${h.queue_length} · scorer ${h.config.scorer}`;
  } catch (e) {
    $("#health").textContent = "server unreachable";
  }
}

window.addEventListener("resize", () => state.charts.forEach((c) => c.draw()));
window.addEventListener("hashchange", route);
document.addEventListener("DOMContentLoaded", () => {
  setupUpload();
  $("#set-token").addEventListener("click", askToken);
  $("#status-filter").addEventListener("change", () => { state.offset = 0; refreshQueue(); });
  $("#page-prev").addEventListener("click", () => { state.offset = Math.max(0, state.offset - state.limit); refreshQueue(); });
  $("#page-next").addEventListener("click", () => { state.offset += state.limit; refreshQueue(); });
  $("#compare-selected").addEventListener("click", () => {
    location.hash = `#/compare/${[...state.selected].join(",")}`;
  });
  refreshHealth();
  setInterval(refreshHealth, 5000);
  route();
});
