// MyTrader dashboard: loads the arena from the JSON API, then follows it live over the
// WebSocket. Every text that comes from a model (or the database) is set with
// textContent, never parsed as HTML: a model answering `<script>` shows the text.
"use strict";

const PALETTE = ["#58a6ff", "#f0883e", "#a371f7", "#3fb950", "#db61a2", "#e3b341", "#39c5cf"];
const BENCH_COLOR = "#8a96a3";
const FEED_MAX = 60;
const TRADES_PAGE = 50;

const state = {
  arena: null, last: 0, gen: 0, ws: null, retry: 0,
  equity: null, agents: {}, critiques: {}, vote: null, books: {}, trades: new Map(),
  tradesNext: null, leaderboardTimer: null,
};

const $ = (id) => document.getElementById(id);

function el(tag, cls, text) {
  const node = document.createElement(tag);
  if (cls) node.className = cls;
  if (text !== undefined && text !== null) node.textContent = String(text);
  return node;
}

function money(v, digits = 0) {
  if (v === null || v === undefined || v === "") return "";
  return Number(v).toLocaleString("en-US", { minimumFractionDigits: digits, maximumFractionDigits: digits });
}

async function api(path, params = {}) {
  const url = new URL(path, location.origin);
  for (const [k, v] of Object.entries(params)) if (v !== null && v !== undefined) url.searchParams.set(k, v);
  const res = await fetch(url, { credentials: "same-origin" });
  if (!res.ok) {
    // The server's message (e.g. a 503 while its database is down), as text.
    let detail = "";
    try { detail = String((await res.json()).detail || "").slice(0, 200); } catch (_) { /* not JSON */ }
    throw new Error(`${path}: HTTP ${res.status}${detail ? " · " + detail : ""}`);
  }
  return res.json();
}

const sleep = (ms) => new Promise((resolve) => setTimeout(resolve, ms));

// --- full texts: lists cut long texts; an entry's `full` is where the whole one is ------

const FULL_URL = /^\/api\/(logs|trades)\/[0-9]+$/;

function fullButton(url, target, textOf) {
  const button = el("button", "full", "show the full text");
  button.addEventListener("click", async () => {
    button.disabled = true;
    try {
      target.textContent = textOf(await api(url));
      button.remove();
    } catch (err) {
      button.disabled = false;
      button.textContent = `full text: ${err.message || err}`;
    }
  });
  return button;
}

function withFull(parent, target, url, textOf) {
  parent.appendChild(target);
  if (typeof url === "string" && FULL_URL.test(url)) parent.appendChild(fullButton(url, target, textOf));
}

function reasoningOf(row) {
  try {
    const d = JSON.parse(row.content);
    return (d.decision && d.decision.reasoning) || d.raw || row.content;
  } catch (_) {
    return row.content;
  }
}

function setStatus(text, cls) {
  const s = $("status");
  s.textContent = text;
  s.className = "status " + (cls || "");
}

function setLast(cycle, asOf) {
  if (cycle > state.last) state.last = cycle;
  document.body.dataset.lastCycle = String(state.last);
  if (asOf) $("clock").textContent = `cycle ${state.last} · ${asOf}`;
}

function accounts() {
  const names = new Set(Object.keys(state.equity ? state.equity.equity : {}));
  for (const a of Object.keys(state.books)) names.add(a);
  return [...names].sort();
}

function colorOf(account) {
  const all = accounts();
  const i = all.indexOf(account);
  return PALETTE[(i < 0 ? all.length : i) % PALETTE.length];
}

// --- equity chart (hand-written SVG: no library, nothing fetched) --------------------

