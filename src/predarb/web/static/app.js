// predarb dashboard: renders each page from the JSON API and keeps it live through the
// server-sent event stream (/api/stream). No framework and nothing fetched from
// elsewhere. Every value from the bot (market titles come from the venues) is set as
// text, never parsed as HTML.
"use strict";

const PAGE = document.body.dataset.page;
const NEEDS = {
  overview: ["status", "executions", "alerts"],
  opportunities: ["status", "opportunities"],
  pairs: ["status", "reviews", "pairs"],
  trades: ["status", "executions"],
  pnl: ["status", "pnl"],
};
const state = { status: null, alerts: [], shown: 50, busy: false, rules: new Set() };

// -- small helpers ---------------------------------------------------------------

function h(tag, props, ...children) {
  const node = document.createElement(tag);
  for (const [key, value] of Object.entries(props || {})) {
    if (value === null || value === undefined || value === false) continue;
    if (key === "class") node.className = value;
    else if (key.startsWith("on")) node.addEventListener(key.slice(2), value);
    else node.setAttribute(key, value === true ? "" : value);
  }
  for (const child of children.flat(Infinity)) {
    if (child === null || child === undefined || child === false) continue;
    node.append(child instanceof Node ? child : document.createTextNode(String(child)));
  }
  return node;
}

function svg(tag, attrs, ...children) {
  const node = document.createElementNS("http://www.w3.org/2000/svg", tag);
  for (const [key, value] of Object.entries(attrs || {})) node.setAttribute(key, value);
  for (const child of children.flat(Infinity)) {
    if (child === null || child === undefined) continue;
    node.append(child instanceof Node ? child : document.createTextNode(String(child)));
  }
  return node;
}

const money = (v) => (v === null || v === undefined ? "–" : (Number(v) < 0 ? "-$" : "$") + Math.abs(Number(v)).toFixed(2));
const signed = (v) => (v === null || v === undefined ? "–" : (Number(v) > 0 ? "+" : "") + money(v));
const pct = (v) => (v === null || v === undefined ? "–" : `${Number(v).toFixed(2)}%`);
const ms = (v) => (v === null || v === undefined ? "–" : `${Number(v).toLocaleString()} ms`);
const cls = (v) => (Number(v) > 0 ? "pos" : Number(v) < 0 ? "neg" : "");
function time(iso) {
  if (!iso) return "–";
  const d = new Date(iso);
  return d.toISOString().slice(0, 19).replace("T", " ") + "Z";
}
function ago(iso) {
  if (!iso) return "never";
  const s = Math.max(0, (Date.now() - new Date(iso).getTime()) / 1000);
  return s < 60 ? `${s.toFixed(0)} s ago` : s < 3600 ? `${(s / 60).toFixed(0)} min ago` : time(iso);
}

async function api(path, options) {
  const resp = await fetch(path, Object.assign({ credentials: "same-origin", cache: "no-store" }, options));
  if (resp.status === 401) {
    location.reload(); // the session is gone: the server shows the token prompt
    throw new Error("unauthorized");
  }
  const body = await resp.json();
  if (!resp.ok && resp.status !== 409) throw new Error(body.error || `HTTP ${resp.status}`);
  return body;
}

function table(headers, rows, empty) {
  if (!rows.length) return h("p", { class: "muted" }, empty);
  return h("table", {}, h("thead", {}, h("tr", {}, headers.map((x) => h("th", {}, x)))), h("tbody", {}, rows));
}

function card(title, ...body) {
  return h("section", { class: "card" }, h("h2", {}, title), ...body);
}

function statusBadge(status) {
  return h("span", { class: `badge st-${status}` }, status);
}

// -- the header: mode, the kill switch, live --------------------------------------

function renderHeader(s) {
  document.getElementById("mode").textContent = s.mode;
  const pill = document.getElementById("trading");
  const button = document.getElementById("toggle");
  pill.textContent = s.trading ? (s.halted ? `ON, halted: ${s.halted}` : "trading ON") : `trading OFF: ${s.kill_reason}`;
  pill.className = `pill ${s.trading && !s.halted ? "on" : "off"}`;
  button.textContent = s.trading ? "Stop trading" : "Start trading";
  button.dataset.action = s.trading ? "stop" : "start";
  button.disabled = state.busy;
  for (const a of document.querySelectorAll("nav a")) a.classList.toggle("here", a.dataset.nav === PAGE);
}

