// chromapal web page: upload once, then re-cluster by session token as the controls change.
"use strict";

const config = JSON.parse(document.getElementById("config").textContent);
const $ = (id) => document.getElementById(id);
// `shown`: whether a palette of the current file has been shown (a failure before that is a
// failed upload, which forgets the image; a failure after it only clears the results).
const state = { file: null, token: null, palette: null, shown: false, inputAt: 0, originalUrl: null, flatUrl: null };

// -- theme: automatic (follows the system), light or dark; remembered -----------------------
const THEMES = ["auto", "light", "dark"];
function applyTheme(theme) {
  if (theme === "auto") delete document.documentElement.dataset.theme;
  else document.documentElement.dataset.theme = theme;
  $("theme").textContent = `Theme: ${theme}`;
  $("theme").setAttribute("aria-label", `Colour theme: ${theme}; change`);
}
function initTheme() {
  let theme = "auto";
  try { theme = localStorage.getItem("chromapal-theme") || "auto"; } catch (e) { /* private mode */ }
  applyTheme(THEMES.includes(theme) ? theme : "auto");
  $("theme").addEventListener("click", () => {
    const current = document.documentElement.dataset.theme || "auto";
    const next = THEMES[(THEMES.indexOf(current) + 1) % THEMES.length];
    applyTheme(next);
    try { localStorage.setItem("chromapal-theme", next); } catch (e) { /* ignore */ }
  });
}

// -- helpers ---------------------------------------------------------------------------------
function megabytes(n) { return `${(n / 1048576).toFixed(n < 10485760 ? 1 : 0)} MB`; }
function setStatus(text, isError = false) {
  $("status").textContent = text;
  $("status").classList.toggle("error", isError);
}
let toastTimer = null;
function toast(text) {
  $("toast").textContent = text;
  $("toast").classList.add("show");
  clearTimeout(toastTimer);
  toastTimer = setTimeout(() => $("toast").classList.remove("show"), 1600);
}
function inkFor([r, g, b]) {  // black or white, whichever contrasts more (WCAG)
  const lin = [r, g, b].map((v) => { v /= 255; return v <= 0.04045 ? v / 12.92 : ((v + 0.055) / 1.055) ** 2.4; });
  const lum = 0.2126 * lin[0] + 0.7152 * lin[1] + 0.0722 * lin[2];
  return (lum + 0.05) / 0.05 >= 1.05 / (lum + 0.05) ? "#000000" : "#ffffff";
}
function options() {
  return { k: $("k").value, space: $("space").value, sort: $("sort").value };
}
async function errorText(response) {
  try { return (await response.json()).error || response.statusText; } catch (e) { return response.statusText; }
}
function form(extra) {
  const body = new FormData();
  for (const [key, value] of Object.entries(extra)) body.append(key, value);
  return body;
}
function imageFields() {  // by token when the server keeps the image, else the file again
  return state.token ? { token: state.token } : { image: state.file };
}

// -- requests ----------------------------------------------------------------------------------
async function post(path, fields) {
  const response = await fetch(path, { method: "POST", body: form(fields) });
  if (!response.ok) {
    const err = new Error(await errorText(response));
    err.status = response.status;
    throw err;
  }
  return response;
}

// Requests never overlap: while one update runs, further changes only mark that another
// is needed, and the newest settings are sent when it ends. Aborting a fetch would not stop
// the server's work, so this keeps the server at one job per page however fast the slider moves.
const run = { active: false, again: false, upload: false };

function schedule({ upload = false } = {}) {
  state.inputAt = performance.now();
  run.upload = run.upload || upload;
  if (run.active) { run.again = true; return; }
  loop();
}

async function loop() {
  run.active = true;
  document.body.dataset.state = "busy";
  $("controls").classList.add("busy");
  try {
    do {
      run.again = false;
      const upload = run.upload;
      run.upload = false;
      await update(upload, state.inputAt);
    } while (run.again);
  } finally {
    run.active = false;
    document.body.dataset.state = "ready";
    $("controls").classList.remove("busy");
  }
}

async function update(upload, started) {
  const file = state.file;
  if (!file) return;
  const opts = options();
  try {
    let paletteResponse;
    if (upload || !state.token) {
      const keep = config.sessions ? { keep: "true" } : {};
      paletteResponse = await post("/api/palette", { image: file, ...opts, ...keep });
      const token = paletteResponse.headers.get("X-Chromapal-Token");
      if (state.file !== file) { discardSession(token); return; }  // another image took over
      state.token = token;
    } else {
      paletteResponse = await post("/api/palette", { ...imageFields(), ...opts });
    }
    const flatRequest = post("/api/recolor", { ...imageFields(), k: opts.k, space: opts.space });
    flatRequest.catch(() => undefined);  // handled below, unless a newer image took over
    const palette = await paletteResponse.json();
    if (state.file !== file) return;
    renderPalette(palette);
    state.shown = true;
    const blob = await (await flatRequest).blob();
    if (state.file !== file) return;
    await showFlat(blob);
    const ms = Math.round(performance.now() - started);
    document.body.dataset.lastUpdateMs = String(ms);
    document.body.dataset.k = opts.k;
    setStatus(`${palette.colors.length} colours in ${palette.space} · ${ms} ms`);
  } catch (err) {
    if (state.file !== file) return;
    if (err.status === 404 && state.token) {  // the kept image expired: upload it again
      state.token = null;
      run.upload = true;
      run.again = true;
      return;
    }
    if (state.shown) {  // the image is fine, this update failed: show no result of other settings
      clearResults();
      setStatus(err.message, true);
    } else {
      failUpload(err.message);
    }
  }
}

