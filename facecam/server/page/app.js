// facecam's page: plain DOM, no framework, no build step. Every string from the server (names are
// user input) goes into the page as text (textContent, attributes), never as HTML.
"use strict";

const $ = (id) => document.getElementById(id);
const state = { session: null, health: null, view: null, events: null, offline: false };

// ---- talking to the server

class Problem extends Error {
  constructor(status, detail, remedies = []) { super(detail); this.status = status; this.remedies = remedies; }
}

// How to proceed, said with the page's own controls (the server names its request parameters)
const REMEDY_WORDS = {
  force: "tick “Enrol even if the face looks like someone else”, then save again",
  add: "tick “Add to someone enrolled already”, then save again",
};

function explained(err) {
  const ways = (err.remedies || []).map((r) => REMEDY_WORDS[r.parameter] || (r.command ? `run ${r.command} (it ${r.does})` : null)).filter(Boolean);
  const text = err.message.charAt(0).toUpperCase() + err.message.slice(1);
  return ways.length ? `${text}. To go ahead, ${ways.join(", or ")}.` : text;
}

async function api(path, { method = "GET", json, body, headers = {} } = {}) {
  const init = { method, headers: { ...headers }, credentials: "same-origin" };
  if (method !== "GET") init.headers["X-Facecam-Request"] = "1";  // the server refuses a change without it (CSRF)
  if (json !== undefined) { init.body = JSON.stringify(json); init.headers["Content-Type"] = "application/json"; }
  else if (body !== undefined) init.body = body;
  let response;
  try {
    response = await fetch(path, init);
  } catch (err) {
    lostServer();
    throw new Problem(0, "cannot reach the facecam server");
  }
  if (response.status === 401 && !path.startsWith("/login")) {
    const { detail } = await detailOf(response);
    state.session = { ...(state.session || {}), logged_in: false, writable: false };
    showLogin(detail);
    throw new Problem(401, detail);
  }
  if (!response.ok) { const { detail, remedies } = await detailOf(response); throw new Problem(response.status, detail, remedies); }
  if (response.status === 204) return null;
  const type = response.headers.get("content-type") || "";
  return type.includes("json") ? response.json() : response.text();
}

async function detailOf(response) {
  try {
    const body = await response.json();
    return { detail: typeof body.detail === "string" ? body.detail : `the server answered ${response.status}`,
      remedies: Array.isArray(body.remedies) ? body.remedies : [] };
  } catch (err) {
    return { detail: `the server answered ${response.status}`, remedies: [] };
  }
}

const counted = (n, noun, plural = `${noun}s`) => `${n} ${n === 1 ? noun : plural}`;

function lostServer() {
  if (state.offline) return;
  state.offline = true;
  banner("Cannot reach the facecam server: retrying…", true);
  const retry = async () => {
    try {
      const r = await fetch("/health", { cache: "no-store" });
      if (r.ok) {
        state.offline = false;
        banner(null);
        await start();
        return;
      }
    } catch (err) { /* still away */ }
    setTimeout(retry, 2000);
  };
  setTimeout(retry, 2000);
}

function banner(text, bad = false) {
  const box = $("banner");
  box.hidden = !text;
  box.textContent = text || "";
  box.classList.toggle("bad", bad);
}

// ---- small DOM helpers (text only)

function el(tag, attrs = {}, ...children) {
  const node = document.createElement(tag);
  for (const [key, value] of Object.entries(attrs)) {
    if (key === "class") node.className = value;
    else if (key.startsWith("on")) node.addEventListener(key.slice(2), value);
    else if (value !== false && value !== null && value !== undefined) node.setAttribute(key, value === true ? "" : value);
  }
  for (const child of children.flat()) {
    if (child !== null && child !== undefined) node.append(child instanceof Node ? child : String(child));
  }
  return node;
}

function faceImage(src, alt, size = 64) {
  const img = el("img", { src, alt, width: size, height: size, loading: "lazy" });
  img.addEventListener("error", () => { img.removeAttribute("src"); img.alt = alt ? `${alt} (no face kept)` : ""; });
  return img;
}

