// The hub's status page: polls /v1/status, turns counter totals into rates between two
// polls, and draws vehicle positions from a topic's SSE stream on a canvas projected onto
// the bounding box of the points seen (no map tiles: the hub may have no internet).
"use strict";

const POLL_MS = 3000;
// A vehicle not heard from for this long is dropped from the drawing; the stream starts
// this far back so the page shows where vehicles are as soon as it opens.
const WINDOW_MS = 15 * 60 * 1000;

const previous = { at: 0, topics: new Map(), bridges: new Map() };
const vehicles = new Map(); // id -> {lat, lon, seen}
let source = null;
let streamTopic = null;

function el(tag, text, className) {
  const node = document.createElement(tag);
  if (text !== undefined && text !== null) node.textContent = String(text);
  if (className) node.className = className;
  return node;
}

function age(seconds) {
  if (seconds === null || seconds === undefined) return "–";
  if (seconds < 90) return `${Math.round(seconds)} s`;
  if (seconds < 5400) return `${Math.round(seconds / 60)} min`;
  if (seconds < 172800) return `${(seconds / 3600).toFixed(1)} h`;
  return `${(seconds / 86400).toFixed(1)} d`;
}

function when(ms) {
  return ms ? new Date(ms).toLocaleString() : "–";
}

function count(n) {
  return n === null || n === undefined ? "–" : Math.round(n).toLocaleString();
}

function rate(key, total, store, now) {
  const before = store.get(key);
  store.set(key, total);
  if (before === undefined || !previous.at || now <= previous.at) return "–";
  return (Math.max(0, total - before) / ((now - previous.at) / 1000)).toFixed(2);
}

function fill(tableId, rows) {
  const body = document.querySelector(`#${tableId} tbody`);
  body.replaceChildren(...rows);
}

function row(cells) {
  const tr = el("tr");
  for (const cell of cells) tr.append(cell);
  return tr;
}

function healthCell(feed) {
  if (!feed.enabled) return el("td", "disabled", "muted");
  if (feed.healthy === null) return el("td", "no cycle yet", "muted");
  return feed.healthy ? el("td", "healthy", "ok") : el("td", "failing", "bad");
}

function render(status) {
  const now = status.generated_at_ms;
  document.getElementById("subscribers").textContent = String(status.subscribers);
  const components = Object.entries(status.components);
  const parts = components.map(([name, ok]) => el("span", name, ok ? "ok" : "bad"));
  document.getElementById("components").replaceChildren(...(parts.length ? parts : [el("span", "–")]));
  document.getElementById("updated").textContent = new Date(now).toLocaleTimeString();

  fill("feeds", status.feeds.map((feed) => {
    const tr = row([
      el("td", feed.id),
      el("td", feed.adapter),
      healthCell(feed),
      el("td", age(feed.freshness_seconds), "num"),
      el("td", when(feed.last_success_ms)),
      el("td", count(feed.records.produced), "num"),
      el("td", count(feed.records.dead_letter), feed.records.dead_letter ? "num bad" : "num"),
      el("td", feed.last_error || "", "error"),
    ]);
    tr.dataset.feed = feed.id;
    tr.lastChild.title = feed.last_error || "";
    return tr;
  }));
  document.getElementById("feeds-empty").hidden = status.feeds.length > 0;

  fill("topics", status.topics.map((topic) => {
    const tr = row([
      el("td", topic.name),
      el("td", topic.access),
      el("td", rate(topic.name, topic.records_total, previous.topics, now), "num"),
      el("td", count(topic.records_total), "num"),
      el("td", topic.subscribers, "num"),
      el("td", age(topic.freshness_seconds), "num"),
    ]);
    tr.dataset.topic = topic.name;
    return tr;
  }));

  fill("bridges", status.bridges.map((bridge) => {
    const tr = row([
      el("td", bridge.name),
      el("td", `${bridge.source} → ${bridge.target}`),
      el("td", count(bridge.lag), "num"),
      el("td", rate(bridge.name, bridge.records_out_total, previous.bridges, now), "num"),
      el("td", count(bridge.dead_letters_total), bridge.dead_letters_total ? "num bad" : "num"),
    ]);
    tr.dataset.bridge = bridge.name;
    return tr;
  }));
  document.getElementById("bridges-empty").hidden = status.bridges.length > 0;
  previous.at = now;

  const records = new Map(status.topics.map((topic) => [topic.name, topic.records_total]));
  offerTopics(status.positions_topics, records);
}

async function poll() {
  const problem = document.getElementById("poll-error");
  try {
    const response = await fetch("/v1/status", { cache: "no-store" });
    if (!response.ok) throw new Error(`HTTP ${response.status}`);
    render(await response.json());
    problem.hidden = true;
  } catch (error) {
    problem.textContent = `status unavailable: ${error.message}`;
    problem.hidden = false;
  } finally {
    setTimeout(poll, POLL_MS);
  }
}