function notice(text, bad) {
  const box = document.getElementById("notice");
  box.textContent = text;
  box.className = `notice ${bad ? "bad" : ""}`;
  box.hidden = !text;
}

async function toggle() {
  const button = document.getElementById("toggle");
  const action = button.dataset.action;
  if (!action || state.busy) return;
  state.busy = true;
  button.disabled = true;
  try {
    const body = await api(`/api/${action}`, { method: "POST", headers: { "Content-Type": "application/json" }, body: "{}" });
    notice(body.message, Boolean(body.refused));
  } catch (err) {
    notice(`${action} failed: ${err.message}`, true);
  } finally {
    state.busy = false;
    await refresh(["status"]);
  }
}

// -- pages -----------------------------------------------------------------------

function legsLine(legs) {
  return legs.map((l) => `${l.venue} ${l.market} ${l.side} @ ${l.price_seen ?? l.price}`).join("  +  ");
}

function executionRows(list) {
  return list.map((e) =>
    h("tr", { "data-execution": e.id },
      h("td", {}, time(e.created_at)),
      h("td", {}, e.event),
      h("td", {}, e.kind),
      h("td", {}, statusBadge(e.status)),
      h("td", { class: "num" }, e.contracts),
      h("td", { class: "num" }, money(Number(e.expected_cost) + Number(e.expected_fees))),
      h("td", { class: `num ${cls(e.expected_profit)}` }, signed(e.expected_profit)),
      h("td", { class: `num ${cls(e.realized_pnl)}` }, e.realized_pnl === null ? "open" : signed(e.realized_pnl)),
      h("td", { class: "legs" }, legsLine(e.legs.filter((l) => l.role === "leg"))),
    ));
}

const EXEC_HEAD = ["time", "event", "kind", "status", "contracts", "cost", "expected", "realized", "legs"];

function renderOverview(s, data) {
  const balances = Object.entries(s.balances);
  const total = balances.reduce((t, [, b]) => t + Number(b), 0);
  const open = data.open.executions;
  return [
    h("div", { class: "cards" },
      card("Balances",
        h("dl", {}, balances.map(([v, b]) => [h("dt", {}, v), h("dd", { "data-balance": v }, money(b)),
          Object.entries((s.shard_balances || {})[v] || {}).map(([i, sb]) => [
            h("dt", { class: "sub" }, `shard ${i}`), h("dd", { "data-shard": `${v}/${i}` }, money(sb))])]),
          h("dt", {}, "total"), h("dd", {}, money(total)))),
      card("Today (UTC)",
        h("dl", {},
          h("dt", {}, "executions"), h("dd", {}, `${s.trades_today} / ${s.max_daily_trades}`),
          h("dt", {}, "realized"), h("dd", { class: cls(s.today.realized) }, signed(s.today.realized)),
          h("dt", {}, "loss limit"), h("dd", {}, money(s.max_daily_loss)),
          h("dt", {}, "fees"), h("dd", {}, money(s.today.fees)),
          h("dt", {}, "settled"), h("dd", {}, `${s.today.settled} (${s.today.wins} won, ${s.today.losses} lost)`))),
      card("Open positions",
        h("dl", {},
          h("dt", {}, "open"), h("dd", { id: "open-positions" }, s.open_positions),
          h("dt", {}, "exposure"), h("dd", {}, money(s.exposure)),
          h("dt", {}, "expected"), h("dd", {}, signed(s.today.expected_open)),
          h("dt", {}, "exposed"), h("dd", { class: s.exposed_events.length ? "neg" : "" }, s.exposed_events.join(", ") || "none"))),
      card("Watching",
        h("dl", {},
          h("dt", {}, "pairs"), h("dd", {}, `${s.pairs} (${s.tradable_pairs} tradable)`),
          h("dt", {}, "last scan"), h("dd", {}, ago(s.last_scan)),
          Object.entries(s.health).map(([v, x]) => [h("dt", {}, v), h("dd", { class: x === "up" ? "pos" : "neg" }, x)])))),
    card("Latest executions", table(EXEC_HEAD, executionRows(data.latest.executions), "No executions yet.")),
    card(`Open positions (${open.length})`, table(EXEC_HEAD, executionRows(open), "Nothing open.")),
    card("Alerts", state.alerts.length
      ? h("ul", { class: "alerts", id: "alerts" }, state.alerts.slice(0, 20).map((a) =>
        h("li", { class: a.urgent ? "urgent" : "" }, h("span", { class: "muted" }, time(a.at)), " ", a.text)))
      : h("p", { class: "muted" }, "No alerts since start.")),
  ];
}