const local = (iso) => (iso ? new Date(iso).toLocaleString([], { dateStyle: "medium", timeStyle: "short" }) : "never");
const clock = (iso) => new Date(iso).toLocaleTimeString([], { hour: "2-digit", minute: "2-digit", second: "2-digit" });
const seconds = (s) => (s < 60 ? `${Math.round(s)} s` : s < 3600 ? `${Math.round(s / 60)} min` : `${(s / 3600).toFixed(1)} h`);
const where = (source) => String(source).split(/[\\/]/).pop() || String(source);  // a video file by its name, not its path
const writable = () => Boolean(state.session && state.session.writable);

function confirmed(text, action) {
  const dialog = $("confirm");
  $("confirm-text").textContent = text;
  $("confirm-ok").textContent = action;
  dialog.returnValue = "";
  dialog.showModal();
  return new Promise((resolve) => dialog.addEventListener("close", () => resolve(dialog.returnValue === "ok"), { once: true }));
}

// ---- session and views

async function start() {
  try {
    [state.session, state.health] = await Promise.all([api("/session"), api("/health")]);
  } catch (err) {
    return;
  }
  $("readonly").hidden = state.session.token_required;
  $("logout").hidden = !state.session.logged_in;
  if (state.session.token_required && !state.session.logged_in) {
    showLogin(state.session.problem);
    return;
  }
  route();
}

function showLogin(message) {
  stopLive();
  stopEnrolment("");
  for (const view of document.querySelectorAll(".view")) view.hidden = view.id !== "view-login";
  $("logout").hidden = true;
  document.querySelector("nav").hidden = true;  // nothing to go to before logging in
  $("menu").hidden = true;
  $("login-message").textContent = message && !message.startsWith("log in first") ? message : "";
  state.view = "login";
  $("login-token").focus();
}

$("login-form").addEventListener("submit", async (event) => {
  event.preventDefault();
  const button = event.submitter || $("login-form").querySelector("button");
  button.disabled = true;
  try {
    state.session = await api("/login", { method: "POST", json: { token: $("login-token").value } });
    $("login-token").value = "";
    $("login-message").textContent = "";
    $("logout").hidden = false;
    route();
  } catch (err) {
    $("login-message").textContent = err.status === 401 ? "Wrong token: try again." : err.message;
  } finally {
    button.disabled = false;
  }
});

$("logout").addEventListener("click", async () => {
  await api("/logout", { method: "POST" }).catch(() => null);
  state.session = { ...state.session, logged_in: false, writable: false };
  showLogin("");
});

const VIEWS = { live: showLive, people: showPeople, enrol: showEnrol, history: showHistory, unknowns: showUnknowns };

function route() {
  if (!state.session || (state.session.token_required && !state.session.logged_in)) return;
  const name = (location.hash || "#live").slice(1);
  const view = VIEWS[name] ? name : "live";
  if (state.view !== view) {
    if (state.view === "live") stopLive();
    if (state.view === "enrol") stopEnrolment("");
  }
  state.view = view;
  document.querySelector("nav").hidden = false;
  $("menu").hidden = false;
  const current = document.querySelector(`nav a[data-view="${view}"]`);
  $("menu").textContent = `☰ ${current ? current.textContent : "Menu"}`;
  menu(false);
  for (const section of document.querySelectorAll(".view")) section.hidden = section.id !== `view-${view}`;
  for (const link of document.querySelectorAll("nav a")) {
    if (link.dataset.view === view) link.setAttribute("aria-current", "page");
    else link.removeAttribute("aria-current");
  }
  for (const node of document.querySelectorAll("[data-write]")) node.hidden = !writable();
  VIEWS[view]();
}

window.addEventListener("hashchange", route);

// the phone's menu: one row with the page's name; the links open under it
function menu(open) {
  document.querySelector("header").classList.toggle("open", open);
  $("menu").setAttribute("aria-expanded", String(open));
}
$("menu").addEventListener("click", () => menu($("menu").getAttribute("aria-expanded") !== "true"));

// ---- Live: the streams and who is here