// --- vehicle positions ------------------------------------------------------------------

function offerTopics(topics, records) {
  const select = document.getElementById("positions-topic");
  const wanted = new URLSearchParams(location.search).get("positions");
  const names = wanted && !topics.includes(wanted) ? [wanted, ...topics] : topics;
  const current = Array.from(select.options, (o) => o.value);
  if (current.join("\n") !== names.join("\n")) {
    select.replaceChildren(...names.map((name) => {
      const option = el("option", name);
      option.value = name;
      return option;
    }));
  }
  if (streamTopic === null && names.length) {
    // The first topic that has carried records, so the map shows something from the start.
    const busy = names.find((name) => (records.get(name) || 0) > 0);
    select.value = wanted || busy || names[0];
    subscribe(select.value);
  }
}

function subscribe(topic) {
  if (source) source.close();
  vehicles.clear();
  draw();
  streamTopic = topic;
  const state = document.getElementById("stream-state");
  const start = Date.now() - WINDOW_MS;
  source = new EventSource(`/v1/topics/${encodeURIComponent(topic)}/stream?start=${start}`);
  source.onopen = () => { state.textContent = "live"; state.className = "ok"; };
  source.onerror = () => { state.textContent = "reconnecting…"; state.className = "bad"; };
  source.addEventListener("record", (message) => {
    const event = JSON.parse(message.data);
    const record = event.record || {};
    const lat = Number(record.latitude);
    const lon = Number(record.longitude);
    if (record.latitude === null || record.longitude === null) return;
    if (!Number.isFinite(lat) || !Number.isFinite(lon)) return;
    vehicles.set(event.key || record.id, { lat, lon, seen: Date.now() });
    scheduleDraw();
  });
}

let drawPending = false;
function scheduleDraw() {
  // Many records can arrive at once; draw at most once per animation frame.
  if (drawPending) return;
  drawPending = true;
  requestAnimationFrame(() => { drawPending = false; draw(); });
}

function draw() {
  const canvas = document.getElementById("positions");
  const context = canvas.getContext("2d");
  const cutoff = Date.now() - WINDOW_MS;
  for (const [id, v] of vehicles) if (v.seen < cutoff) vehicles.delete(id);
  const points = Array.from(vehicles.values());
  context.clearRect(0, 0, canvas.width, canvas.height);
  canvas.dataset.points = String(points.length);
  document.getElementById("drawn-count").textContent = String(points.length);
  if (!points.length) return;

  // Equirectangular projection of the points' bounding box, longitudes shrunk by the
  // cosine of the middle latitude so distances look right, with a margin around it.
  let minLat = Infinity, maxLat = -Infinity, minLon = Infinity, maxLon = -Infinity;
  for (const p of points) {
    minLat = Math.min(minLat, p.lat); maxLat = Math.max(maxLat, p.lat);
    minLon = Math.min(minLon, p.lon); maxLon = Math.max(maxLon, p.lon);
  }
  const pad = 0.002; // degrees, so a single vehicle still gets a box
  minLat -= pad; maxLat += pad; minLon -= pad; maxLon += pad;
  const kx = Math.cos(((minLat + maxLat) / 2) * Math.PI / 180);
  const margin = 30;
  const width = canvas.width - 2 * margin;
  const height = canvas.height - 2 * margin;
  const scale = Math.min(width / ((maxLon - minLon) * kx), height / (maxLat - minLat));
  const offsetX = margin + (width - (maxLon - minLon) * kx * scale) / 2;
  const offsetY = margin + (height - (maxLat - minLat) * scale) / 2;
  const x = (lon) => offsetX + (lon - minLon) * kx * scale;
  const y = (lat) => offsetY + (maxLat - lat) * scale;

  context.strokeStyle = "rgba(110,119,129,0.5)";
  context.strokeRect(x(minLon), y(maxLat), x(maxLon) - x(minLon), y(minLat) - y(maxLat));
  context.fillStyle = "rgba(110,119,129,1)";
  context.font = "11px system-ui, sans-serif";
  context.fillText(`${maxLat.toFixed(4)}°N ${minLon.toFixed(4)}°E`, x(minLon), y(maxLat) - 6);
  context.fillText(`${minLat.toFixed(4)}°N ${maxLon.toFixed(4)}°E`, x(maxLon) - 150, y(minLat) + 16);

  context.fillStyle = "#0969da";
  for (const p of points) {
    context.beginPath();
    context.arc(x(p.lon), y(p.lat), 4, 0, 2 * Math.PI);
    context.fill();
  }
}

document.getElementById("positions-topic").addEventListener("change", (e) => subscribe(e.target.value));
setInterval(draw, 10000); // age out vehicles even when the stream is quiet
poll();