function drawChart() {
  const svg = $("chart");
  const eq = state.equity;
  while (svg.firstChild) svg.removeChild(svg.firstChild);
  const legend = $("legend");
  while (legend.firstChild) legend.removeChild(legend.firstChild);
  if (!eq || eq.cycles.length === 0) return;
  const W = svg.clientWidth || 900, H = svg.clientHeight || 320;
  const pad = { l: 70, r: 12, t: 10, b: 24 };
  svg.setAttribute("viewBox", `0 0 ${W} ${H}`);
  const series = [];
  for (const account of accounts()) {
    const ys = eq.equity[account];
    if (ys) series.push({ name: account, color: colorOf(account), ys: ys.map((v) => (v === null ? null : Number(v))) });
  }
  if (eq.benchmark) {
    // The benchmark scaled to the accounts' starting value at the first cycle shown.
    const closes = eq.benchmark.close.map((v) => (v === null ? null : Number(v)));
    const base = closes.find((v) => v !== null);
    const start = series.map((s) => s.ys[0]).find((v) => v !== null && v !== undefined);
    if (base && start) {
      series.push({ name: `${eq.benchmark.symbol || "benchmark"} (scaled)`, color: BENCH_COLOR, bench: true,
        ys: closes.map((v) => (v === null ? null : (start * v) / base)) });
    }
  }
  let lo = Infinity, hi = -Infinity;
  for (const s of series) for (const v of s.ys) if (v !== null) { lo = Math.min(lo, v); hi = Math.max(hi, v); }
  if (!isFinite(lo)) return;
  if (hi - lo < 1) { hi += 1; lo -= 1; }
  const span = hi - lo; hi += span * 0.05; lo -= span * 0.05;
  const c0 = eq.cycles[0], c1 = eq.cycles[eq.cycles.length - 1];
  const x = (c) => pad.l + ((c - c0) / Math.max(1, c1 - c0)) * (W - pad.l - pad.r);
  const y = (v) => pad.t + (1 - (v - lo) / (hi - lo)) * (H - pad.t - pad.b);
  const ns = "http://www.w3.org/2000/svg";
  const add = (tag, attrs, text) => {
    const n = document.createElementNS(ns, tag);
    for (const [k, v] of Object.entries(attrs)) n.setAttribute(k, v);
    if (text !== undefined) n.textContent = text;
    svg.appendChild(n);
    return n;
  };
  for (let i = 0; i <= 4; i++) {
    const v = lo + ((hi - lo) * i) / 4;
    add("line", { class: "grid", x1: pad.l, x2: W - pad.r, y1: y(v), y2: y(v) });
    add("text", { x: pad.l - 6, y: y(v) + 4, "text-anchor": "end" }, money(v));
  }
  add("text", { x: pad.l, y: H - 6 }, `${eq.as_of[0]} (cycle ${c0})`);
  add("text", { x: W - pad.r, y: H - 6, "text-anchor": "end" }, `${eq.as_of[eq.as_of.length - 1]} (cycle ${c1})`);
  for (const s of series) {
    const pts = [];
    s.ys.forEach((v, i) => { if (v !== null && v !== undefined) pts.push(`${x(eq.cycles[i]).toFixed(1)},${y(v).toFixed(1)}`); });
    const line = add("polyline", { points: pts.join(" "), stroke: s.color, class: s.bench ? "bench" : "" });
    line.dataset.series = s.name;
    const item = el("span", null, s.name);
    item.style.setProperty("--swatch", s.color);
    legend.appendChild(item);
  }
  svg.dataset.points = String(eq.cycles.length);
  svg.dataset.lastCycle = String(c1);
}

function appendEquity(bundle) {
  const eq = state.equity;
  if (!eq || bundle.snapshots.length === 0) return;
  if (eq.cycles.length && eq.cycles[eq.cycles.length - 1] >= bundle.cycle) return;
  const n = eq.cycles.length;
  eq.cycles.push(bundle.cycle);
  eq.as_of.push(bundle.as_of);
  for (const snap of bundle.snapshots) {
    if (!eq.equity[snap.account]) eq.equity[snap.account] = new Array(n).fill(null);
  }
  for (const account of Object.keys(eq.equity)) {
    const snap = bundle.snapshots.find((s) => s.account === account);
    eq.equity[account].push(snap ? snap.equity : null);
  }
  if (bundle.benchmark) {
    if (!eq.benchmark) eq.benchmark = { symbol: bundle.benchmark.symbol, close: new Array(n).fill(null) };
    eq.benchmark.close.push(bundle.benchmark.close);
  } else if (eq.benchmark) {
    eq.benchmark.close.push(null);
  }
}

// --- leaderboard -----------------------------------------------------------------------

function sharpeCell(r) {
  // No bare Sharpe below the minimum days: the badge says so in words (as the CLI).
  const td = el("td");
  if (r.sharpe != null) {
    const ci = r.sharpe_ci95_low != null ? ` [${r.sharpe_ci95_low.toFixed(2)}, ${r.sharpe_ci95_high.toFixed(2)}]` : "";
    td.appendChild(el("span", "sharpe", `${r.sharpe.toFixed(2)}${ci}`));
  }
  if (r.status) {
    const badge = el("span", `badge ${r.status_code}`, r.status);
    badge.dataset.account = r.account;
    td.appendChild(badge);
  }
  if (!td.childNodes.length) td.textContent = "-";
  return td;
}