function showLive() {
  const box = $("streams");
  box.replaceChildren();
  const sources = state.health.sources || [];
  if (!sources.length) {
    box.append(el("p", { class: "note" }, "No camera or video: start facecam serve with --camera or --source to see it here."));
  }
  sources.forEach((source, index) => {
    const img = el("img", { alt: `what ${source.name || "the camera"} sees, with the names recognised`, hidden: true });
    const waiting = el("span", {}, "Waiting for the first frame…");
    const figure = el("figure", { class: "stream" }, el("div", { class: "box" }, waiting, img),
      el("figcaption", {}, source.name ? where(source.name) : `source ${index}`,
        el("span", { class: "idle", "data-source": index }, sourceState(source))));
    img.addEventListener("load", () => {
      waiting.hidden = true;
      img.hidden = false;
      if (window.firstFrameAt === undefined) window.firstFrameAt = performance.now();  // bench/web.py reads it
    });
    img.addEventListener("error", () => {
      if (state.view !== "live" || !img.getAttribute("src")) return;
      img.hidden = true;
      waiting.hidden = false;
      waiting.textContent = "The stream stopped: retrying…";
      setTimeout(() => { if (state.view === "live") img.src = `/stream/${index}?t=${Date.now()}`; }, 3000);
    });
    img.src = `/stream/${index}`;
    box.append(figure);
  });
  refreshPresence();
  clearInterval(state.sourceTimer);
  if (sources.length) state.sourceTimer = setInterval(refreshSources, SOURCE_POLL_MS);
  if (sources.length && !state.events) {
    state.events = new EventSource("/events");
    for (const kind of ["arrived", "left"]) state.events.addEventListener(kind, refreshPresence);
    state.events.addEventListener("sighting_started", (event) => recent(JSON.parse(event.data)));
    state.events.addEventListener("error", async () => {
      // the browser reconnects by itself unless the server refused: then see whether it is still there
      if (!state.events || state.events.readyState !== EventSource.CLOSED) return;
      state.events = null;
      const there = await fetch("/health", { cache: "no-store" }).then((r) => r.ok, () => false);
      if (!there) { stopLive(); lostServer(); }
    });
  }
}

const SOURCE_POLL_MS = 3000;  // how often the captions ask /health whether a source is idle

// what a caption says of its source besides the name: idle while the detector rests, or its trouble
function sourceState(source) {
  if (source.state && source.state !== "running") return ` · ${source.state}`;
  return source.idle ? " · idle: nothing moves" : "";
}

async function refreshSources() {
  if (state.view !== "live") return;
  let health;
  try { health = await api("/health"); } catch (err) { return; }
  for (const span of document.querySelectorAll("#streams .idle")) {
    const source = (health.sources || [])[Number(span.dataset.source)];
    if (source) span.textContent = sourceState(source);
  }
}

async function refreshPresence() {
  let people;
  try { people = await api("/presence"); } catch (err) { return; }
  const list = $("present");
  list.replaceChildren(...people.map((p) => el("li", {}, el("strong", {}, p.name), ` · ${where(p.source)} · since ${clock(p.since)}`,
    p.live ? " · live" : "")));
  if (!people.length) list.append(el("li", { class: "note" }, "Nobody recognised right now."));
}

function recent(sighting) {
  // the same person on the same source again (leaving and coming back) adds to its line, not a new one
  const list = $("recent");
  const who = sighting.name || "someone unknown", source = where(sighting.source);
  const top = list.firstElementChild;
  const times = top && top.dataset.who === who && top.dataset.source === source ? Number(top.dataset.times) + 1 : 1;
  if (times > 1) top.remove();
  const item = el("li", { "data-who": who, "data-source": source, "data-times": times }, who,
    ` · ${source} · ${clock(sighting.start)}`, times > 1 ? ` · ${times} times` : null);
  list.prepend(item);
  while (list.children.length > 8) list.lastChild.remove();
}

function stopLive() {
  clearInterval(state.sourceTimer);
  if (state.events) { state.events.close(); state.events = null; }
  for (const img of document.querySelectorAll("#streams img")) img.removeAttribute("src");  // closes the MJPEG connections
}

// ---- People

