// genlab serve: the page's script (vanilla JS, no dependencies).
"use strict";

const $ = (id) => document.getElementById(id);
const state = { info: null, values: null, requestId: 0, generation: 0, timer: null };

function setStatus(text, isError) {
  const el = $("status");
  el.textContent = text || "";
  el.className = isError ? "error" : "";
}

async function api(path, body) {
  const opts = body === undefined ? {} : body instanceof FormData
    ? { method: "POST", body: body }
    : { method: "POST", headers: { "Content-Type": "application/json" }, body: JSON.stringify(body) };
  const res = await fetch(path, opts);
  let data = null;
  try { data = await res.json(); } catch (e) { data = null; }
  if (!res.ok) {
    let msg = data && (data.error || (data.detail && JSON.stringify(data.detail)));
    throw new Error(msg || (res.status + " " + res.statusText));
  }
  return data;
}

function intValue(id, fallback) {
  const v = parseInt($(id).value, 10);
  return Number.isFinite(v) ? v : fallback;
}

function selectedLabel() {
  const sel = $("class");
  if (!state.info || !state.info.conditional || sel.value === "") return null;
  return parseInt(sel.value, 10);
}

function buildControls(controls) {
  const box = $("controls");
  box.textContent = "";
  controls.forEach((c) => {
    const row = document.createElement("div");
    row.className = "control";
    const name = document.createElement("label");
    name.textContent = c.name;
    const slider = document.createElement("input");
    slider.type = "range";
    slider.className = "latent-slider";
    slider.min = c.min; slider.max = c.max; slider.step = c.step; slider.value = c.default;
    slider.dataset.name = c.name;
    const out = document.createElement("output");
    out.textContent = Number(c.default).toFixed(2);
    slider.addEventListener("input", () => {
      out.textContent = Number(slider.value).toFixed(2);
      state.values = currentValues();
      scheduleGenerate();
    });
    name.htmlFor = slider.id = "control-" + c.name.replace(/[^A-Za-z0-9_-]/g, "_");
    row.append(name, slider, out);
    box.appendChild(row);
  });
}

function currentValues() {
  const values = {};
  document.querySelectorAll(".latent-slider").forEach((s) => { values[s.dataset.name] = parseFloat(s.value); });
  return values;
}

function showValues(values) {
  document.querySelectorAll(".latent-slider").forEach((s) => {
    const v = values[s.dataset.name];
    if (v === undefined) return;
    s.value = v;
    s.nextSibling.textContent = Number(v).toFixed(2);
  });
}

function scheduleGenerate() {
  clearTimeout(state.timer);
  state.timer = setTimeout(generate, 120);
}

async function generate() {
  const id = ++state.requestId;
  const body = { seed: intValue("seed", 0), n: intValue("count", 16), label: selectedLabel() };
  if (state.values) body.values = state.values;
  setStatus("generating...");
  try {
    const res = await api("/api/generate", body);
    if (id !== state.requestId) return;  // a newer request superseded this one
    const img = $("sample-img");
    if (res.image) {
      img.src = res.image;
      img.hidden = false;
    } else {
      img.hidden = true;
    }
    const audio = $("sample-audio");
    audio.hidden = !res.audio;
    if (res.audio) audio.src = res.audio; else audio.removeAttribute("src");
    const text = $("text-out");
    text.hidden = !res.text;
    text.textContent = res.text ? res.text.join("\n") : "";
    if (res.values && !state.values) showValues(res.values);
    let names = "";
    if (res.label_names) {
      const unique = Array.from(new Set(res.label_names));
      names = unique.length === 1 ? " | class: " + unique[0]
        : " | classes: " + res.label_names.slice(0, 8).join(", ") + (res.label_names.length > 8 ? ", ..." : "");
    }
    $("sample-caption").textContent = "seed " + res.seed + ", " + res.n + " samples" + names;
    state.generation += 1;
    img.dataset.generation = String(state.generation);
    img.dataset.seed = String(res.seed);
    setStatus(res.audio_error || "", Boolean(res.audio_error));
  } catch (e) {
    if (id === state.requestId) setStatus(e.message, true);
  }
}

async function interpolate() {
  setStatus("interpolating...");
  try {
    const res = await api("/api/interpolate", {
      seed_a: intValue("interp-a", 0), seed_b: intValue("interp-b", 1),
      steps: intValue("interp-steps", 8), label: selectedLabel(),
    });
    $("interp-img").src = res.image;
    setStatus("");
  } catch (e) { setStatus(e.message, true); }
}

async function translate() {
  const file = $("translate-file").files[0];
  if (!file) { setStatus("choose an image file first", true); return; }
  const form = new FormData();
  form.append("file", file);
  form.append("direction", $("translate-direction").value);
  setStatus("translating...");
  try {
    const res = await api("/api/translate", form);
    $("translate-in").src = res.input;
    $("translate-out").src = res.image;
    setStatus("");
  } catch (e) { setStatus(e.message, true); }
}