function renderLeaderboard(rows) {
  const t = $("leaderboard");
  t.replaceChildren();
  const risk = rows.some((r) => r.status != null || r.max_drawdown_pct != null);
  const paid = rows.some((r) => Number(r.llm_cost_usd) > 0);
  const head = el("tr");
  const cols = ["account", "equity", "return", ...(paid ? ["net of LLM"] : []), ...(risk ? ["Sharpe [95% CI]", "max DD"] : []), "cash", "trades", "fees", "win%", "LLM $"];
  for (const h of cols) head.appendChild(el("th", null, h));
  t.appendChild(head);
  const pct = (v) => { const n = Number(v); return el("td", n > 0 ? "up" : n < 0 ? "down" : "", `${n > 0 ? "+" : ""}${n.toFixed(2)}%`); };
  for (const r of rows) {
    const tr = el("tr");
    const name = el("td", null, r.account);
    name.style.color = colorOf(r.account);
    tr.appendChild(name);
    tr.appendChild(el("td", null, money(r.equity)));
    tr.appendChild(pct(r.return_pct));
    if (paid) tr.appendChild(r.net_return_pct == null ? el("td", null, "-") : pct(r.net_return_pct));
    if (risk) {
      tr.appendChild(sharpeCell(r));
      tr.appendChild(el("td", null, r.max_drawdown_pct == null ? "-" : `${r.max_drawdown_pct.toFixed(1)}%`));
    }
    tr.appendChild(el("td", null, money(r.cash)));
    tr.appendChild(el("td", null, r.trades));
    tr.appendChild(el("td", null, money(r.fees, 2)));
    tr.appendChild(el("td", null, r.win_rate === null ? "-" : `${Math.round(r.win_rate * 100)}%`));
    tr.appendChild(el("td", null, Number(r.llm_cost_usd).toFixed(4)));
    t.appendChild(tr);
  }
}

function refreshLeaderboard() {
  clearTimeout(state.leaderboardTimer);
  const gen = state.gen;
  state.leaderboardTimer = setTimeout(async () => {
    const data = await api("/api/leaderboard", { arena: state.arena });
    if (gen === state.gen) renderLeaderboard(data.items);
    refreshEvidence(gen);
  }, 150);
}

// --- evidence: who beats whom, calibration, attribution (README: How sure ...) ------------

const pctOf = (p) => (p == null ? "-" : `${Math.round(p * 100)}%`);

function table(id, head, rows) {
  const t = $(id);
  t.replaceChildren();
  const tr = el("tr");
  for (const h of head) tr.appendChild(el("th", null, h));
  t.appendChild(tr);
  for (const cells of rows) {
    const row = el("tr");
    for (const c of cells) row.appendChild(c instanceof Node ? c : el("td", null, c));
    t.appendChild(row);
  }
}

function renderEvidence(ev) {
  $("evidence-note").textContent = ev
    ? `Minimum ${ev.params.min_days} days of returns before any Sharpe; intervals: ${ev.params.block_rule}, ${ev.params.samples} resamples.`
    : "no cycle yet";
  if (!ev) { for (const id of ["beats", "calibration", "attribution"]) $(id).replaceChildren(); return; }
  // who beats whom: row beats column with this probability
  const names = ev.beats.names;
  table("beats", ["P(row's Sharpe > column's)", ...names], names.map((a, i) => [
    el("th", "text", a),
    ...names.map((b, j) => {
      const p = ev.beats.p[i][j];
      const td = el("td", p == null ? "muted" : p >= 0.95 ? "up" : p <= 0.05 ? "down" : "", i === j ? "" : p == null ? `${ev.beats.days[i][j]} d` : pctOf(p));
      td.title = `${ev.beats.days[i][j]} common days`;
      return td;
    }),
  ]));
  // calibration: stated confidence read as the probability of winning
  const bands = ["0-19", "20-39", "40-59", "60-79", "80-100"];
  table("calibration", ["who", "closed", "Brier", "base-rate Brier", "win rate", "weighted hit", ...bands.map((b) => `${b}: stated → won`)],
    Object.entries(ev.calibration).map(([who, c]) => [
      el("td", "text", who === "collaborative" ? "collaborative (vote conviction)" : who),
      c.trades, c.brier == null ? "-" : c.brier.toFixed(3), c.brier_of_base_rate == null ? "-" : c.brier_of_base_rate.toFixed(3),
      pctOf(c.win_rate), pctOf(c.weighted_hit_rate),
      ...c.bands.map((b) => (b.trades ? `${pctOf(b.mean_stated)} → ${pctOf(b.win_rate)} (${b.trades})` : "-")),
    ]));
  const at = ev.attribution;
  const rows = at ? Object.entries(at.by_persona).map(([who, pnl]) => [el("td", "text", who), money(pnl, 2)]) : [];
  if (at) rows.push([el("td", "text", "unattributed"), money(at.unattributed, 2)], [el("th", "text", "collaborative realized P&L"), money(at.total_pnl, 2)]);
  table("attribution", ["persona", "P&L it carried"], rows);
}