async function showPeople() {
  const list = $("people");
  let people;
  try { people = await api("/identities"); } catch (err) { list.replaceChildren(el("li", { class: "problem" }, err.message)); return; }
  const template = $("person-card");
  list.replaceChildren();
  if (!people.length) list.append(el("li", { class: "note" }, "Nobody is enrolled yet."));
  for (const person of people) {
    const card = template.content.firstElementChild.cloneNode(true);
    const face = card.querySelector(".face");
    face.alt = `${person.name}'s face`;
    face.src = `/identities/${encodeURIComponent(person.name)}/face?v=${encodeURIComponent(person.updated)}`;
    face.addEventListener("error", () => { face.removeAttribute("src"); });
    card.querySelector(".name").textContent = person.name;
    const seen = person.sightings === null ? "" : person.sightings === 0 ? " · not seen yet"
      : ` · seen ${counted(person.sightings, "time")}, last ${local(person.last_seen)}`;
    card.querySelector(".facts").textContent = `${counted(person.samples, "sample")}${seen}`;
    card.querySelector(".poses").textContent = person.poses.length ? `directions: ${person.poses.join(", ")}` : "from photos";
    const problem = card.querySelector(".problem");
    card.querySelector("[data-write]").hidden = !writable();
    card.querySelector(".rename").addEventListener("click", () => rename(card, person, problem));
    card.querySelector(".delete").addEventListener("click", () => remove(person, problem));
    card.querySelector(".photos").addEventListener("change", (event) => addPhotos(person.name, event.target, problem));
    list.append(card);
  }
}

function rename(card, person, problem) {
  const heading = card.querySelector(".name");
  const input = el("input", { value: person.name, maxlength: 100, "aria-label": `new name for ${person.name}` });
  const form = el("form", { class: "row" }, input, el("button", { type: "submit" }, "Save"),
    el("button", { type: "button", class: "quiet", onclick: () => form.replaceWith(heading) }, "Cancel"));
  form.addEventListener("submit", async (event) => {
    event.preventDefault();
    try {
      await api(`/identities/${encodeURIComponent(person.name)}`, { method: "PATCH", json: { name: input.value } });
      showPeople();
    } catch (err) { problem.textContent = err.message; }
  });
  heading.replaceWith(form);
  input.focus();
}

async function remove(person, problem) {
  const history = person.sightings === null ? "" : ` and their ${counted(person.sightings, "sighting")} with their faces from the history`;
  const text = `Delete ${person.name}? This erases their ${counted(person.samples, "sample")}` +
    (person.negatives ? ` and ${counted(person.negatives, "correction")}` : "") + ` and face crops from the registry${history}. It cannot be undone.`;
  if (!(await confirmed(text, "Delete"))) return;
  try {
    await api(`/identities/${encodeURIComponent(person.name)}`, { method: "DELETE" });
    showPeople();
  } catch (err) { problem.textContent = err.message; }
}

async function addPhotos(name, input, problem, force = false) {
  const files = [...input.files];
  if (!files.length) return;
  const form = new FormData();
  for (const file of files) form.append("images", file, file.name);
  problem.textContent = `Enrolling from ${counted(files.length, "photo")}…`;
  try {
    const done = await api(`/identities/${encodeURIComponent(name)}/samples?force=${force}`, { method: "POST", body: form });
    const skipped = done.skipped.map((s) => `${s.file}: ${s.reason}`).join("; ");
    problem.textContent = "";
    input.value = "";
    if (state.view === "people") await showPeople();
    return `${done.name}: ${counted(done.added, "sample")} added, ${done.total} in all${skipped ? ` (skipped ${skipped})` : ""}`;
  } catch (err) {
    problem.textContent = explained(err);
    return null;
  }
}

// ---- Enrol from the browser's camera (the server runs register's guided capture on every frame)

const enrolment = { id: null, stream: null, running: false, canvas: document.createElement("canvas"), times: [],
  hint: { shown: "", at: 0, next: "", seen: 0 }, faces: {} };
const START_HINT = "Start the camera, then follow the hints.";

// A hint stays up for a moment and changes only to one that comes twice in a row, so it does not
// flip every second between two messages as the face hovers between two states.
const HINT_HOLD_MS = 1200;

function hint(text, now = false) {
  const h = enrolment.hint, at = performance.now();
  if (text === h.shown) { h.next = ""; return; }
  h.seen = text === h.next ? h.seen + 1 : 1;
  h.next = text;
  if (now || (h.seen >= 2 && at - h.at >= HINT_HOLD_MS)) {
    Object.assign(h, { shown: text, at, next: "", seen: 0 });
    $("enrol-hint").textContent = text;
    $("enrol-hint").classList.remove("saved");
  }
}

