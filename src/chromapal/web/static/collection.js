// The collection page: search stored palettes by colour, facet and k, or by a dropped image;
// open an image to see its palette at every stored k and its most similar images.
"use strict";

const config = JSON.parse(document.getElementById("config").textContent);
const $ = (id) => document.getElementById(id);
const statusLine = $("status");

function el(tag, props = {}, ...children) {
  const node = document.createElement(tag);
  for (const [key, value] of Object.entries(props)) {
    if (key === "class") node.className = value;
    else if (key.startsWith("aria-") || key === "role") node.setAttribute(key, value);
    else node[key] = value;
  }
  for (const child of children) node.append(child);
  return node;
}

function strip(colors) {
  const bar = el("span", { class: "strip", "aria-hidden": "true" });
  for (const c of colors) {
    const part = el("span");
    part.style.background = c.hex;
    part.style.width = `${(c.share * 100).toFixed(2)}%`;
    part.title = `${c.hex} ${(c.share * 100).toFixed(1)}%`;
    bar.append(part);
  }
  return bar;
}

function describe(item) {
  const hexes = item.colors.slice(0, 4).map((c) => `${c.hex} ${Math.round(c.share * 100)}%`).join(", ");
  const distance = item.distance === null ? "" : `, distance ${item.distance}`;
  return `${item.label}, k ${item.k}${distance}: ${hexes}`;
}

function card(item) {
  const button = el("button", { type: "button", class: "card", "aria-label": describe(item) });
  button.dataset.id = item.id;
  const image = el("img", { class: "thumb", alt: "", loading: "lazy", decoding: "async" });
  if (item.thumb) image.src = item.thumb;
  const meta = el("span", { class: "meta" },
    el("span", { class: "label" }, item.label),
    el("span", { class: "muted" }, `k ${item.k}` + (item.distance === null ? "" : ` · ΔE ${item.distance}`)));
  button.append(image, strip(item.colors), meta);
  button.addEventListener("click", () => openDetail(item.id));
  return el("li", {}, button);
}

function show(list, items) {
  list.replaceChildren(...items.map(card));
}

async function getJSON(response) {
  const body = await response.json().catch(() => ({ error: `the server answered ${response.status}` }));
  if (!response.ok) throw new Error(body.error || `the server answered ${response.status}`);
  return body;
}

function addColor(value = "#c1a4a9") {
  const rows = $("colors");
  if (rows.children.length >= config.maxColors) return;
  const n = rows.children.length + 1;
  const picker = el("input", { type: "color", value, "aria-label": `Colour ${n} picker` });
  const text = el("input", { type: "text", value, "aria-label": `Colour ${n}: hex or name, optional :share%` });
  const remove = el("button", { type: "button", "aria-label": `Remove colour ${n}` }, "×");
  picker.addEventListener("input", () => { text.value = picker.value; });
  text.addEventListener("change", () => { if (/^#[0-9a-f]{6}$/i.test(text.value)) picker.value = text.value; });
  remove.addEventListener("click", () => { row.remove(); });
  const row = el("div", { class: "color-row" }, picker, text, remove);
  rows.append(row);
  return text;
}

function query() {
  const params = new URLSearchParams();
  for (const input of document.querySelectorAll(".color-row input[type=text]")) {
    if (input.value.trim()) params.append("color", input.value.trim());
  }
  if ($("facet").value) params.append("facet", `${$("facet").value}:${$("facet-share").value || 0}%`);
  for (const k of $("k").value.split(/[ ,]+/).filter(Boolean)) params.append("k", k);
  return params;
}

async function search(event) {
  if (event) event.preventDefault();
  statusLine.textContent = "Searching…";
  try {
    const body = await getJSON(await fetch(`/api/collection/search?${query()}`));
    show($("results"), body.results);
    statusLine.textContent = body.results.length ? `${body.results.length} images` : "No stored image matches.";
  } catch (error) {
    $("results").replaceChildren();
    statusLine.textContent = `Error: ${error.message}`;
  }
}

async function like(file) {
  if (!file) return;
  if (file.size > config.maxUploadBytes) {
    statusLine.textContent = `Error: ${file.name} is over the upload limit`;
    return;
  }
  statusLine.textContent = `Comparing palettes with ${file.name}…`;
  const form = new FormData();
  form.append("image", file);
  try {
    const body = await getJSON(await fetch("/api/collection/like", { method: "POST", body: form }));
    show($("results"), body.results);
    statusLine.textContent = `${body.results.length} palettes most like ${file.name}`;
  } catch (error) {
    $("results").replaceChildren();
    statusLine.textContent = `Error: ${error.message}`;
  }
}

let opener = null;

async function openDetail(id) {
  opener = document.activeElement;
  try {
    const item = await getJSON(await fetch(`/api/collection/image/${id}`));
    $("detail-title").textContent = item.label;
    $("detail-source").textContent = item.source;
    const credit = item.iiif ? [item.iiif.required_statement, item.iiif.rights].filter(Boolean).join(" · ") : "";
    $("detail-credit").textContent = credit;
    $("detail-palettes").replaceChildren(...item.palettes.map((p) =>
      el("li", { "aria-label": `k ${p.k}: ${p.colors.map((c) => c.hex).join(", ")}` },
        el("span", {}, `k ${p.k}`), strip(p.colors))));
    show($("detail-similar"), item.similar);
    $("detail").showModal();
    $("close").focus();
  } catch (error) {
    statusLine.textContent = `Error: ${error.message}`;
  }
}

$("close").addEventListener("click", () => $("detail").close());
$("detail").addEventListener("close", () => { if (opener && opener.isConnected) opener.focus(); });
for (const name of config.facets) $("facet").append(el("option", { value: name }, name));
$("add-color").addEventListener("click", () => { const input = addColor("#808080"); if (input) input.focus(); });
$("query").addEventListener("submit", search);
$("like-button").addEventListener("click", () => $("like-file").click());
$("like-file").addEventListener("change", () => like($("like-file").files[0]));
document.addEventListener("dragover", (event) => { event.preventDefault(); document.body.classList.add("dragging"); });
document.addEventListener("dragleave", (event) => { if (!event.relatedTarget) document.body.classList.remove("dragging"); });
document.addEventListener("drop", (event) => {
  event.preventDefault();
  document.body.classList.remove("dragging");
  like(event.dataTransfer.files[0]);
});
search();