async function refreshEvidence(gen) {
  const data = await api("/api/evidence", { arena: state.arena });
  if (gen === state.gen) renderEvidence(data.evidence);
}

// --- agents: latest decision, reasoning, confidence, critique ---------------------------

function decisionLine(d) {
  if (!d) return "no decision";
  return d.decision === "HOLD" ? "HOLD" : `${d.decision} ${d.quantity} ${d.symbol || ""}`;
}

function renderAgents() {
  const box = $("agents");
  box.replaceChildren();
  const names = new Set([...Object.keys(state.agents), ...Object.keys(state.critiques)]);
  for (const name of [...names].sort()) {
    const card = el("article", "agent");
    card.dataset.agent = name;
    const title = el("h3", null, name);
    title.style.color = colorOf(name);
    card.appendChild(title);
    const entry = state.agents[name];
    if (entry) {
      const d = entry.decision || {};
      const what = el("div", "what", `${decisionLine(d)} · confidence ${d.confidence ?? 0}`);
      card.appendChild(what);
      card.appendChild(el("div", "muted", `cycle ${entry.cycle}${entry.model ? " · " + entry.model : ""}`));
      const bar = el("div", "bar");
      const fill = el("div");
      fill.style.width = `${Math.max(0, Math.min(100, Number(d.confidence) || 0))}%`;
      bar.appendChild(fill);
      card.appendChild(bar);
      withFull(card, el("p", "reasoning", d.reasoning || entry.raw || ""), entry.full, reasoningOf);
      if (entry.error) card.appendChild(el("p", "error", entry.error));
    }
    const crit = state.critiques[name];
    if (crit) {
      const text = (t) => `critique (cycle ${crit.cycle}): ${t}`;
      withFull(card, el("p", "critique", text(crit.text)), crit.full, (row) => text(row.content));
    }
    box.appendChild(card);
  }
}

// --- the collaborative vote -------------------------------------------------------------

function renderVote() {
  const box = $("vote");
  box.replaceChildren();
  const v = state.vote;
  if (!v) { box.appendChild(el("p", "muted", "no vote yet")); return; }
  box.appendChild(el("div", "what", `cycle ${v.cycle} · ${v.mode || ""} vote → ${decisionLine(v.decision)}`));
  box.appendChild(el("p", "muted", v.reason || ""));
  const t = el("table");
  const head = el("tr");
  for (const h of ["agent", "voted", "weight"]) head.appendChild(el("th", h === "voted" ? "text" : null, h));
  t.appendChild(head);
  const weights = v.weights || {};
  const votes = v.votes || {};
  for (const agent of Object.keys({ ...weights, ...votes }).sort()) {
    const tr = el("tr");
    tr.appendChild(el("td", null, agent));
    tr.appendChild(el("td", "text", votes[agent] || ""));
    tr.appendChild(el("td", null, weights[agent] === undefined ? "" : String(weights[agent])));
    t.appendChild(tr);
  }
  box.appendChild(t);
  const tally = Object.entries(v.tally || {}).map(([k, n]) => `${k}: ${n}`).join(" · ");
  box.appendChild(el("p", "muted", `tally: ${tally}`));
}

// --- positions per book -----------------------------------------------------------------

function renderPositions() {
  const box = $("positions");
  box.replaceChildren();
  for (const name of Object.keys(state.books).sort()) {
    const b = state.books[name];
    const div = el("div", "book");
    const h = el("h3", null, `${name} · equity ${money(b.equity)} · cash ${money(b.cash)}`);
    h.style.color = colorOf(name);
    div.appendChild(h);
    const held = Object.entries(b.positions || {});
    if (held.length === 0) div.appendChild(el("div", "muted", "no positions"));
    else div.appendChild(el("div", null, held.map(([s, q]) => `${s} ${q}`).join(" · ")));
    box.appendChild(div);
  }
}