function showEnrol() {
  if (!writable()) {
    $("enrol-hint").textContent = "Enrolling needs a server with a token (FACECAM_TOKEN) and a login.";
  }
  for (const id of ["enrol-start", "enrol-upload", "enrol-photos", "enrol-name"]) $(id).disabled = !writable();
  chart(null);
  captured([]);
}

// The samples held, one per direction: a click drops one, to take it again
function captured(samples) {
  const list = $("enrol-samples");
  const key = samples.map((s) => `${s.direction}:${enrolment.faces[s.direction] || 0}`).join(",");
  if (list.dataset.key === key) return;
  list.dataset.key = key;
  list.replaceChildren(...samples.map((s) => el("li", {}, el("button", { type: "button", class: "sample",
    "aria-label": `Drop the ${s.direction} sample (${s.quality}) to take it again`, title: s.quality, onclick: () => dropSample(s.direction) },
    el("img", { src: `/enrolments/${enrolment.id}/samples/${encodeURIComponent(s.direction)}/face?v=${enrolment.faces[s.direction] || 0}`,
      alt: "", width: 64, height: 64 }),
    el("span", {}, s.direction), el("small", {}, s.quality.split(":")[0])))));
  $("enrol-samples-note").hidden = !samples.length;
}

async function dropSample(direction) {
  if (!enrolment.id) return;
  try {
    const state = await api(`/enrolments/${enrolment.id}/samples/${encodeURIComponent(direction)}`, { method: "DELETE" });
    enrolment.faces[direction] = (enrolment.faces[direction] || 0) + 1;
    chart(state.guidance);
    captured(state.captured);
    status(state.samples, state.guidance);
    hint(`Dropped the ${direction} sample: turn ${direction === "frontal" ? "to face the camera" : direction} again to take it again.`, true);
  } catch (err) { $("enrol-message").textContent = explained(err); }
}

function status(samples, guidance) {
  $("enrol-status").textContent = !samples ? "0 samples" : guidance.complete ? `${counted(samples, "sample")} · every direction done: Save`
    : `${counted(samples, "sample")} · Save now (fewer directions are fine), or turn for more`;
  $("enrol-save").disabled = samples === 0;
}

function chart(guidance) {
  const names = guidance ? guidance.directions : ["up-left", "up", "up-right", "left", "frontal", "right", "down-left", "down", "down-right"];
  const order = ["up-left", "up", "up-right", "left", "frontal", "right", "down-left", "down", "down-right"];
  $("enrol-chart").replaceChildren(...order.map((name) => {
    if (!names.includes(name)) return el("li", { "aria-hidden": "true", class: "empty" });
    const filled = guidance && guidance.filled.includes(name);
    return el("li", { class: `${filled ? "filled" : ""} ${guidance && guidance.current === name ? "current" : ""}`,
      "aria-label": `${name}: ${filled ? "captured" : "not yet"}` }, filled ? `✓ ${name}` : name);
  }));
}

function cameraProblem(err) {
  if (!window.isSecureContext || !navigator.mediaDevices) {
    return "The camera needs a secure page: open facecam on localhost, or serve it over HTTPS (facecam serve --tls-cert … --tls-key …).";
  }
  if (err && (err.name === "NotAllowedError" || err.name === "SecurityError")) {
    return "The browser refused the camera: allow camera access for this page (the icon in the address bar), then start again. Photos work too (below).";
  }
  if (err && (err.name === "NotFoundError" || err.name === "OverconstrainedError")) return "No camera found: enrol from photos instead (below).";
  if (err && err.name === "NotReadableError") return "The camera is in use by another program: close it and start again.";
  return `The camera could not start (${err ? err.name || err.message : "unknown reason"}).`;
}

