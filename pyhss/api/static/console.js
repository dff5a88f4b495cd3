// pyhss console: fills the server-rendered pages from the REST API and sends edits to it.
// The API token is kept in sessionStorage (this browser tab's session) and sent as
// "Authorization: Bearer"; it is never put in a cookie or a URL.
"use strict";

const TOKEN_KEY = "pyhss-api-token";

function token() { return sessionStorage.getItem(TOKEN_KEY); }

async function api(method, path, body) {
  const headers = {"Accept": "application/json"};
  const t = token();
  if (t) headers["Authorization"] = "Bearer " + t;
  const options = {method: method, headers: headers, credentials: "omit", cache: "no-store"};
  if (body !== undefined) {
    headers["Content-Type"] = "application/json";
    options.body = JSON.stringify(body);
  }
  const response = await fetch(path, options);
  let data = null;
  const type = response.headers.get("content-type") || "";
  if (type.includes("json")) data = await response.json();
  else if (response.status !== 204) data = await response.text();
  if (response.status === 401) notice("The API needs a token: enter it at the top right.", true);
  return {status: response.status, data: data};
}

function notice(text, failed) {
  const box = document.getElementById("notice");
  box.textContent = text;
  box.hidden = !text;
  box.classList.toggle("failed", !!failed);
}

function cell(row, value) {
  const td = document.createElement("td");
  if (value instanceof Node) td.appendChild(value); else td.textContent = value === null ? "-" : String(value);
  row.appendChild(td);
}

function link(href, text) {
  const a = document.createElement("a");
  a.href = href;
  a.textContent = text;
  return a;
}

function setupToken() {
  const form = document.getElementById("token-form");
  const state = document.getElementById("token-state");
  const show = () => { state.textContent = token() ? "API token set" : "no API token"; };
  form.addEventListener("submit", (event) => {
    event.preventDefault();
    const input = document.getElementById("token");
    if (input.value.trim()) sessionStorage.setItem(TOKEN_KEY, input.value.trim());
    input.value = "";
    window.location.reload();
  });
  document.getElementById("token-forget").addEventListener("click", () => {
    sessionStorage.removeItem(TOKEN_KEY);
    show();
  });
  show();
}

// --- errors next to their fields ----------------------------------------------------

function clearErrors(form) {
  form.querySelectorAll(".error").forEach((p) => { p.textContent = ""; });
  form.querySelectorAll("[aria-invalid]").forEach((e) => e.removeAttribute("aria-invalid"));
}

function showProblem(form, result) {
  const data = result.data || {};
  const errors = data.errors || [{field: null, problem: data.detail || ("HTTP " + result.status)}];
  for (const error of errors) {
    let place = form.querySelector('.error[data-for="' + (error.field || "") + '"]');
    if (!place) place = form.querySelector('.error[data-for=""]');
    place.textContent = (error.field && !form.querySelector('[name="' + error.field + '"]')
                         ? error.field + ": " : "") + error.problem;
    const input = form.querySelector('[name="' + error.field + '"]');
    if (input) input.setAttribute("aria-invalid", "true");
  }
  notice(data.detail || ("HTTP " + result.status), true);
}

// --- forms <-> records ----------------------------------------------------------------

function fill(form, record) {
  for (const input of form.querySelectorAll("[data-kind]")) {
    const value = record[input.name];
    const kind = input.dataset.kind;
    if (kind === "secret") { input.value = ""; continue; }
    if (kind === "flag") input.checked = !!value;
    else if (kind === "list") input.value = (value || []).join(", ");
    else input.value = value === null || value === undefined ? "" : String(value);
    input.dataset.loaded = kind === "flag" ? String(input.checked) : input.value;
  }
}

function read(form, onlyChanged) {
  const values = {};
  for (const input of form.querySelectorAll("[data-kind]")) {
    const kind = input.dataset.kind;
    const raw = kind === "flag" ? String(input.checked) : input.value.trim();
    if (onlyChanged && raw === input.dataset.loaded) continue;
    if (kind === "secret" && raw === "") continue;
    if (kind === "flag") values[input.name] = input.checked;
    else if (kind === "list") values[input.name] = raw ? raw.split(/[\s,;]+/).filter((s) => s) : [];
    else if (raw === "") { if (onlyChanged || input.dataset.loaded !== undefined) values[input.name] = null; }
    else if (kind === "int" || kind === "choice-int") values[input.name] = /^-?[0-9]+$/.test(raw) ? Number(raw) : raw;
    else values[input.name] = raw;
  }
  return values;
}

// --- pages ------------------------------------------------------------------------------