// --- orders -----------------------------------------------------------------------------

function renderTrades() {
  const t = $("trades");
  t.replaceChildren();
  const head = el("tr");
  for (const h of ["cycle", "date", "account", "side", "qty", "symbol", "status", "price", "fee", "reason"]) {
    head.appendChild(el("th", ["date", "account", "side", "symbol", "status", "reason"].includes(h) ? "text" : null, h));
  }
  t.appendChild(head);
  const rows = [...state.trades.values()].sort((a, b) => b.cycle - a.cycle || (b.id || 0) - (a.id || 0));
  for (const r of rows) {
    const tr = el("tr");
    tr.appendChild(el("td", null, r.cycle));
    tr.appendChild(el("td", "text", r.as_of));
    tr.appendChild(el("td", "text", r.account));
    tr.appendChild(el("td", "text " + (r.side === "buy" ? "up" : "down"), r.side));
    tr.appendChild(el("td", null, r.qty));
    tr.appendChild(el("td", "text", r.symbol));
    tr.appendChild(el("td", "text", r.status));
    tr.appendChild(el("td", null, r.filled_avg_price ? money(r.filled_avg_price, 2) : ""));
    tr.appendChild(el("td", null, money(r.fee, 2)));
    const reason = el("td", "text muted");
    withFull(reason, el("span", null, r.reason || ""), r.full, (row) => row.reason);
    tr.appendChild(reason);
    t.appendChild(tr);
  }
  $("more-trades").hidden = state.tradesNext === null;
}

async function olderTrades() {
  const gen = state.gen;
  const page = await api("/api/trades", { arena: state.arena, before: state.tradesNext, limit: TRADES_PAGE });
  if (gen !== state.gen) return;
  for (const r of page.items) if (!state.trades.has(r.client_order_id)) state.trades.set(r.client_order_id, r);
  state.tradesNext = page.next;
  renderTrades();
}

// --- live feed --------------------------------------------------------------------------

function addFeed(bundle) {
  const feed = $("feed");
  const li = el("li");
  li.dataset.cycle = String(bundle.cycle);
  li.appendChild(el("div", "head", `cycle ${bundle.cycle} · ${bundle.as_of}`));
  for (const [agent, entry] of Object.entries(bundle.decisions).sort()) {
    const d = entry.decision || {};
    const line = el("div");
    const who = el("strong", null, `${agent}: `);
    who.style.color = colorOf(agent);
    line.appendChild(who);
    line.appendChild(document.createTextNode(`${decisionLine(d)} (${d.confidence ?? 0}) ${d.reasoning || ""}`));
    li.appendChild(line);
  }
  if (bundle.vote) li.appendChild(el("div", "muted", `vote: ${decisionLine(bundle.vote.decision)} · ${bundle.vote.reason || ""}`));
  feed.insertBefore(li, feed.firstChild);
  while (feed.children.length > FEED_MAX) feed.removeChild(feed.lastChild);
}

// --- one cycle from the stream ------------------------------------------------------------

function applyCycle(bundle) {
  if (bundle.cycle <= state.last) return; // already shown: catch-up never duplicates
  appendEquity(bundle);
  for (const [agent, entry] of Object.entries(bundle.decisions)) state.agents[agent] = { cycle: bundle.cycle, ...entry };
  const cut = bundle.critiques_full || {};
  for (const [agent, text] of Object.entries(bundle.critiques)) state.critiques[agent] = { cycle: bundle.cycle, text, full: cut[agent] };
  if (bundle.vote) state.vote = { cycle: bundle.cycle, ...bundle.vote };
  for (const snap of bundle.snapshots) state.books[snap.account] = snap;
  for (const order of bundle.orders) state.trades.set(order.client_order_id, order);
  setLast(bundle.cycle, bundle.as_of);
  addFeed(bundle);
  const option = [...$("arena").options].find((o) => o.value === state.arena);
  if (option) option.textContent = `${state.arena} (${state.last} cycles)`;
}

let renderQueued = false;
function renderLive() {
  if (renderQueued) return;
  renderQueued = true;
  requestAnimationFrame(() => {
    renderQueued = false;
    drawChart(); renderAgents(); renderVote(); renderPositions(); renderTrades();
    // When the last cycle reached the screen (bench/dashboard.py reads it).
    document.body.dataset.renderedCycle = String(state.last);
    document.body.dataset.renderedAt = String(Date.now());
  });
}