function renderOpportunities(data) {
  const rows = data.opportunities.map((o) => {
    const d = o.decision;
    const verdict = !d ? h("span", { class: "muted" }, "priced")
      : d.approved ? h("span", { class: "badge st-success" }, "approved")
        : h("span", {}, h("span", { class: "badge st-failed" }, d.code), " ", d.reason);
    return h("tr", { "data-pair": o.pair_id },
      h("td", {}, o.event),
      h("td", {}, o.kind),
      h("td", { class: "legs" }, o.legs.map((l) => h("div", {}, `${l.venue} ${l.market} ${l.side} @ ${l.price} × ${l.contracts}`))),
      h("td", { class: "num" }, money(Number(o.cost) + Number(o.fees))),
      h("td", { class: `num ${cls(o.profit)}` }, signed(o.profit)),
      h("td", { class: "num" }, pct(o.roi_pct)),
      h("td", {}, o.tradable ? "yes" : h("span", { class: "neg" }, o.reason || "no")),
      h("td", { class: "verdict" }, verdict),
      h("td", { class: "num" }, `${o.quote_age_s.toFixed(1)} s`));
  });
  return card(`Live opportunities (${rows.length})`,
    h("p", { class: "muted" }, "Each priced pair's best arbitrage after fees, with what the risk manager said. A pair priced again without one leaves the list."),
    table(["event", "kind", "legs", "cost", "profit", "ROI", "tradable", "risk", "quote age"], rows, "No arbitrage priced right now."));
}

// Pairs waiting for review: the questions the chat is asked, answered the same way.
function renderReviews(list) {
  const items = list.map((r) => {
    const open = state.rules.has(r.pair_id);
    const rules = Object.entries(r.rules);
    return h("article", { class: "review", "data-review": r.pair_id },
      h("strong", {}, r.event),
      h("span", { class: "muted" }, `  ${r.kind}, confidence ${Number(r.confidence).toFixed(2)}, id ${r.pair_id}`),
      r.mapping.map((m) => h("div", { class: "legs" }, `kalshi ${m.kalshi} ${m.kalshi_side} ⇔ polymarket ${m.polymarket} ${m.outcome}`)),
      h("ul", { class: "flags" }, r.flags.map((f) => h("li", {}, h("code", {}, f.flag), `: ${f.meaning}`))),
      h("div", { class: "muted" }, `evidence: ${r.evidence}`),
      h("div", { class: "actions" },
        h("button", { type: "button", "data-answer": "approve", disabled: state.busy, onclick: () => answer(r.pair_id, "approve") }, "Approve"),
        h("button", { type: "button", "data-answer": "reject", disabled: state.busy, onclick: () => answer(r.pair_id, "reject") }, "Reject"),
        h("button", { type: "button", "data-rules": open ? "shown" : "hidden", onclick: () => toggleRules(r.pair_id) }, open ? "Hide rules" : "Show rules")),
      open ? h("div", { class: "rules" }, rules.length ? rules.map(([market, text]) => [h("h3", {}, market), h("pre", {}, text || "(none)")]) : h("p", { class: "muted" }, "No rules text was listed.")) : null);
  });
  return card(`Pairs waiting for review (${list.length})`,
    h("p", { class: "muted" }, "Likely but not certain: each flag says why. Approve makes the pair tradable at once with the mapping shown; Reject drops it. The same questions as in the Telegram chat."),
    items.length ? items : h("p", { class: "muted", id: "no-reviews" }, "No pairs waiting for review."));
}

function toggleRules(pairId) {
  if (state.rules.has(pairId)) state.rules.delete(pairId);
  else state.rules.add(pairId);
  rerender();
}