async function recordPage() {
  const body = document.body;
  const form = document.getElementById("record");
  const collection = body.dataset.collection;
  const key = body.dataset.key;
  const consolePath = "/console" + collection;
  if (key) {
    const result = await api("GET", collection + "/" + encodeURIComponent(key));
    if (result.status !== 200) { showProblem(form, result); return; }
    fill(form, result.data);
    loadViews(collection, key);
  }
  form.addEventListener("submit", async (event) => {
    event.preventDefault();
    clearErrors(form);
    let result;
    if (key) {
      const changes = read(form, true);
      if (!Object.keys(changes).length) { notice("Nothing changed."); return; }
      result = await api("PATCH", collection + "/" + encodeURIComponent(key), changes);
    } else {
      result = await api("POST", collection, read(form, false));
    }
    if (result.status === 200 || result.status === 201) {
      fill(form, result.data);
      const idr = result.data.idr ? " " + result.data.idr.message : "";
      notice((key ? "Saved." : "Created.") + idr);
      if (!key) window.location = consolePath + "/" + encodeURIComponent(result.data[body.dataset.keyField]);
      else loadViews(collection, key);
    } else {
      showProblem(form, result);
    }
  });
  const disable = document.getElementById("disable");
  if (disable) disable.addEventListener("click", async () => {
    clearErrors(form);
    const result = await api("PATCH", collection + "/" + encodeURIComponent(key), {enabled: false});
    if (result.status === 200) { fill(form, result.data); notice("Disabled. " + (result.data.idr ? result.data.idr.message : "")); }
    else showProblem(form, result);
  });
  for (const button of document.querySelectorAll("button.action")) {
    button.addEventListener("click", async () => {
      if (!window.confirm(button.title + "?")) return;
      clearErrors(form);
      const result = await api("POST", collection + "/" + encodeURIComponent(key) + "/" + button.dataset.action);
      if (result.status === 200) { notice(result.data.message); loadViews(collection, key); }
      else showProblem(form, result);
    });
  }
  const remove = document.getElementById("delete");
  if (remove) remove.addEventListener("click", async () => {
    if (!window.confirm("Delete " + key + "?")) return;
    const result = await api("DELETE", collection + "/" + encodeURIComponent(key));
    if (result.status === 204) window.location = consolePath;
    else showProblem(form, result);
  });
}

async function loadViews(collection, key) {
  for (const section of document.querySelectorAll("section.view")) {
    const list = section.querySelector("dl");
    list.textContent = "";
    const result = await api("GET", collection + "/" + encodeURIComponent(key) + "/" + section.dataset.view);
    const entries = result.status === 200 ? Object.entries(result.data)
                                          : [["", (result.data && result.data.detail) || "-"]];
    for (const [name, value] of entries) {
      const dt = document.createElement("dt");
      dt.textContent = name;
      const dd = document.createElement("dd");
      dd.textContent = name === "updated_at" && value ? new Date(value * 1000).toISOString() : String(value);
      list.append(dt, dd);
    }
  }
}

async function subscribersPage() {
  const form = document.getElementById("search");
  const table = document.getElementById("results");
  form.addEventListener("submit", async (event) => {
    event.preventDefault();
    clearErrors(document.body);
    notice("");
    const query = document.getElementById("query").value.trim();
    const byImsi = /^[0-9]{14,15}$/.test(query);
    const result = byImsi ? await api("GET", "/subscribers/" + query)
                          : await api("GET", "/subscribers?msisdn=" + encodeURIComponent(query));
    const rows = table.querySelector("tbody");
    rows.textContent = "";
    if (result.status === 404) { notice("No subscriber " + query + ".", true); table.hidden = true; return; }
    if (result.status !== 200) {
      document.querySelector('.error[data-for="query"]').textContent =
        (result.data && result.data.errors) ? result.data.errors.map((e) => e.problem).join("; ") : "HTTP " + result.status;
      return;
    }
    const found = byImsi ? [result.data] : result.data.items;
    if (!found.length) notice("No subscriber with MSISDN " + query + ".", true);
    for (const subscriber of found) {
      const row = document.createElement("tr");
      cell(row, link("/console/subscribers/" + subscriber.imsi, subscriber.imsi));
      cell(row, subscriber.msisdn);
      cell(row, subscriber.apns.join(", "));
      cell(row, subscriber.enabled ? "yes" : "no");
      rows.appendChild(row);
    }
    table.hidden = !found.length;
  });
}

async function apnsPage() {
  const result = await api("GET", "/apns?limit=1000");
  const rows = document.querySelector("#apn-list tbody");
  rows.textContent = "";
  if (result.status !== 200) return;
  for (const apn of result.data.items) {
    const row = document.createElement("tr");
    cell(row, link("/console/apns/" + encodeURIComponent(apn.name), apn.name));
    for (const name of ["context_id", "qci", "arp_priority", "ambr_ul", "ambr_dl", "pdn_type"]) cell(row, apn[name]);
    rows.appendChild(row);
  }
}