// --- the WebSocket: reconnects and catches up from the last cycle shown --------------------

function connect() {
  const gen = state.gen;
  const proto = location.protocol === "https:" ? "wss" : "ws";
  const url = `${proto}://${location.host}/ws?arena=${encodeURIComponent(state.arena)}&since=${state.last}`;
  const ws = new WebSocket(url);
  state.ws = ws;
  ws.onopen = () => { if (gen === state.gen) { state.retry = 0; setStatus("live", "live"); } };
  ws.onmessage = (event) => {
    if (gen !== state.gen) return;
    const msg = JSON.parse(event.data);
    if (msg.type === "cycle") {
      applyCycle(msg);
      renderLive();
      refreshLeaderboard();
    } else if (msg.type === "reset") {
      ws.close();
      loadRetrying(state.arena); // too far behind (or the arena was reset): reload the data, not the page
    }
  };
  ws.onclose = () => {
    if (gen !== state.gen) return;
    setStatus("reconnecting", "down");
    const wait = Math.min(5000, 250 * 2 ** state.retry++);
    setTimeout(() => { if (gen === state.gen) connect(); }, wait);
  };
}

// --- loading an arena ----------------------------------------------------------------------

async function load(arena) {
  const gen = ++state.gen;
  if (state.ws) state.ws.close();
  setStatus("loading", "");
  // One request for the whole first view (no arena: the server's own).
  const view = await api("/api/overview", { arena });
  if (gen !== state.gen) return;
  Object.assign(state, { arena: view.arena, last: 0, agents: {}, critiques: {}, vote: null, books: {}, trades: new Map(), tradesNext: null });
  fillPicker(view.arenas, view.arena);
  $("feed").replaceChildren();
  const equity = view.equity;
  state.equity = equity;
  for (const [name, a] of Object.entries(view.agents.agents)) {
    if (a.decision) state.agents[name] = a.decision;
    if (a.critique) state.critiques[name] = a.critique;
  }
  state.vote = view.agents.vote;
  for (const b of view.positions) state.books[b.account] = b;
  for (const r of view.trades.items) state.trades.set(r.client_order_id, r);
  state.tradesNext = view.trades.next;
  const lastCycle = equity.cycles.length ? equity.cycles[equity.cycles.length - 1] : 0;
  setLast(lastCycle, equity.as_of.length ? equity.as_of[equity.as_of.length - 1] : null);
  if (!lastCycle) $("clock").textContent = "no cycle yet";
  renderLeaderboard(view.leaderboard);
  await refreshEvidence(gen);
  drawChart(); renderAgents(); renderVote(); renderPositions(); renderTrades();
  // The feed starts with the last few cycles, oldest first so the newest ends on top.
  for (const bundle of view.recent) if (bundle.cycle <= state.last) addFeed(bundle);
  document.body.dataset.loaded = "true";
  document.body.dataset.loadedMs = String(Math.round(performance.now())); // since navigation
  connect();
}

function fillPicker(arenas, current) {
  const picker = $("arena");
  picker.replaceChildren();
  const names = arenas.items.map((a) => a.arena);
  for (const name of [arenas.default, current]) if (!names.includes(name)) names.push(name);
  for (const name of names.sort()) {
    const info = arenas.items.find((a) => a.arena === name);
    const opt = el("option", null, info ? `${name} (${info.cycles} cycles)` : `${name} (empty)`);
    opt.value = name;
    picker.appendChild(opt);
  }
  picker.value = current;
}

function start() {
  $("arena").addEventListener("change", () => {
    const url = new URL(location.href);
    url.searchParams.set("arena", $("arena").value);
    history.replaceState(null, "", url);
    loadRetrying($("arena").value);
  });
  $("more-trades").addEventListener("click", olderTrades);
  window.addEventListener("resize", drawChart);
  return loadRetrying(new URLSearchParams(location.search).get("arena"));
}

// The first load again until it works (a 503 while the database is down, a restart).
async function loadRetrying(arena) {
  for (let wait = 1000; ; wait = Math.min(2 * wait, 10000)) {
    try {
      return await load(arena);
    } catch (err) {
      setStatus(`${err.message || err} · retrying`, "down");
      await sleep(wait);
    }
  }
}

start();