async function answer(pairId, action) {
  if (state.busy) return;
  state.busy = true;
  rerender();
  try {
    const body = await api(`/api/reviews/${encodeURIComponent(pairId)}/${action}`, { method: "POST", headers: { "Content-Type": "application/json" }, body: "{}" });
    notice(body.message, !body.changed);
  } catch (err) {
    notice(`${action} failed: ${err.message}`, true);
  } finally {
    state.busy = false;
    await refresh(["status", "reviews", "pairs"]);
  }
}

function renderPairs(data) {
  const filter = (document.getElementById("filter") || {}).value || "";
  const q = filter.toLowerCase();
  const shown = data.pairs.filter((p) => !q || JSON.stringify([p.event, p.kalshi, p.polymarket, p.flags]).toLowerCase().includes(q));
  const rows = shown.map((p) =>
    h("tr", { "data-pair": p.pair_id },
      h("td", {}, p.event),
      h("td", {}, p.kind),
      h("td", { class: "num" }, Number(p.confidence).toFixed(2)),
      h("td", {}, p.tradable ? "yes" : h("span", { class: "neg" }, "no")),
      h("td", {}, p.flags.join(", ") || "–"),
      h("td", { class: "legs" }, p.mapping.map((m) => h("div", {}, `kalshi ${m.kalshi} ${m.kalshi_side} ⇔ ${p.polymarket_venue || "polymarket"} ${m.polymarket} ${m.outcome}`))),
      h("td", {}, p.blocked_until ? h("span", { class: "neg" }, `until ${time(p.blocked_until)}`) : "–")));
  const input = h("input", { id: "filter", type: "search", placeholder: "filter", value: filter, oninput: () => rerender() });
  return card(`Pairs (${shown.length} of ${data.pairs.length})`, input,
    table(["event", "kind", "confidence", "tradable", "flags", "mapping (same world)", "blocked"], rows, "No pairs matched yet."));
}

function legTable(e) {
  const rows = e.legs.map((l) => h("tr", {},
    h("td", {}, l.role === "leg" ? `leg ${l.leg + 1}` : l.role),
    h("td", {}, `${l.venue} ${l.market}`),
    h("td", {}, `${l.action} ${l.side}`),
    h("td", { class: "num" }, l.price_seen),
    h("td", { class: "num" }, `${l.filled} / ${l.contracts}`),
    h("td", { class: "num" }, l.avg_price ?? "–"),
    h("td", { class: `num ${cls(l.slippage_usd === null ? 0 : -l.slippage_usd)}` }, l.slippage === null ? "–" : `${l.slippage} (${money(l.slippage_usd)})`),
    h("td", { class: "num" }, money(l.fee)),
    h("td", { class: "num" }, ms(l.latency_ms)),
    h("td", {}, statusBadge(l.status), l.error ? ` ${l.error}` : ""),
    h("td", { class: "fills" }, l.fills.map((f) => h("div", {}, `${f.contracts} @ ${f.price}, fee ${money(f.fee)}${f.final ? "" : " (unconfirmed)"}`)))));
  return h("table", { class: "inner" },
    h("thead", {}, h("tr", {}, ["leg", "market", "order", "price seen", "filled", "avg price", "slippage", "fee", "answered after", "status", "fills"].map((x) => h("th", {}, x)))),
    h("tbody", {}, rows));
}

