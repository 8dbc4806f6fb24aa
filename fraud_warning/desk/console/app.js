// The desk console: ranked alerts updating in place from the live stream, details,
// actions, dispatch countdowns and a district summary. No libraries, no network but the
// API. Every value from the server goes through textContent, never innerHTML.
"use strict";

const PRIO = { P1: 1, P2: 2, P3: 3 };
const ACTIVE = new Set(["open", "acknowledged", "escalated"]);
const state = { token: sessionStorage.getItem("fw-token") || "", unmask: false,
  alerts: new Map(), tasks: new Map(), selected: null, lastId: "", abort: null, viewer: null };
const $ = (sel) => document.querySelector(sel);

function el(tag, text, cls) {
  const node = document.createElement(tag);
  if (text !== undefined && text !== null) node.textContent = String(text);
  if (cls) node.className = cls;
  return node;
}

async function api(path, options = {}) {
  const headers = { Authorization: "Bearer " + state.token, ...(options.headers || {}) };
  const res = await fetch(path, { ...options, headers });
  const body = await res.json().catch(() => ({}));
  if (!res.ok) throw new Error(body.error || res.status + " " + res.statusText);
  return body;
}

const q = () => (state.unmask ? "?unmask=1" : "");

function rankKey(a) {
  return [PRIO[a.priority] || 9, -a.score, -Date.parse(a.event_ts), a.desk.elderly ? 0 : 1];
}
function compare(a, b) {
  const ka = rankKey(a), kb = rankKey(b);
  for (let i = 0; i < ka.length; i++) if (ka[i] !== kb[i]) return ka[i] - kb[i];
  return a.alert_id < b.alert_id ? -1 : 1;
}

function ago(iso) {
  const s = Math.max(0, (Date.now() - Date.parse(iso)) / 1000);
  if (s < 90) return Math.round(s) + " s ago";
  if (s < 5400) return Math.round(s / 60) + " min ago";
  return Math.round(s / 3600) + " h ago";
}

// the desk's own time zone: the server writes UTC, events carry their source's offset
function clock(iso) { return new Date(iso).toLocaleTimeString([], { hour12: false }); }

function countdown(iso) {
  const s = Math.round((Date.parse(iso) - Date.now()) / 1000);
  const m = Math.floor(Math.abs(s) / 60), r = String(Math.abs(s) % 60).padStart(2, "0");
  return { text: (s < 0 ? "-" : "") + m + ":" + r, late: s < 0 };
}

function taskFor(alertId) { return state.tasks.get("T-" + alertId); }

function renderAlerts() {
  const body = $("#alerts tbody");
  const rows = new Map([...body.children].map((tr) => [tr.dataset.id, tr]));
  const list = [...state.alerts.values()].filter((a) => ACTIVE.has(a.desk.state)).sort(compare);
  list.forEach((a, i) => {
    let tr = rows.get(a.alert_id);
    const fresh = !tr;
    if (fresh) {
      tr = el("tr");
      tr.dataset.id = a.alert_id;
      tr.addEventListener("click", () => select(a.alert_id));
    }
    rows.delete(a.alert_id);
    const signature = JSON.stringify([i, a.revision, a.desk.state, taskFor(a.alert_id)?.status]);
    if (tr.dataset.sig !== signature) {
      if (!fresh && tr.dataset.sig) tr.classList.remove("flash"), void tr.offsetWidth, tr.classList.add("flash");
      tr.dataset.sig = signature;
      tr.replaceChildren(
        el("td", i + 1), cell(el("span", a.priority, a.priority)), el("td", a.score.toFixed(2)),
        subscriberCell(a), el("td", a.typology), el("td", ago(a.event_ts)),
        el("td", a.desk.district), el("td", a.desk.state, "state"), doorCell(a));
    }
    tr.classList.toggle("selected", a.alert_id === state.selected);
    body.appendChild(tr); // moves an existing row into rank order without rebuilding it
  });
  rows.forEach((tr) => tr.remove());
  $("#alert-count").textContent = "(" + list.length + " open)";
  tick();
}