// the latent scatter (genlab serve RUN --latents FILE): points coloured by label, a click decodes one
const PALETTE = ["#1f77b4", "#ff7f0e", "#2ca02c", "#d62728", "#9467bd", "#8c564b", "#e377c2", "#7f7f7f",
  "#bcbd22", "#17becf"];

function scatterLayout(pts, canvas) {
  const pad = 12;
  const lo = (a) => Math.min(...a), hi = (a) => Math.max(...a);
  const x0 = lo(pts.x), x1 = hi(pts.x), y0 = lo(pts.y), y1 = hi(pts.y);
  const sx = (canvas.width - 2 * pad) / ((x1 - x0) || 1), sy = (canvas.height - 2 * pad) / ((y1 - y0) || 1);
  return (i) => [pad + (pts.x[i] - x0) * sx, canvas.height - pad - (pts.y[i] - y0) * sy];
}

async function loadScatter() {
  const pts = await api("/api/latents");
  const canvas = $("scatter");
  const ctx = canvas.getContext("2d");
  const at = scatterLayout(pts, canvas);
  ctx.fillStyle = "#fff";
  ctx.fillRect(0, 0, canvas.width, canvas.height);
  for (let i = 0; i < pts.x.length; i++) {
    const [px, py] = at(i);
    ctx.fillStyle = pts.labels ? PALETTE[pts.labels[i] % PALETTE.length] : "#1f77b4";
    ctx.fillRect(px - 1.5, py - 1.5, 3, 3);
  }
  $("scatter-source").textContent = pts.source + "; axes: " + pts.axes.join(" / ");
  const legend = $("scatter-legend");
  legend.textContent = "";
  if (pts.labels) {
    pts.class_names.forEach((n, k) => {
      const item = document.createElement("span");
      item.textContent = "\u25A0 " + n + " ";
      item.style.color = PALETTE[k % PALETTE.length];
      legend.appendChild(item);
    });
  }
  canvas.dataset.points = String(pts.x.length);
  canvas.addEventListener("click", async (ev) => {
    const r = canvas.getBoundingClientRect();
    const cx = (ev.clientX - r.left) * canvas.width / r.width, cy = (ev.clientY - r.top) * canvas.height / r.height;
    let best = 0, bestD = Infinity;
    for (let i = 0; i < pts.x.length; i++) {
      const [px, py] = at(i);
      const d = (px - cx) ** 2 + (py - cy) ** 2;
      if (d < bestD) { bestD = d; best = i; }
    }
    try {
      const res = await api("/api/latents/decode", { index: best });
      if (res.image) $("scatter-img").src = res.image;
      const name = res.label !== null && pts.class_names[res.label] !== undefined ? " (" + pts.class_names[res.label] + ")" : "";
      $("scatter-caption").textContent = "point " + res.index + name + (res.text ? ": " + res.text.join(" ") : "");
    } catch (e) { setStatus(e.message, true); }
  });
  $("scatter-panel").hidden = false;
}

function newSeed() {
  state.values = null;
  generate();
}

async function init() {
  let info;
  try { info = await api("/api/info"); } catch (e) { setStatus("cannot reach the server: " + e.message, true); return; }
  state.info = info;
  document.title = "genlab: " + info.family;
  $("family").textContent = info.family + (info.data ? " on " + info.data : "");
  $("source").textContent = info.source;
  $("count").max = info.max_samples;
  if (info.conditional) {
    const sel = $("class");
    const any = document.createElement("option");
    any.value = ""; any.textContent = "random";
    sel.appendChild(any);
    info.class_names.forEach((name, i) => {
      const o = document.createElement("option");
      o.value = String(i); o.textContent = i + ": " + name;
      sel.appendChild(o);
    });
    $("class-label").hidden = false;
    sel.addEventListener("change", () => {
      generate();
      if (info.can_interpolate) interpolate();
    });
  }
  if (info.controls.length) {
    buildControls(info.controls);
    $("controls-box").hidden = false;
  }
  $("interp-panel").hidden = !info.can_interpolate;
  if (info.directions.length) {
    const sel = $("translate-direction");
    info.directions.forEach((d) => {
      const o = document.createElement("option");
      o.value = d; o.textContent = d;
      sel.appendChild(o);
    });
    $("translate-panel").hidden = false;
  }
  $("generate").addEventListener("click", newSeed);
  $("seed").addEventListener("change", newSeed);
  $("count").addEventListener("change", generate);
  $("random-seed").addEventListener("click", () => {
    $("seed").value = String(Math.floor(Math.random() * 1000000));
    newSeed();
  });
  $("reset-controls").addEventListener("click", newSeed);
  $("interpolate").addEventListener("click", interpolate);
  $("translate").addEventListener("click", translate);
  await generate();
  if (info.can_interpolate) await interpolate();
  if (info.latents) {
    try { await loadScatter(); } catch (e) { setStatus(e.message, true); }
  }
}

document.addEventListener("DOMContentLoaded", init);