function renderTrades(data) {
  const items = data.executions.map((e) => {
    const q = e.quality;
    return h("article", { class: "execution", "data-execution": e.id },
      h("div", { class: "head" },
        h("span", { class: "muted" }, time(e.created_at)), " ",
        h("strong", {}, e.event), " ", h("span", { class: "muted" }, e.kind), " ", statusBadge(e.status), " ",
        `${e.contracts} contracts, planned ${money(Number(e.expected_cost) + Number(e.expected_fees))} for ${signed(e.expected_profit)} (${pct(e.roi_pct)}); paid ${money(Number(e.cost) + Number(e.fees))}`,
        e.realized_pnl === null ? "" : h("span", { class: cls(e.realized_pnl) }, `, realized ${signed(e.realized_pnl)}`)),
      h("div", { class: "quality" },
        `slippage ${q.slippage_usd === null ? "–" : money(q.slippage_usd)} · slowest leg ${ms(q.max_leg_latency_ms)} · unhedged window ${q.unhedged_ms === null ? "none" : ms(q.unhedged_ms)}`,
        e.note ? ` · ${e.note}` : ""),
      legTable(e));
  });
  const more = data.next ? h("button", { type: "button", onclick: () => { state.shown += 50; refresh(["executions"]); } }, "Older") : null;
  return card(`Trades (${items.length} shown)`,
    h("p", { class: "muted" }, "Slippage: fill price against the price seen (positive costs money). Answered after: from the order marked sent to its answer recorded."),
    items.length ? h("div", { id: "executions" }, items) : h("p", { class: "muted" }, "No executions yet."), more);
}

function lineChart(points, { width = 860, height = 260, label = "", step = false, zero = true } = {}) {
  const pad = { l: 64, r: 16, t: 16, b: 28 };
  const root = svg("svg", { viewBox: `0 0 ${width} ${height}`, class: "chart", role: "img", "aria-label": label });
  if (points.length < 1) return root;
  const xs = points.map((p) => p.x);
  const ys = points.map((p) => p.y).concat(zero ? [0] : []);
  let [x0, x1] = [Math.min(...xs), Math.max(...xs)];
  let [y0, y1] = [Math.min(...ys), Math.max(...ys)];
  if (x0 === x1) { x0 -= 1000; x1 += 1000; }
  if (y0 === y1) { y0 -= 1; y1 += 1; }
  const X = (x) => pad.l + ((x - x0) / (x1 - x0)) * (width - pad.l - pad.r);
  const Y = (y) => height - pad.b - ((y - y0) / (y1 - y0)) * (height - pad.t - pad.b);
  const coords = [];
  points.forEach((p, i) => {
    if (step && i > 0) coords.push(`${X(p.x)},${Y(points[i - 1].y)}`);
    coords.push(`${X(p.x)},${Y(p.y)}`);
  });
  const ticks = [...new Set([y1, zero ? 0 : null, y0].filter((v) => v !== null))];
  root.append(...[
    zero ? svg("line", { x1: pad.l, x2: width - pad.r, y1: Y(0), y2: Y(0), class: "zero" }) : null,
    ...ticks.filter((v, i) => i === 0 || Math.abs(Y(v) - Y(ticks[i - 1])) > 14).map((v) =>
      svg("text", { x: pad.l - 6, y: Y(v) + 4, class: "tick", "text-anchor": "end" }, money(v))),
    svg("text", { x: pad.l, y: height - 8, class: "tick" }, time(new Date(x0).toISOString())),
    svg("text", { x: width - pad.r, y: height - 8, class: "tick", "text-anchor": "end" }, time(new Date(x1).toISOString())),
    svg("polyline", { points: coords.join(" "), class: `line ${points[points.length - 1].y < 0 ? "neg" : "pos"}` }),
    ...points.map((p) => svg("circle", { cx: X(p.x), cy: Y(p.y), r: 2.5, class: "dot" })),
  ].filter(Boolean));
  return root;
}