$("enrol-start").addEventListener("click", async () => {
  $("enrol-message").textContent = "";
  if (!$("enrol-name").value.trim()) { $("enrol-message").textContent = "Enter the person's name first."; $("enrol-name").focus(); return; }
  try {
    if (!window.isSecureContext || !navigator.mediaDevices) throw null;
    enrolment.stream = await navigator.mediaDevices.getUserMedia({ video: { width: { ideal: 640 }, height: { ideal: 480 }, facingMode: "user" }, audio: false });
  } catch (err) {
    $("enrol-message").textContent = cameraProblem(err);
    return;
  }
  const video = $("enrol-video");
  video.srcObject = enrolment.stream;
  await video.play().catch(() => null);
  $("enrol-off").hidden = true;
  try {
    const started = await api("/enrolments", { method: "POST" });
    enrolment.id = started.id;
  } catch (err) {
    stopEnrolment(err.message);
    return;
  }
  enrolment.running = true;
  enrolment.faces = {};
  $("enrol-start").disabled = true;
  $("enrol-cancel").disabled = false;
  $("enrol-status").textContent = "0 samples";
  sendFrames();
});

async function sendFrames() {
  const video = $("enrol-video"), canvas = enrolment.canvas;
  while (enrolment.running) {
    if (!video.videoWidth) { await new Promise((r) => setTimeout(r, 100)); continue; }
    const scale = Math.min(1, 640 / Math.max(video.videoWidth, video.videoHeight));
    canvas.width = Math.round(video.videoWidth * scale);
    canvas.height = Math.round(video.videoHeight * scale);
    canvas.getContext("2d").drawImage(video, 0, 0, canvas.width, canvas.height);
    const blob = await new Promise((resolve) => canvas.toBlob(resolve, "image/jpeg", 0.85));
    const sent = performance.now();
    let answer;
    try {
      answer = await api(`/enrolments/${enrolment.id}/frames`, { method: "POST", body: blob, headers: { "Content-Type": "image/jpeg" } });
    } catch (err) {
      if (!enrolment.running) return;
      stopEnrolment(err.status === 404 ? `${err.message}` : err.status === 0
        ? "The connection to the server was lost: nothing was saved. Start again once it is back." : err.message);
      return;
    }
    enrolment.times.push(performance.now() - sent);
    show(answer);
  }
}

function show(answer) {
  const g = answer.guidance;
  hint(answer.warning ? `${g.hint} (${answer.warning})` : g.hint, Boolean(answer.warning));
  if (answer.kept) enrolment.faces[answer.kept] = (enrolment.faces[answer.kept] || 0) + 1;  // a better face: show it
  chart(g);
  captured(answer.captured);
  const [cx, cy, a, b] = answer.oval;
  const oval = $("enrol-oval");
  oval.setAttribute("cx", cx); oval.setAttribute("cy", cy); oval.setAttribute("rx", a); oval.setAttribute("ry", b);
  oval.classList.toggle("ok", g.ok);
  const face = $("enrol-face");
  const [x1, y1, x2, y2] = answer.face || [0, 0, 0, 0];
  face.setAttribute("x", x1); face.setAttribute("y", y1); face.setAttribute("width", x2 - x1); face.setAttribute("height", y2 - y1);
  status(answer.samples, g);
}

function stopEnrolment(message) {
  enrolment.running = false;
  if (enrolment.id) {
    const id = enrolment.id;
    enrolment.id = null;
    fetch(`/enrolments/${id}`, { method: "DELETE", headers: { "X-Facecam-Request": "1" }, credentials: "same-origin", keepalive: true }).catch(() => null);
  }
  if (enrolment.stream) { for (const track of enrolment.stream.getTracks()) track.stop(); enrolment.stream = null; }
  $("enrol-video").srcObject = null;
  $("enrol-off").hidden = false;
  $("enrol-start").disabled = !writable();
  $("enrol-cancel").disabled = true;
  $("enrol-save").disabled = true;
  $("enrol-face").setAttribute("width", 0);
  if (message !== undefined) $("enrol-message").textContent = message;
}

$("enrol-cancel").addEventListener("click", () => {
  stopEnrolment("Cancelled: nothing saved.");
  $("enrol-status").textContent = "";
  chart(null);
  captured([]);
  hint(START_HINT, true);
});
window.addEventListener("pagehide", () => stopEnrolment());