function cell(child) { const td = el("td"); td.appendChild(child); return td; }
function subscriberCell(a) {
  const td = el("td", a.subscriber, "subscriber");
  if (a.desk.elderly) td.appendChild(el("span", "65+", "elderly"));
  return td;
}
function doorCell(a) {
  const t = taskFor(a.alert_id);
  if (!t) return el("td", "-", "muted");
  const td = el("td", "", "countdown");
  td.dataset.target = t.target_arrival;
  td.dataset.done = t.on_scene_at ? "1" : "";
  td.title = t.status;
  return td;
}

function renderTasks() {
  const body = $("#tasks tbody");
  body.replaceChildren();
  const list = [...state.tasks.values()].sort((a, b) => (a.created_at < b.created_at ? 1 : -1));
  for (const t of list.slice(0, 50)) {
    const tr = el("tr");
    tr.dataset.id = t.task_id;
    const left = el("td", "", "countdown");
    left.dataset.target = t.target_arrival;
    left.dataset.done = t.on_scene_at ? "1" : "";
    tr.append(el("td", t.task_id), el("td", t.unit_id || "none free"), el("td", t.status, "status-cell"),
      el("td", t.district), el("td", t.eta_s == null ? "-" : Math.round(t.eta_s) + " s"), left);
    body.appendChild(tr);
  }
  renderDistricts();
  tick();
}

function renderDistricts() {
  const rows = new Map();
  const row = (d) => rows.get(d) || rows.set(d, { P1: 0, P2: 0, P3: 0, active: 0, arrived: 0, onTime: 0 }).get(d);
  for (const a of state.alerts.values()) if (ACTIVE.has(a.desk.state)) row(a.desk.district)[a.priority]++;
  for (const t of state.tasks.values()) {
    const r = row(t.district || "unknown");
    if (t.status !== "resolved") r.active++;
    if (t.on_scene_at) { r.arrived++; if (t.on_time) r.onTime++; }
  }
  const body = $("#districts tbody");
  body.replaceChildren();
  for (const [d, r] of [...rows.entries()].sort()) {
    const share = r.arrived ? Math.round((100 * r.onTime) / r.arrived) + "%" : "-";
    const tr = el("tr");
    tr.append(el("td", d), el("td", r.P1), el("td", r.P2), el("td", r.P3), el("td", r.active), el("td", share));
    body.appendChild(tr);
  }
}

function tick() {
  for (const td of document.querySelectorAll(".countdown")) {
    if (td.dataset.done) { td.textContent = "on scene"; td.classList.remove("late"); continue; }
    const c = countdown(td.dataset.target);
    td.textContent = c.text;
    td.classList.toggle("late", c.late);
  }
}

async function select(id) {
  state.selected = id;
  renderAlerts();
  const d = await api("/api/alerts/" + encodeURIComponent(id) + q());
  if (state.selected !== id) return;
  $("#detail").hidden = false;
  $("#detail-title").textContent = d.priority + " · " + d.typology + " · " + d.subscriber;
  $("#detail-meta").textContent = "score " + d.score.toFixed(2) + " · revision " + d.revision +
    " · " + d.desk.state + " · " + d.desk.district + (d.desk.elderly ? " · elderly" : "");
  $("#action-error").textContent = "";
  const reasons = $("#reasons");
  reasons.replaceChildren();
  for (const m of d.models) {
    const li = el("li", m.id + "@" + m.version + " (" + m.score.toFixed(2) + "): ");
    li.appendChild(el("span", m.reasons.join("; ")));
    reasons.appendChild(li);
  }
  const events = [[d.event_ts, "trigger event; evidence " + d.evidence.join(", ")],
    [d.emitted_at, "alert emitted (revision " + d.revision + ")"], [d.desk.first_seen, "reached the desk"]];
  for (const a of d.actions) events.push([a.at, a.action + " by " + a.by + (a.reason ? " (" + a.reason + ")" : "") + (a.note ? ": " + a.note : "")]);
  for (const s of Object.values(d.ladder)) events.push([s.opened_at, "ladder " + s.step + " opened: " + s.reason + " (deadline " + clock(s.deadline) + ")"]);
  for (const s of Object.values(d.ladder)) if (s.closed_at) events.push([s.closed_at, "ladder " + s.step + " " + s.status]);
  if (d.task) for (const h of d.task.history) events.push([h.at, "task " + h.status + " unit " + (h.unit_id || "none")]);
  events.sort((a, b) => Date.parse(a[0]) - Date.parse(b[0]));
  const tl = $("#timeline");
  tl.replaceChildren(...events.map(([at, what]) => el("li", clock(at) + " " + what)));
}