function showFlat(blob) {
  if (state.flatUrl) URL.revokeObjectURL(state.flatUrl);
  state.flatUrl = URL.createObjectURL(blob);
  const img = $("flat");
  img.src = state.flatUrl;
  return img.decode().catch(() => undefined);
}

// -- forgetting: a failed upload leaves no result of an earlier image on screen ---------------
function discardSession(token) {
  if (token) fetch(`/api/session/${encodeURIComponent(token)}`, { method: "DELETE" }).catch(() => undefined);
}

function setDownloads(enabled) {
  document.querySelectorAll("#formats button").forEach((b) => { b.disabled = !enabled; });
}

function clearResults() {  // swatches, pie, flattened preview and downloads
  state.palette = null;
  $("swatches").replaceChildren();
  $("pie").replaceChildren();
  $("count").textContent = "";
  $("copy-hint").textContent = "Choose an image to see its colours here; then select a colour to copy its hex code.";
  $("results").hidden = true;
  setDownloads(false);
  if (state.flatUrl) URL.revokeObjectURL(state.flatUrl);
  state.flatUrl = null;
  $("flat").removeAttribute("src");
  delete document.body.dataset.k;
}

function showImage(file) {  // the original beside the (coming) flattened preview, or the empty drop zone
  if (state.originalUrl) URL.revokeObjectURL(state.originalUrl);
  state.originalUrl = file ? URL.createObjectURL(file) : null;
  if (file) $("original").src = state.originalUrl;
  else $("original").removeAttribute("src");
  $("original-caption").textContent = file ? file.name || "Pasted image" : "Original";
  $("original-caption").title = $("original-caption").textContent;  // shown in full on hover
  $("pair").hidden = !file;
  $("again").hidden = !file;
  $("drop").dataset.empty = file ? "false" : "true";
}

function forgetImage() {  // back to the empty page; the server forgets the kept image too
  discardSession(state.token);
  state.token = null;
  state.file = null;
  state.shown = false;
  clearResults();
  showImage(null);
}

function failUpload(message) {
  const hadFocus = document.activeElement === $("choose-another");
  forgetImage();
  setStatus(message, true);
  if (hadFocus) $("choose").focus();  // the button went away with the image: keep the keyboard near
}

// -- rendering -------------------------------------------------------------------------------
function renderPalette(palette) {
  state.palette = palette;
  const list = $("swatches");
  list.replaceChildren();
  palette.colors.forEach((c, i) => {
    const li = document.createElement("li");
    const button = document.createElement("button");
    button.type = "button";
    button.className = "swatch";
    button.dataset.hex = c.hex;
    const share = `${(c.proportion * 100).toFixed(1)}%`;
    button.setAttribute("aria-label", `${c.hex}, ${c.name}, ${share} of the image; copy the hex code`);
    button.title = `${c.name} / ${c.xkcd_name} — copy ${c.hex}`;
    const chip = document.createElement("span");
    chip.className = "chip";
    chip.style.background = c.hex;
    chip.style.color = inkFor(c.rgb);
    chip.textContent = share;
    const meta = document.createElement("span");
    meta.className = "meta";
    const hex = document.createElement("span");
    hex.className = "hex";
    hex.textContent = c.hex;
    const name = document.createElement("span");
    name.className = "name";
    name.textContent = c.name;
    meta.append(hex, name);
    button.append(chip, meta);
    button.addEventListener("click", () => copyHex(c.hex, button));
    li.append(button);
    list.append(li);
  });
  $("count").textContent = `(${palette.colors.length})`;
  $("copy-hint").textContent = "Select a colour to copy its hex code.";
  $("results").hidden = false;
  renderPie(palette);
  setDownloads(true);
}

function renderPie(palette) {
  const svg = $("pie");
  const ns = "http://www.w3.org/2000/svg";
  svg.replaceChildren();
  let angle = -Math.PI / 2;  // clockwise from 12 o'clock, as the CLI's pie charts
  for (const c of palette.colors) {
    const sweep = c.proportion * 2 * Math.PI;
    let shape;
    if (c.proportion >= 0.9999) {
      shape = document.createElementNS(ns, "circle");
      shape.setAttribute("r", "1");
    } else {
      const [x0, y0] = [Math.cos(angle), Math.sin(angle)];
      const [x1, y1] = [Math.cos(angle + sweep), Math.sin(angle + sweep)];
      shape = document.createElementNS(ns, "path");
      shape.setAttribute("d", `M0 0L${x0} ${y0}A1 1 0 ${sweep > Math.PI ? 1 : 0} 1 ${x1} ${y1}Z`);
    }
    shape.setAttribute("fill", c.hex);
    const title = document.createElementNS(ns, "title");
    title.textContent = `${c.hex} ${(c.proportion * 100).toFixed(1)}%`;
    shape.append(title);
    svg.append(shape);
    angle += sweep;
  }
  const outline = document.createElementNS(ns, "circle");
  outline.setAttribute("r", "1");
  outline.setAttribute("class", "outline");
  svg.append(outline);
}