$("enrol-save").addEventListener("click", async () => {
  const id = enrolment.id;
  if (!id) return;
  enrolment.running = false;  // no frame in flight while saving
  $("enrol-save").disabled = true;
  try {
    const done = await api(`/enrolments/${id}`, { method: "POST",
      json: { name: $("enrol-name").value.trim(), add: $("enrol-add").checked, force: $("enrol-force").checked } });
    enrolment.id = null;
    stopEnrolment("");
    // the result where the person looks (under the camera), and a fresh start for the next person
    $("enrol-status").textContent = "";
    chart(null);
    captured([]);
    hint(`Saved ${done.name}: ${counted(done.added, "sample")} (${done.poses.join(", ")}), ${done.total} in all. ` +
      "Enter another name and start the camera to enrol someone else.", true);
    $("enrol-hint").classList.add("saved");
    $("enrol-name").value = "";
    $("enrol-hint").scrollIntoView({ block: "center" });
  } catch (err) {
    $("enrol-message").textContent = explained(err);  // the enrolment is kept: change the name or the options, save again
    $("enrol-message").scrollIntoView({ block: "center" });
    $("enrol-save").disabled = false;
    if (err.status === 404) stopEnrolment(err.message);
    else if (enrolment.id) { enrolment.running = true; sendFrames(); }
  }
});

$("enrol-upload").addEventListener("click", async () => {
  const name = $("enrol-name").value.trim();
  $("enrol-message").textContent = "";
  if (!name) { $("enrol-message").textContent = "Enter the person's name first."; $("enrol-name").focus(); return; }
  if (!$("enrol-photos").files.length) { $("enrol-message").textContent = "Choose one or more photos first."; return; }
  const said = await addPhotos(name, $("enrol-photos"), $("enrol-message"), $("enrol-force").checked);
  if (said) { hint(said, true); $("enrol-hint").classList.add("saved"); $("enrol-hint").scrollIntoView({ block: "center" }); }
});

// ---- History

function today() {
  const now = new Date();
  return `${now.getFullYear()}-${String(now.getMonth() + 1).padStart(2, "0")}-${String(now.getDate()).padStart(2, "0")}`;
}

function nextDay(day) {
  const d = new Date(`${day}T12:00:00`);
  d.setDate(d.getDate() + 1);
  return `${d.getFullYear()}-${String(d.getMonth() + 1).padStart(2, "0")}-${String(d.getDate()).padStart(2, "0")}`;
}

async function showHistory() {
  if (!$("history-day").value) $("history-day").value = today();
  const select = $("history-name");
  const chosen = select.value;
  try {
    const people = await api("/identities");
    select.replaceChildren(el("option", { value: "" }, "everyone"), el("option", { value: "?unknown" }, "unknown faces"),
      ...people.map((p) => el("option", { value: p.name }, p.name)));
    select.value = [...select.options].some((o) => o.value === chosen) ? chosen : "";
  } catch (err) { /* the list below says why */ }
  loadHistory(0);
}

$("history-form").addEventListener("submit", (event) => { event.preventDefault(); loadHistory(0); });
$("history-more").addEventListener("click", () => loadHistory(Number($("history-more").dataset.offset)));

async function loadHistory(offset) {
  const day = $("history-day").value || today();
  const who = $("history-name").value;
  $("history-csv").href = `/attendance.csv?day=${day}`;
  const query = new URLSearchParams({ since: day, until: nextDay(day), limit: 50, offset });
  if (who === "?unknown") query.set("unknown", "true"); else if (who) query.set("name", who);
  const list = $("sightings");
  if (offset === 0) list.replaceChildren();
  if (offset === 0) $("history-status").textContent = "";
  try {
    const [page, rows] = await Promise.all([api(`/sightings?${query}`), offset ? null : api(`/attendance?day=${day}`)]);
    if (rows) {
      $("attendance").tBodies[0].replaceChildren(...rows.map((r) => el("tr", {},
        el("td", {}, r.name), el("td", {}, clock(r.first_seen)), el("td", {}, clock(r.last_seen)),
        el("td", {}, seconds(r.present_s)), el("td", {}, r.sightings), el("td", {}, r.sources.map(where).join(", ")))));
      if (!rows.length) $("attendance").tBodies[0].append(el("tr", {}, el("td", { colspan: 6, class: "note" }, "Nobody enrolled was seen that day.")));
    }
    for (const s of page.sightings) list.append(sightingItem(s));
    if (!list.children.length) list.append(el("li", { class: "note" }, "No sightings that day."));
    $("history-more").hidden = page.next_offset === null;
    $("history-more").dataset.offset = page.next_offset;
  } catch (err) {
    list.replaceChildren(el("li", { class: "problem" }, err.message));
  }
}