function renderPnl(data) {
  const series = data.series.map((p) => ({ x: new Date(p.at).getTime(), y: Number(p.cumulative) }));
  const last = data.series.length ? data.series[data.series.length - 1].cumulative : "0";
  const windows = data.windows.map((w) => h("tr", {},
    h("td", {}, w.label), h("td", { class: "num" }, w.executions), h("td", { class: "num" }, w.settled),
    h("td", { class: `num ${cls(w.realized)}` }, signed(w.realized)), h("td", { class: "num" }, money(w.fees)),
    h("td", { class: "num" }, w.roi_pct === null ? "–" : pct(w.roi_pct)),
    h("td", { class: "num" }, w.win_rate_pct === null ? "–" : `${w.win_rate_pct}%`),
    h("td", { class: "num" }, signed(w.expected_open))));
  const venues = data.per_venue.map((v) => h("tr", {},
    h("td", {}, v.venue), h("td", { class: "num", "data-balance": v.venue }, money(state.status.balances[v.venue])),
    h("td", { class: "num" }, money(v.bought)), h("td", { class: "num" }, money(v.sold)), h("td", { class: "num" }, money(v.fees)),
    h("td", { class: "num" }, money(v.payout)), h("td", { class: `num ${cls(v.realized)}` }, signed(v.realized))));
  const balanceCharts = Object.entries(data.balance_history).map(([venue, pts]) =>
    h("div", { class: "spark" }, h("h3", {}, `${venue}: ${money(state.status.balances[venue])}`),
      lineChart(pts.map((p) => ({ x: new Date(p.at).getTime(), y: Number(p.balance) })), { height: 140, label: `${venue} balance`, step: true, zero: false })));
  return [
    card(`Cumulative realized P&L: ${signed(last)} over ${data.settled} settled`,
      data.series.length ? h("div", { id: "pnl-chart", "data-points": data.series.length }, lineChart(series, { label: "cumulative realized P&L", step: true }))
        : h("p", { class: "muted", id: "pnl-chart", "data-points": 0 }, "Nothing settled yet: the chart starts with the first settlement.")),
    card("P&L", table(["window", "executions", "settled", "realized", "fees", "ROI", "win rate", "expected on open"], windows, "")),
    card("Per venue", table(["venue", "balance", "bought", "sold", "fees", "payouts", "realized"], venues, "No fills yet."),
      balanceCharts.length ? h("div", { class: "sparks" }, h("p", { class: "muted" }, "Balances since this start:"), balanceCharts) : null),
  ];
}

// -- fetching and live updates ------------------------------------------------------

const data = {};

async function load(part) {
  if (part === "status") state.status = await api("/api/status");
  else if (part === "alerts") state.alerts = (await api("/api/alerts")).alerts;
  else if (part === "executions") {
    if (PAGE === "overview") {
      [data.latest, data.open] = await Promise.all([api("/api/executions?limit=10"), api("/api/executions?open=1&limit=50")]);
    } else data.trades = await api(`/api/executions?limit=${state.shown}`);
  } else data[part] = await api(`/api/${part}`);
}

function rerender() {
  const s = state.status;
  if (!s) return;
  renderHeader(s);
  let view;
  if (PAGE === "overview" && data.latest) view = renderOverview(s, data);
  else if (PAGE === "opportunities" && data.opportunities) view = renderOpportunities(data.opportunities);
  else if (PAGE === "pairs" && data.pairs) view = [renderReviews((data.reviews || { reviews: [] }).reviews), renderPairs(data.pairs)];
  else if (PAGE === "trades" && data.trades) view = renderTrades(data.trades);
  else if (PAGE === "pnl" && data.pnl) view = renderPnl(data.pnl);
  if (!view) return;
  const focused = document.activeElement && document.activeElement.id;
  const main = document.getElementById("content");
  main.replaceChildren(...[view].flat());
  if (focused === "filter") {
    const input = document.getElementById("filter");
    input.focus();
    input.setSelectionRange(input.value.length, input.value.length);
  }
  document.body.dataset.version = String(s.version);
}

async function refresh(parts) {
  const wanted = NEEDS[PAGE].filter((p) => parts.includes(p));
  if (!wanted.length) return;
  try {
    await Promise.all(wanted.map(load));
    rerender();
  } catch (err) {
    if (err.message !== "unauthorized") notice(`update failed: ${err.message}`, true);
  }
}

function connect() {
  const live = document.getElementById("live");
  let poll = null;
  const stream = new EventSource("/api/stream");
  stream.addEventListener("open", () => {
    live.className = "live on";
    if (poll) { clearInterval(poll); poll = null; }
  });
  stream.addEventListener("error", () => {
    live.className = "live off";
    // The browser reconnects by itself; meanwhile the page polls.
    if (!poll) poll = setInterval(() => refresh(NEEDS[PAGE]), 5000);
  });
  stream.addEventListener("update", (msg) => refresh(JSON.parse(msg.data).parts || NEEDS[PAGE]));
  stream.addEventListener("alert", (msg) => {
    state.alerts.unshift(JSON.parse(msg.data));
    refresh(["status"]);
  });
}

document.getElementById("toggle").addEventListener("click", toggle);
refresh(NEEDS[PAGE]).then(connect);