async function copyHex(hex, button) {
  try {
    await navigator.clipboard.writeText(hex);
  } catch (e) {  // no clipboard permission: fall back to a selected text field
    const area = document.createElement("textarea");
    area.value = hex;
    document.body.append(area);
    area.select();
    document.execCommand("copy");
    area.remove();
  }
  document.querySelectorAll(".swatch.copied").forEach((b) => b.classList.remove("copied"));
  button.classList.add("copied");
  toast(`Copied ${hex}`);
}

// -- downloads -------------------------------------------------------------------------------
function initDownloads() {
  const grid = $("formats");
  for (const fmt of config.formats) {
    const button = document.createElement("button");
    button.type = "button";
    button.textContent = fmt.short;
    button.title = fmt.label;
    button.setAttribute("aria-label", `Download: ${fmt.label}`);
    button.dataset.format = fmt.id;
    button.disabled = true;
    button.addEventListener("click", () => download(fmt.id));
    grid.append(button);
  }
}

async function download(fmt) {
  if (!state.file) return;
  const opts = { ...options(), names: $("names").value };
  try {
    let response;
    if (state.token) {
      const query = new URLSearchParams({ token: state.token, ...opts });
      response = await fetch(`/api/export/${encodeURIComponent(fmt)}?${query}`);
      if (response.status === 404) { state.token = null; }
    }
    if (!response || response.status === 404) {
      response = await fetch(`/api/export/${encodeURIComponent(fmt)}`, { method: "POST", body: form({ image: state.file, ...opts }) });
    }
    if (!response.ok) throw new Error(await errorText(response));
    const match = /filename="([^"]+)"/.exec(response.headers.get("Content-Disposition") || "");
    const url = URL.createObjectURL(await response.blob());
    const a = document.createElement("a");
    a.href = url;
    a.download = match ? match[1] : `palette.${fmt}`;
    document.body.append(a);
    a.click();
    a.remove();
    setTimeout(() => URL.revokeObjectURL(url), 10000);
  } catch (err) {
    setStatus(err.message, true);
  }
}

// -- choosing an image -------------------------------------------------------------------------
function useFile(file) {
  if (!file) return;
  if (file.size > config.maxUploadBytes) {
    failUpload(`${file.name || "Pasted image"} is ${megabytes(file.size)}; the limit is ${megabytes(config.maxUploadBytes)}`);
    return;
  }
  forgetImage();
  state.file = file;
  showImage(file);
  setStatus("Reading the image…");
  schedule({ upload: true });
}

function initInput() {
  const drop = $("drop");
  $("choose").addEventListener("click", () => $("file").click());
  $("choose-another").addEventListener("click", () => $("file").click());
  $("file").addEventListener("change", (e) => {
    useFile(e.target.files[0]);
    e.target.value = "";  // choosing the same file again (after fixing it) is a change too
  });
  for (const type of ["dragenter", "dragover"]) {
    window.addEventListener(type, (e) => { e.preventDefault(); drop.classList.add("dragging"); });
  }
  for (const type of ["dragleave", "drop"]) {
    window.addEventListener(type, (e) => { e.preventDefault(); drop.classList.remove("dragging"); });
  }
  window.addEventListener("drop", (e) => useFile(e.dataTransfer && e.dataTransfer.files[0]));
  window.addEventListener("paste", (e) => {
    const item = [...(e.clipboardData ? e.clipboardData.items : [])].find((i) => i.kind === "file" && i.type.startsWith("image/"));
    if (item) { e.preventDefault(); useFile(item.getAsFile()); }
  });
  $("form").addEventListener("submit", (e) => e.preventDefault());
  $("k").addEventListener("input", () => { $("k-out").value = $("k").value; schedule(); });
  for (const id of ["space", "sort"]) $(id).addEventListener("change", () => schedule());
}

function fillSelect(id, values, labels = {}) {
  for (const value of values) {
    const option = document.createElement("option");
    option.value = value;
    option.textContent = labels[value] || value;
    $(id).append(option);
  }
}

function init() {
  initTheme();
  fillSelect("space", config.spaces, { oklab: "Oklab", cielab: "CIELAB", srgb: "sRGB" });
  fillSelect("sort", config.sorts, { share: "By share", lightness: "Dark to light", hue: "By hue", chroma: "Most vivid first" });
  fillSelect("names", config.names, { css: "CSS names", xkcd: "xkcd names" });
  $("limit").textContent = megabytes(config.maxUploadBytes);
  $("k-out").value = $("k").value;
  initDownloads();
  initInput();
  document.body.dataset.state = "empty";
}
init();
