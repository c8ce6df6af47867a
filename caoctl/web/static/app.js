// The caod dashboard page: the overview (#/) and one agent (#/agent/ID).
// Everything from the daemon goes into the page as text (textContent), never as HTML.
"use strict";

const $ = (id) => document.getElementById(id);
let overviewTimer = null;
let screenStream = null;
let shownAgent = null;

function el(tag, attrs, ...children) {
  const node = document.createElement(tag);
  for (const [k, v] of Object.entries(attrs || {})) {
    if (k === "class") node.className = v; else node.setAttribute(k, v);
  }
  for (const c of children) node.append(c instanceof Node ? c : document.createTextNode(String(c)));
  return node;
}

function ago(ts) {
  let s = Math.max(0, Math.round(Date.now() / 1000 - ts));
  if (s < 60) return s + "s";
  if (s < 3600) return Math.floor(s / 60) + "m" + (s % 60 ? " " + (s % 60) + "s" : "");
  return Math.floor(s / 3600) + "h " + Math.floor((s % 3600) / 60) + "m";
}

function since(ts) { return el("span", { class: "since", "data-ts": ts }, ago(ts)); }

function agentLink(a) {
  // The id is the route; encodeURIComponent keeps a strange id from leaving it.
  return el("a", { href: "#/agent/" + encodeURIComponent(a.id) }, a.name ? `${a.name} (${a.id})` : a.id);
}

function agentItem(a) {
  const parts = [agentLink(a), " ", el("span", { class: "status " + a.status }, a.status), " for ", since(a.status_since)];
  parts.push(el("span", { class: "muted" }, ` · ${a.profile || "-"} · ${a.provider}` + (a.role ? ` · ${a.role}` : "")));
  if (a.inbox) parts.push(el("span", { class: "muted" }, ` · inbox ${a.inbox}`));
  if (a.stalled_since && a.status !== "exited") parts.push(" ", el("span", { class: "needs" }, "stalled"));
  const li = el("li", { class: "agent", "data-agent": a.id }, ...parts);
  if (a.children.length) li.append(el("ul", { class: "tree" }, ...a.children.map(agentItem)));
  return li;
}

function renderOverview(data) {
  const att = $("attention");
  att.replaceChildren();
  if (data.attention.length) {
    att.append(el("div", { class: "attention" }, el("h2", {}, "Needs a person"),
      el("ul", { class: "tree top" }, ...data.attention.map((a) =>
        el("li", { class: "agent", "data-agent": a.id }, agentLink(a), " ",
           el("span", { class: "needs" }, a.why), a.reason ? " — " + a.reason : "",
           a.session ? el("span", { class: "muted" }, " · session " + a.session) : "")))));
  }
  const box = $("sessions");
  box.replaceChildren();
  for (const s of data.sessions) {
    box.append(el("div", { class: "session", "data-session": s.name },
      el("h2", {}, "session " + s.name + " ", el("span", { class: "cwd" }, s.cwd)),
      el("ul", { class: "tree top" }, ...s.agents.map(agentItem))));
  }
  if (data.agents.length) {
    box.append(el("div", { class: "session" }, el("h2", {}, "agents without a session"),
      el("ul", { class: "tree top" }, ...data.agents.map(agentItem))));
  }
  if (!data.sessions.length && !data.agents.length) box.append(el("p", { class: "muted" }, "no agents"));
  document.body.dataset.overviewLoaded = String(Date.now());
}

async function loadOverview() {
  const r = await fetch("/api/overview");
  if (r.ok) renderOverview(await r.json());
}

function overviewSoon() {
  // Many events come at once (a team at work): one reload for the lot.
  if (overviewTimer) return;
  overviewTimer = setTimeout(() => { overviewTimer = null; loadOverview(); }, 100);
}

function followEvents() {
  const es = new EventSource("/api/stream/events");
  es.addEventListener("hello", () => { $("live").textContent = "live"; $("live").className = "live on"; overviewSoon(); });
  es.addEventListener("caod", () => { if (!shownAgent) overviewSoon(); });
  es.addEventListener("daemon_gone", () => { $("live").textContent = "daemon gone"; $("live").className = "live off"; });
  es.onerror = () => { $("live").textContent = "reconnecting…"; $("live").className = "live off"; };
}

function showAgent(id) {
  shownAgent = id;
  $("overview").hidden = true;
  $("agent").hidden = false;
  $("agent-title").textContent = "agent " + id;
  $("screen").textContent = "";
  $("message-result").textContent = "";
  $("answer-result").textContent = "";
  $("answer").hidden = true;
  if (screenStream) screenStream.close();
  screenStream = new EventSource("/api/stream/screen/" + encodeURIComponent(id));
  screenStream.addEventListener("screen", (ev) => {
    const s = JSON.parse(ev.data);
    $("agent-status").replaceChildren(el("span", { class: "status " + s.status }, s.status));
    $("screen").textContent = s.text || "";
    $("answer").hidden = s.status !== "waiting_user_answer";
    document.body.dataset.screenAt = String(Date.now());
  });
}

function showOverview() {
  shownAgent = null;
  if (screenStream) { screenStream.close(); screenStream = null; }
  $("agent").hidden = true;
  $("overview").hidden = false;
  loadOverview();
}

function route() {
  const m = location.hash.match(/^#\/agent\/(.+)$/);
  if (m) showAgent(decodeURIComponent(m[1])); else showOverview();
}

async function post(what, text) {
  const r = await fetch("/api/agents/" + encodeURIComponent(shownAgent) + "/" + what, {
    method: "POST", headers: { "Content-Type": "application/json" }, body: JSON.stringify({ text }),
  });
  return [r.ok, await r.json()];
}

async function sendMessage(ev) {
  ev.preventDefault();
  const text = $("message-text").value;
  if (!text.trim() || !shownAgent) return;
  const [ok, body] = await post("message", text);
  $("message-result").textContent = ok ? `queued (message ${body.id}, ${body.status})` : body.error;
  if (ok) $("message-text").value = "";
}

async function sendAnswer(ev) {
  ev.preventDefault();
  const text = $("answer-text").value;
  if (!text.trim() || !shownAgent) return;
  const [ok, body] = await post("answer", text);
  $("answer-result").textContent = ok ? "answered" : body.error;
  if (ok) $("answer-text").value = "";
}

document.addEventListener("DOMContentLoaded", () => {
  $("message").addEventListener("submit", sendMessage);
  $("answer").addEventListener("submit", sendAnswer);
  window.addEventListener("hashchange", route);
  setInterval(() => { for (const s of document.querySelectorAll(".since")) s.textContent = ago(+s.dataset.ts); }, 1000);
  followEvents();
  route();
});