// --- read-only list pages (IMS subscriptions, iFC templates, EIR rules and checks) -------

function shown(value) {
  if (Array.isArray(value)) return value.map((item) => item !== null && typeof item === "object" ? item.uri : item).join(", ");
  if (value !== null && typeof value === "object") return JSON.stringify(value);
  if (typeof value === "string" && value.length > 80) return value.slice(0, 77) + "...";
  return value === undefined ? null : value;
}

async function listPage() {
  const path = document.body.dataset.list;
  const columns = Array.from(document.querySelectorAll("#record-list th")).map((th) => th.dataset.field);
  const rows = document.querySelector("#record-list tbody");
  const more = document.getElementById("list-more");
  let offset = 0;
  async function load() {
    const result = await api("GET", path + "?limit=100&offset=" + offset);
    if (result.status !== 200) {
      if (result.data && result.data.detail) notice(result.data.detail, true);
      return;
    }
    for (const record of result.data.items) {
      const row = document.createElement("tr");
      for (const name of columns) cell(row, shown(record[name]));
      rows.appendChild(row);
    }
    offset += result.data.items.length;
    more.hidden = offset >= result.data.total;
  }
  more.addEventListener("click", load);
  await load();
}

// --- dashboard: /metrics, parsed here ----------------------------------------------------

function parseMetrics(text) {
  const samples = [];
  for (const line of text.split("\n")) {
    if (!line || line[0] === "#") continue;
    const match = /^([a-zA-Z_:][a-zA-Z0-9_:]*)(\{(.*)\})? ([^ ]+)/.exec(line);
    if (!match) continue;
    const labels = {};
    const re = /([a-zA-Z_][a-zA-Z0-9_]*)="((?:[^"\\]|\\.)*)"/g;
    let label;
    while ((label = re.exec(match[3] || "")) !== null) labels[label[1]] = label[2].replace(/\\(.)/g, "$1");
    samples.push({name: match[1], labels: labels, value: Number(match[4])});
  }
  return samples;
}

let previous = null;

async function dashboardPage() {
  const refresh = async () => {
    const headers = {};
    if (token()) headers["Authorization"] = "Bearer " + token();
    const response = await fetch("/metrics", {headers: headers, credentials: "omit", cache: "no-store"});
    if (response.status !== 200) { notice("/metrics: HTTP " + response.status, true); return; }
    const samples = parseMetrics(await response.text());
    const now = Date.now() / 1000;
    const peers = document.querySelector("#peers tbody");
    peers.textContent = "";
    const states = [];
    const totals = {};
    for (const s of samples) {
      if (s.name === "pyhss_diameter_peer_up") {
        const row = document.createElement("tr");
        cell(row, s.labels.peer); cell(row, s.labels.realm); cell(row, s.labels.remote);
        peers.appendChild(row);
      } else if (s.name === "pyhss_diameter_peers") {
        states.push(s.labels.state + ": " + s.value);
      } else if (s.name === "pyhss_diameter_requests_total") {
        const key = s.labels.app + " " + s.labels.command;
        const entry = totals[key] || (totals[key] = {app: s.labels.app, command: s.labels.command, total: 0, errors: 0});
        entry.total += s.value;
        if (!/^2/.test(s.labels.result)) entry.errors += s.value;
      }
    }
    document.getElementById("peer-states").textContent = "connections by state: " + states.join(", ");
    const rates = document.querySelector("#rates tbody");
    rates.textContent = "";
    for (const key of Object.keys(totals).sort()) {
      const entry = totals[key];
      let rate = "-";
      if (previous && previous.totals[key] !== undefined && now > previous.at) {
        rate = ((entry.total - previous.totals[key]) / (now - previous.at)).toFixed(1);
      }
      const row = document.createElement("tr");
      cell(row, entry.app); cell(row, entry.command); cell(row, rate); cell(row, entry.total); cell(row, entry.errors);
      rates.appendChild(row);
    }
    previous = {at: now, totals: Object.fromEntries(Object.entries(totals).map(([k, v]) => [k, v.total]))};
  };
  await refresh();
  window.setInterval(refresh, 5000);
}

function route() {
  const page = document.body.dataset.page;
  if (document.body.dataset.collection) return recordPage();
  if (page === "subscribers") return subscribersPage();
  if (page === "apns") return apnsPage();
  if (document.body.dataset.list) return listPage();
  if (page === "dashboard") return dashboardPage();
}

document.addEventListener("DOMContentLoaded", () => {
  setupToken();
  route();
});
