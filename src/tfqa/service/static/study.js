// Rater page of an A/B study: one pair at a time (sides as assigned by the server), one
// answer per dimension (left better / equal / right better), saved before moving on.
"use strict";

const params = new URLSearchParams(location.search);
const studyId = decodeURIComponent(location.pathname.split("/").filter(Boolean)[1] || "");
const rater = params.get("rater") || "";
const key = params.get("k") || "";
const base = `/api/v1/studies/${encodeURIComponent(studyId)}/raters/${encodeURIComponent(rater)}`;
const $ = (sel) => document.querySelector(sel);
const state = { overview: null, trial: null, shownAt: 0 };

async function call(path, opts = {}) {
  const sep = path.includes("?") ? "&" : "?";
  const res = await fetch(`${base}${path}${sep}k=${encodeURIComponent(key)}`, opts);
  const body = await res.json().catch(() => ({}));
  if (!res.ok) throw new Error(body.error ? body.error.message : `HTTP ${res.status}`);
  return body;
}

function fail(message) {
  const box = $("#study-error");
  box.textContent = message;
  box.hidden = false;
  $("#study-trial").hidden = true;
}

function buildQuestions(dimensions) {
  const box = $("#questions");
  box.replaceChildren();
  for (const d of dimensions) {
    const row = document.createElement("div");
    row.className = "question";
    row.dataset.dim = d.key;
    const label = document.createElement("span");
    label.textContent = d.label;
    row.append(label);
    for (const [value, text] of [["left", "Left better"], ["equal", "Equal"], ["right", "Right better"]]) {
      const l = document.createElement("label");
      const input = document.createElement("input");
      input.type = "radio";
      input.name = d.key;
      input.value = value;
      input.addEventListener("change", updateSubmit);
      l.append(input, document.createTextNode(text));
      row.append(l);
    }
    box.append(row);
  }
}

function answers() {
  const out = {};
  for (const d of state.overview.dimensions) {
    const checked = document.querySelector(`input[name="${d.key}"]:checked`);
    if (checked) out[d.key] = checked.value;
  }
  return out;
}

function updateSubmit() {
  $("#submit-trial").disabled = Object.keys(answers()).length !== state.overview.dimensions.length;
}

async function showTrial(index) {
  const t = await call(`/trials/${index}`);
  state.trial = index;
  state.shownAt = performance.now();
  $("#video-left").src = t.videos.left;
  $("#video-right").src = t.videos.right;
  for (const input of document.querySelectorAll("#questions input")) {
    input.checked = t.answers[input.name] === input.value;
  }
  $("#study-trial").hidden = false;
  $("#study-trial").dataset.trial = String(index);
  $("#prev-trial").disabled = index === 0;
  $("#save-status").textContent = "";
  $("#study-progress").textContent = `pair ${index + 1} of ${state.overview.n_trials}`;
  updateSubmit();
}

async function refreshOverview() {
  state.overview = await call("");
  $("#study-name").textContent = `${state.overview.study.name} · rater ${state.overview.rater}`;
  return state.overview;
}

async function next() {
  const ov = await refreshOverview();
  if (ov.next_trial === null) {
    $("#study-trial").hidden = true;
    $("#study-done").hidden = false;
    $("#study-progress").textContent = `${ov.n_done} of ${ov.n_trials} pairs done`;
    document.body.dataset.done = "1";
    return;
  }
  await showTrial(ov.next_trial);
}

async function submit(ev) {
  ev.preventDefault();
  $("#submit-trial").disabled = true;
  $("#save-status").textContent = "saving…";
  try {
    await call(`/trials/${state.trial}`, {
      method: "PUT",
      headers: { "Content-Type": "application/json" },
      body: JSON.stringify({ answers: answers(), rt_ms: Math.round(performance.now() - state.shownAt) }),
    });
    await next();
  } catch (e) {
    $("#save-status").textContent = `not saved: ${e.message}`;
    updateSubmit();
  }
}

document.addEventListener("DOMContentLoaded", async () => {
  if (!studyId || !rater || !key) { fail("This link is incomplete: it needs a rater and a key."); return; }
  try {
    const ov = await refreshOverview();
    buildQuestions(ov.dimensions);
    $("#study-intro").hidden = false;
    $("#answer-form").addEventListener("submit", submit);
    $("#prev-trial").addEventListener("click", () => showTrial(Math.max(0, state.trial - 1)).catch((e) => fail(e.message)));
    $("#play-both").addEventListener("click", () => {
      for (const v of [$("#video-left"), $("#video-right")]) { v.currentTime = 0; v.play().catch(() => {}); }
    });
    await next();
  } catch (e) {
    fail(e.message);
  }
});