function sightingItem(s) {
  const who = s.name || "unknown";
  const problem = el("p", { class: "problem", role: "alert" });
  const item = el("li", {}, faceImage(`/sightings/${s.id}/face`, `${who}'s face`),
    el("div", { class: "what" }, el("strong", {}, who),
      el("div", { class: "when" }, `${clock(s.start)} · ${seconds(Math.max(0, (new Date(s.end) - new Date(s.start)) / 1000))} · ${where(s.source)} · score ${s.best_score.toFixed(2)}`),
      problem));
  if (s.name && writable() && s.closed) {
    item.append(el("button", { type: "button", class: "quiet", onclick: async () => {
      if (!(await confirmed(`This face is not ${s.name}? It is kept as a face ${s.name} must not be taken for, and the sighting becomes unknown.`, `Not ${s.name}`))) return;
      try {
        await api(`/sightings/${s.id}/correct`, { method: "POST", json: { name: null } });
        loadHistory(0);
        $("history-status").textContent = `Done: this sighting is unknown now, and ${s.name} is not given this face again.`;
      } catch (err) { problem.textContent = explained(err); }
    } }, `Not ${s.name}`));
  }
  return item;
}

// ---- Unknown faces

async function showUnknowns(keepStatus = false) {
  if (keepStatus !== true) $("unknowns-status").textContent = "";
  const list = $("unknowns");
  let groups;
  try { groups = await api("/unknowns"); } catch (err) { list.replaceChildren(el("li", { class: "problem" }, err.message)); return; }
  list.replaceChildren(...groups.map(groupItem));
  if (!groups.length) list.append(el("li", { class: "note" }, "No unknown faces kept."));
}

function groupItem(g) {
  const problem = el("p", { class: "problem", role: "alert" });
  const item = el("li", {}, el("h2", {}, `Group ${g.cluster}`),
    el("p", { class: "note" }, `${counted(g.sightings, "sighting")} · ${local(g.first_seen)} to ${local(g.last_seen)} · ${g.sources.map(where).join(", ")}`),
    el("div", { class: "faces" }, g.sighting_ids.slice(0, 8).map((id) => faceImage(`/sightings/${id}/face`, `a face of group ${g.cluster}`))));
  if (writable()) {
    const input = el("input", { maxlength: 100, required: true, placeholder: "their name", "aria-label": `name of group ${g.cluster}` });
    const add = el("input", { type: "checkbox" });
    const form = el("form", {}, el("div", { class: "row" }, input, el("button", { type: "submit" }, "Enrol")),
      el("label", { class: "check" }, add, "add to someone enrolled already"));
    // forgetting erases: apart from the enrol form and its checkbox, at the card's end
    const forget = el("div", { class: "forget" }, el("button", { type: "button", class: "danger quiet", onclick: async () => {
      if (!(await confirmed(`Forget group ${g.cluster}? Its ${counted(g.sightings, "sighting")} and their faces are erased from the history.`, "Forget"))) return;
      try {
        const done = await api(`/unknowns/${g.cluster}`, { method: "DELETE" });
        $("unknowns-status").textContent = `Forgot group ${g.cluster}: ${counted(done.sightings, "sighting")} and their faces erased.`;
        showUnknowns(true);
      } catch (err) { problem.textContent = explained(err); }
    } }, "Forget this group"));
    form.addEventListener("submit", async (event) => {
      event.preventDefault();
      try {
        const done = await api(`/unknowns/${g.cluster}/enrol`, { method: "POST", json: { name: input.value.trim(), add: add.checked } });
        $("unknowns-status").textContent = `Enrolled ${done.name} from group ${g.cluster}: ${counted(done.added, "sample")} ` +
          `(${done.total} in all); the name is on ${counted(done.sightings, "sighting")} now.`;
        showUnknowns(true);
      } catch (err) { problem.textContent = explained(err); }
    });
    item.append(form, problem, forget);
    return item;
  }
  item.append(problem);
  return item;
}

start();