async function act(action) {
  const body = action === "dismiss" ? { reason: $("#dismiss-reason").value } : {};
  try {
    const d = await api("/api/alerts/" + encodeURIComponent(state.selected) + "/" + action + q(), {
      method: "POST", headers: { "Content-Type": "application/json" }, body: JSON.stringify(body) });
    upsertAlert(d);
    select(d.alert_id);
  } catch (e) {
    $("#action-error").textContent = e.message;
  }
}

function upsertAlert(a) {
  const { actions, ladder, task, ...alert } = a;
  state.alerts.set(alert.alert_id, alert);
  renderAlerts();
  renderDistricts();
}

function handle(kind, data) {
  if (kind === "alert") upsertAlert(data);
  else if (kind === "task") { state.tasks.set(data.task_id, data); renderTasks(); renderAlerts(); }
  if (state.selected && (data.alert_id === state.selected)) select(state.selected);
}

async function follow(signal) {
  while (!signal.aborted) {
    try {
      const headers = { Authorization: "Bearer " + state.token };
      if (state.lastId) headers["Last-Event-ID"] = state.lastId;
      const res = await fetch("/api/alerts/stream" + q(), { headers, signal });
      if (!res.ok) throw new Error("stream " + res.status);
      setStatus("live", true);
      const reader = res.body.getReader();
      const decoder = new TextDecoder();
      let buffer = "";
      for (;;) {
        const { value, done } = await reader.read();
        if (done) break;
        buffer += decoder.decode(value, { stream: true });
        let cut;
        while ((cut = buffer.indexOf("\n\n")) >= 0) {
          const block = buffer.slice(0, cut);
          buffer = buffer.slice(cut + 2);
          let id = "", kind = "message", data = "";
          for (const line of block.split("\n")) {
            if (line.startsWith("id: ")) id = line.slice(4);
            else if (line.startsWith("event: ")) kind = line.slice(7);
            else if (line.startsWith("data: ")) data += line.slice(6);
          }
          if (id) state.lastId = id;
          if (data) handle(kind, JSON.parse(data));
        }
      }
    } catch (e) {
      if (signal.aborted) return;
    }
    setStatus("reconnecting…", false);
    await new Promise((r) => setTimeout(r, 2000));
  }
}

function setStatus(text, live) {
  const s = $("#conn-status");
  s.textContent = text;
  s.classList.toggle("live", live);
}

async function start() {
  if (state.abort) state.abort.abort();
  state.abort = new AbortController();
  state.alerts.clear(); state.tasks.clear(); state.lastId = "";
  try {
    const alerts = await api("/api/alerts?limit=500" + (state.unmask ? "&unmask=1" : ""));
    state.viewer = alerts.viewer;
    $("#viewer").textContent = alerts.viewer.name;
    $("#unmask-box").hidden = !["desk", "dev"].includes(alerts.viewer.role);
    for (const a of alerts.alerts) state.alerts.set(a.alert_id, a);
    const tasks = await api("/api/dispatch/tasks" + q());
    for (const t of tasks.tasks) state.tasks.set(t.task_id, t);
  } catch (e) {
    setStatus(e.message, false);
    return;
  }
  renderTasks();
  renderAlerts();
  if (state.selected) select(state.selected);
  follow(state.abort.signal);
}

$("#login").addEventListener("submit", (ev) => {
  ev.preventDefault();
  state.token = $("#token").value.trim();
  sessionStorage.setItem("fw-token", state.token);
  start();
});
$("#unmask").addEventListener("change", (ev) => { state.unmask = ev.target.checked; start(); });
for (const b of document.querySelectorAll("#actions button")) b.addEventListener("click", () => act(b.dataset.action));
setInterval(tick, 1000);
if (state.token) start();
