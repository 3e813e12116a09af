// bayestune dashboard: helpers shared by the three pages.
// Text from the study (names, params, reasons) goes into the page as text nodes, and
// into Plotly labels through esc(): never as markup.
"use strict";

const BT = (() => {
  const body = document.body.dataset;
  const POLL_MS = Math.max(50, 1000 * parseFloat(body.poll || "1"));
  const STATES = ["COMPLETE", "PRUNED", "FAILED", "RUNNING", "WAITING"];
  const COLORS = {COMPLETE: "#3b5bdb", PRUNED: "#e8890c", FAILED: "#d6336c",
                  RUNNING: "#2b9a66", WAITING: "#868e96", best: "#2b9a66", band: "rgba(59,91,219,0.15)"};

  function el(tag, attrs, ...children) {
    const node = document.createElement(tag);
    for (const [k, v] of Object.entries(attrs || {})) {
      if (v === undefined || v === null || v === false) continue;
      if (k === "class") node.className = v;
      else if (k === "text") node.textContent = v;
      else if (k.startsWith("on")) node.addEventListener(k.slice(2), v);
      else node.setAttribute(k, v === true ? "" : v);
    }
    for (const c of children.flat()) {
      if (c === null || c === undefined || c === false) continue;
      node.append(c instanceof Node ? c : document.createTextNode(String(c)));
    }
    return node;
  }

  // For Plotly strings, which understand a little HTML.
  function esc(s) {
    return String(s).replace(/&/g, "&amp;").replace(/</g, "&lt;").replace(/>/g, "&gt;")
      .replace(/"/g, "&quot;");
  }

  function fmt(v) {
    if (v === null || v === undefined) return "–";
    if (typeof v !== "number") return String(v);
    if (Number.isInteger(v) && Math.abs(v) < 1e9) return String(v);
    const a = Math.abs(v);
    if (a !== 0 && (a < 1e-3 || a >= 1e5)) return v.toExponential(3);
    return String(Number(v.toPrecision(5)));
  }

  function duration(s) {
    if (s === null || s === undefined) return "–";
    if (s < 1) return `${(s * 1000).toFixed(0)} ms`;
    if (s < 90) return `${s.toFixed(1)} s`;
    if (s < 5400) return `${(s / 60).toFixed(1)} min`;
    return `${(s / 3600).toFixed(1)} h`;
  }

  function ago(iso) {
    if (!iso) return "–";
    const s = (Date.now() - new Date(iso).getTime()) / 1000;
    if (s < 5) return "just now";
    if (s < 90) return `${Math.round(s)} s ago`;
    if (s < 5400) return `${Math.round(s / 60)} min ago`;
    if (s < 129600) return `${Math.round(s / 3600)} h ago`;
    return new Date(iso).toLocaleDateString();
  }

  function when(iso) { return iso ? new Date(iso).toLocaleString() : "–"; }

  const enc = encodeURIComponent;
  const studyPage = (name) => `/study/${enc(name)}`;
  const trialPage = (name, n) => `/trial/${enc(name)}/${n}`;
  const api = (name, tail) => `/api/studies/${enc(name)}/${tail}`;

  // Live indicator: green while the server answers, red when it does not.
  let lastOk = 0;
  function live(ok) {
    const box = document.getElementById("live");
    const text = document.getElementById("live-text");
    if (!box) return;
    if (ok) lastOk = Date.now();
    box.classList.toggle("ok", ok);
    box.classList.toggle("down", !ok);
    text.textContent = ok ? "live" : "server unreachable";
  }

  async function get(url) {
    let resp;
    try {
      resp = await fetch(url, {cache: "no-store"});
    } catch (e) {
      live(false);
      throw e;
    }
    live(true);
    const data = await resp.json();
    if (!resp.ok) throw new Error(data.error || `HTTP ${resp.status}`);
    return data;
  }

  // Run fn now and every POLL_MS, never two at a time.
  function every(fn, ms) {
    let busy = false;
    const tick = async () => {
      if (busy) return;
      busy = true;
      try { await fn(); } catch (e) { console.warn(e); } finally { busy = false; }
    };
    tick();
    return setInterval(tick, ms || POLL_MS);
  }

  function placeholder(div, text) {
    if (window.Plotly && div.classList.contains("js-plotly-plot")) Plotly.purge(div);
    div.replaceChildren(el("div", {class: "placeholder", text}));
  }

  const baseLayout = {
    margin: {l: 58, r: 16, t: 8, b: 44}, font: {family: "system-ui, sans-serif", size: 12, color: "#1d2330"},
    paper_bgcolor: "#fff", plot_bgcolor: "#fff", hovermode: "closest",
    hoverlabel: {align: "left", font: {size: 12}},
    legend: {orientation: "h", x: 0, y: 1.02, yanchor: "bottom", font: {size: 11}},
    xaxis: {gridcolor: "#eef0f4", zeroline: false, automargin: true},
    yaxis: {gridcolor: "#eef0f4", zeroline: false, automargin: true},
  };

  function merge(a, b) {
    const out = {...a};
    for (const [k, v] of Object.entries(b || {})) {
      out[k] = v && typeof v === "object" && !Array.isArray(v) && a[k] && typeof a[k] === "object"
        ? merge(a[k], v) : v;
    }
    return out;
  }

  function plot(div, traces, layout) {
    if (!window.Plotly) return;
    if (div.firstChild && div.firstChild.classList && div.firstChild.classList.contains("placeholder")) {
      div.replaceChildren();
    }
    const lay = merge(baseLayout, layout);
    if (lay.showlegend && !(layout.margin && layout.margin.t !== undefined)) lay.margin = {...lay.margin, t: 34};
    Plotly.react(div, traces, lay,
                 {responsive: true, displaylogo: false, displayModeBar: "hover",
                  modeBarButtonsToRemove: ["select2d", "lasso2d", "sendDataToCloud"]});
  }

  // An axis for parameter values: log, categorical (indices with labels) or linear.
  function paramAxis(title, log, choices) {
    const axis = {title: {text: esc(title)}};
    if (choices && choices.length) {
      axis.tickvals = choices.map((_, i) => i);
      axis.ticktext = choices.map(esc);
      axis.range = [-0.5, choices.length - 0.5];
    } else if (log) {
      axis.type = "log";
    }
    return axis;
  }

  // The y range of a value plot, as the matplotlib plots choose it: the core values
  // (medians, observations) in full, the band up to half their span beyond them (far
  // from the data an inverted output warp can put a band end at 1e15). Log when every
  // value is positive and they span over two decades.
  function wantsLog(...arrays) {
    const v = arrays.flat().filter((x) => x !== null && Number.isFinite(x));
    return v.length >= 2 && v.every((x) => x > 0) && Math.max(...v) / Math.min(...v) > 100;
  }

  function valueRange(core, band, log) {
    const t = (a) => a.flat().filter((x) => x !== null && Number.isFinite(x) && (!log || x > 0))
      .map((x) => (log ? Math.log10(x) : x));
    const c = t(core);
    if (!c.length) return undefined;
    const b = t(band);
    let lo = Math.min(...c);
    let hi = Math.max(...c);
    const span = hi > lo ? hi - lo : (log ? 1 : Math.max(Math.abs(hi), 1) * 0.5);
    if (b.length) {
      lo = Math.min(lo, Math.max(Math.min(...b), lo - 0.5 * span));
      hi = Math.max(hi, Math.min(Math.max(...b), hi + 0.5 * span));
    }
    const pad = 0.05 * (hi > lo ? hi - lo : span);
    return [lo - pad, hi + pad];  // Plotly takes log axes' ranges in log10 units
  }

  function chip(state, count) {
    const text = count === undefined ? state.toLowerCase() : `${count} ${state.toLowerCase()}`;
    return el("span", {class: `chip ${state}${count === 0 ? " zero" : ""}`, text});
  }

  return {POLL_MS, STATES, COLORS, el, esc, fmt, duration, ago, when, studyPage, trialPage, api,
          get, every, placeholder, plot, paramAxis, chip, body, wantsLog, valueRange};
})();
