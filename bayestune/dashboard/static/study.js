// A study's page: summary, convergence, trials table, importance, GP posterior panels,
// parallel coordinates and learning curves. Polls the summary; when its token changes
// (a trial was asked, reported or told), it reloads the panels; while a GP fit runs on
// the server, it polls the posterior panels until the fit is ready.
"use strict";

(() => {
  const {el, esc, fmt, duration, ago, when, chip, api, get, plot, placeholder, COLORS, STATES} = BT;
  const {drawImportance, drawSlice, drawAcquisition, drawContour} = BTGP;
  const name = BT.body.study;
  const $ = (id) => document.getElementById(id);

  let token = null;
  let summary = null;
  let params = [];          // names, in the space's order
  let meta = null;          // param metadata from the trials endpoint
  let param = null;         // the parameter of the slices
  let fitBusy = false;
  const seen = new Set();   // trial numbers already shown (new ones flash)
  let firstTable = true;
  const table = {page: 0, size: 50, sort: "number", order: "desc", states: new Set(),
                 lo: {}, hi: {}, inn: {}};

  // -- summary -------------------------------------------------------------------------
  function renderSummary(s) {
    const best = s.best_value === null ? el("span", {text: "no completed trial yet"})
      : el("span", {}, "best ", el("b", {text: fmt(s.best_value)}), " (",
           el("a", {href: BT.trialPage(name, s.best_number), text: `trial ${s.best_number}`}), ")");
    $("facts").replaceChildren(
      el("span", {}, el("b", {text: s.direction})),
      el("span", {}, el("b", {text: String(s.n_trials)}), " trials"),
      el("span", {class: "chips"}, STATES.filter((st) => s.counts[st] > 0)
        .map((st) => chip(st, s.counts[st]))),
      best,
      el("span", {title: when(s.last_activity)}, "last activity ", el("b", {text: ago(s.last_activity)})));
  }

  // -- trials table ----------------------------------------------------------------------
  function tableQuery() {
    const q = new URLSearchParams({page: table.page, size: table.size, sort: table.sort,
                                   order: table.order});
    for (const st of table.states) q.append("state", st);
    for (const [k, v] of Object.entries(table.lo)) if (v !== "") q.set(`lo.${k}`, v);
    for (const [k, v] of Object.entries(table.hi)) if (v !== "") q.set(`hi.${k}`, v);
    for (const [k, v] of Object.entries(table.inn)) if (v !== "") q.set(`in.${k}`, v);
    return q.toString();
  }

  function header(data) {
    const cols = [["number", "#", true], ["state", "State"], ["value", "Value", true],
                  ...data.params.map((p) => [`param:${p.name}`, p.name, p.type !== "categorical"]),
                  ["duration", "Duration", true], [null, "Reason"]];
    return el("tr", {}, cols.map(([key, label, num]) => {
      const sorted = key === table.sort;
      return el("th", {
        class: [key ? "sortable" : "", num ? "num" : "", sorted ? "sorted" : "",
                sorted && table.order === "asc" ? "asc" : ""].join(" ").trim(),
        title: key ? "sort" : null, "data-sort": key,
        onclick: key ? () => {
          if (table.sort === key) table.order = table.order === "asc" ? "desc" : "asc";
          else { table.sort = key; table.order = key === "number" ? "desc" : "asc"; }
          table.page = 0;
          loadTable();
        } : null,
      }, label);
    }));
  }

  function row(r, data) {
    const fresh = !firstTable && !seen.has(r.number);
    seen.add(r.number);
    const cls = [fresh ? "fresh" : "", summary && r.number === summary.best_number ? "best" : ""];
    return el("tr", {class: cls.join(" ").trim() || null, "data-number": r.number,
                     onclick: () => { location.href = BT.trialPage(name, r.number); }},
      el("td", {class: "num"}, el("a", {href: BT.trialPage(name, r.number), text: r.number})),
      el("td", {}, chip(r.state)),
      el("td", {class: "num", text: fmt(r.value)}),
      r.params.map((v, i) => el("td", {class: data.params[i].type === "categorical" ? null : "num",
                                       text: fmt(v)})),
      el("td", {class: "num", text: duration(r.duration)}),
      el("td", {class: "reason", title: r.reason, text: r.reason || ""}));
  }

  async function loadTable() {
    const data = await get(`${api(name, "trials")}?${tableQuery()}`);
    if (!meta) { meta = data.params; buildFilters(); }
    table.page = data.page;
    const t = $("trials-table");
    t.tHead.replaceChildren(header(data));
    const tbody = t.tBodies[0];
    if (!data.rows.length) {
      tbody.replaceChildren(el("tr", {}, el("td", {colspan: data.params.length + 5, class: "loading",
        text: data.total ? "No trial matches these filters." : "No trial yet."})));
    } else {
      tbody.replaceChildren(...data.rows.map((r) => row(r, data)));
    }
    firstTable = false;
    const filtered = data.matching !== data.total ? ` (${data.matching} match the filters)` : "";
    $("table-count").textContent = `${data.total} trials${filtered}`;
    $("page-info").textContent = `page ${data.page + 1} of ${data.pages}`;
    $("first-page").disabled = $("prev-page").disabled = data.page === 0;
    $("next-page").disabled = $("last-page").disabled = data.page >= data.pages - 1;
    $("last-page").dataset.last = data.pages - 1;
  }

  let filterTimer = null;
  function filtersChanged() {
    clearTimeout(filterTimer);
    filterTimer = setTimeout(() => { table.page = 0; loadTable(); }, 250);
  }

  function buildFilters() {
    $("state-filter").replaceChildren(...STATES.map((st) => el("label", {title: `show ${st.toLowerCase()} trials`},
      el("input", {type: "checkbox", value: st, onchange: (e) => {
        if (e.target.checked) table.states.add(st); else table.states.delete(st);
        filtersChanged();
      }}), chip(st))));
    $("param-filters").replaceChildren(...meta.map((p) => {
      if (p.type === "categorical") {
        return el("label", {}, el("span", {title: p.name, text: p.name}),
          el("select", {onchange: (e) => { table.inn[p.name] = e.target.value; filtersChanged(); }},
            el("option", {value: "", text: "any"}), p.choices.map((c) => el("option", {value: c, text: c}))));
      }
      const input = (side) => el("input", {type: "text", inputmode: "decimal",
        placeholder: side === "lo" ? `≥ ${fmt(p.low)}` : `≤ ${fmt(p.high)}`,
        oninput: (e) => { table[side][p.name] = e.target.value.trim(); filtersChanged(); }});
      return el("label", {}, el("span", {title: p.name, text: p.name}), input("lo"), "–", input("hi"));
    }));
  }

  $("clear-filters").addEventListener("click", () => {
    table.states.clear(); table.lo = {}; table.hi = {}; table.inn = {};
    for (const i of document.querySelectorAll("#card-trials input")) {
      if (i.type === "checkbox") i.checked = false; else i.value = "";
    }
    for (const s of document.querySelectorAll("#param-filters select")) s.value = "";
    table.page = 0;
    loadTable();
  });
  $("first-page").addEventListener("click", () => { table.page = 0; loadTable(); });
  $("prev-page").addEventListener("click", () => { table.page = Math.max(0, table.page - 1); loadTable(); });
  $("next-page").addEventListener("click", () => { table.page += 1; loadTable(); });
  $("last-page").addEventListener("click", () => { table.page = +$("last-page").dataset.last || 0; loadTable(); });
  $("page-size").addEventListener("change", (e) => { table.size = +e.target.value; table.page = 0; loadTable(); });

  // -- history panels --------------------------------------------------------------------
  function hoverText(d, i) {
    const lines = [`<b>trial ${d.numbers[i]}</b> · ${d.states[i].toLowerCase()}`,
                   `value ${fmt(d.values[i])}`];
    for (const p of params) lines.push(`${esc(p)} = ${esc(fmt(d.params[p][i]))}`);
    if (d.reasons[i]) lines.push(esc(d.reasons[i]).slice(0, 120));
    return lines.join("<br>");
  }

  function onClickTrial(div) {
    if (div.dataset.clicks) return;
    div.dataset.clicks = "1";
    div.on("plotly_click", (ev) => {
      const n = ev.points && ev.points[0] && ev.points[0].customdata;
      if (n !== undefined && n !== null) location.href = BT.trialPage(name, n);
    });
  }

  async function loadConvergence() {
    const d = await get(api(name, "convergence"));
    const div = $("plot-convergence");
    if (!d.numbers.length) { placeholder(div, "No finished trial yet."); return; }
    const type = d.numbers.length > 1500 ? "scattergl" : "scatter";
    const pick = (pred) => d.numbers.map((_, i) => i).filter(pred);
    const trace = (idx, opts) => ({type, mode: "markers", x: idx.map((i) => d.numbers[i]),
      customdata: idx.map((i) => d.numbers[i]), hovertext: idx.map((i) => hoverText(d, i)),
      hoverinfo: "text", ...opts});
    const done = pick((i) => d.states[i] === "COMPLETE" && d.values[i] !== null);
    const prunedV = pick((i) => d.states[i] === "PRUNED" && d.values[i] !== null);
    const noValue = pick((i) => d.values[i] === null);
    const finite = d.values.filter((v) => v !== null);
    const log = finite.length > 1 && finite.every((v) => v > 0) &&
      Math.max(...finite) / Math.min(...finite) > 100;
    const traces = [
      trace(done, {name: "complete", y: done.map((i) => d.values[i]),
                   marker: {color: COLORS.COMPLETE, size: 6, opacity: 0.7}}),
      trace(prunedV, {name: "pruned (last value)", y: prunedV.map((i) => d.values[i]),
                      marker: {color: COLORS.PRUNED, size: 7, symbol: "diamond", opacity: 0.8}}),
      {type, mode: "lines", name: "best so far", x: d.numbers, y: d.best_so_far, hoverinfo: "skip",
       line: {color: COLORS.best, width: 2.5, shape: "hv"}},
      trace(noValue, {name: "failed / no value", y: noValue.map(() => 1), yaxis: "y2",
                      marker: {color: noValue.map((i) => COLORS[d.states[i]]), size: 8,
                               symbol: "x-thin-open", line: {width: 2}}}),
    ];
    plot(div, traces, {
      xaxis: {title: {text: "trial"}}, yaxis: {title: {text: "value"}, type: log ? "log" : "linear"},
      yaxis2: {overlaying: "y", range: [0, 1.04], visible: false, fixedrange: true},
      showlegend: true,
    });
    onClickTrial(div);
  }

  async function loadParallel() {
    const r = await get(api(name, "parallel"));
    const div = $("plot-parallel");
    if (r.status !== "ready") { placeholder(div, r.message); return; }
    const d = r.data;
    const nFailed = d.failed_coords.length;
    $("parallel-hint").textContent = `${d.numbers.length} completed trials, coloured by value` +
      (nFailed ? `; ${nFailed} failed not drawn` : "");
    const last = d.names.length - 1;
    const dims = d.names.map((n, j) => ({
      label: esc(n), values: d.coords.map((row) => row[j]), range: [0, 1],
      tickvals: d.ticks[j].positions, ticktext: d.ticks[j].labels.map(esc)}));
    plot(div, [{type: "parcoords", dimensions: dims,
      // coloured as the value axis (the last one) reads: bright is better
      line: {color: d.coords.map((row) => row[last]), cmin: 0, cmax: 1, colorscale: "Viridis",
             reversescale: d.direction === "minimize", showscale: false}}],
      {margin: {l: 48, r: 48, t: 46, b: 24}});
  }

  async function loadCurves() {
    const r = await get(api(name, "curves"));
    const div = $("plot-curves");
    if (!r.curves.length) {
      placeholder(div, "No trial has reported intermediate values yet (trial.report(step, value)).");
      $("curves-hint").textContent = "intermediate values reported by each trial";
      return;
    }
    $("curves-hint").textContent = r.shown < r.n_with_curves
      ? `${r.shown} of ${r.n_with_curves} trials: the 5 best, the running ones and the latest; pruned dotted`
      : `${r.shown} trials; pruned runs dotted and crossed where they stopped`;
    const traces = r.curves.map((c) => {
      const color = c.best ? COLORS.best : COLORS[c.state];
      const pruned = c.state === "PRUNED";
      return {type: "scatter", mode: pruned ? "lines+markers" : "lines", x: c.steps, y: c.values,
        name: `trial ${c.number}`, customdata: c.steps.map(() => c.number),
        line: {color, width: c.best ? 2.5 : 1.3, dash: pruned ? "dot" : "solid"},
        opacity: c.best || c.state === "RUNNING" ? 1 : 0.55,
        marker: pruned ? {symbol: c.steps.map((_, i) => (i === c.steps.length - 1 ? "x" : "circle")),
                          size: c.steps.map((_, i) => (i === c.steps.length - 1 ? 10 : 0)), color}
          : {color},
        hovertemplate: `trial ${c.number} (${c.state.toLowerCase()}${c.best ? ", among the best" : ""})` +
          "<br>step %{x}: %{y:.4g}<extra></extra>"};
    });
    const steps = r.curves.flatMap((c) => c.steps);
    const few = Math.max(...steps) - Math.min(...steps) <= 12;
    plot(div, traces, {showlegend: false, xaxis: few ? {title: {text: "step"}, dtick: 1} : {title: {text: "step"}},
                       yaxis: {title: {text: "intermediate value"}}});
    onClickTrial(div);
  }

  // -- GP panels ---------------------------------------------------------------------------
  function fitStatus(panels) {
    const ready = panels.find((p) => p.status === "ready" || p.status === "unavailable");
    const busy = panels.some((p) => p.status === "fitting" || p.stale);
    for (const s of document.querySelectorAll("[data-fit]")) {
      s.classList.toggle("busy", busy);
      if (busy && !ready) s.textContent = "fitting the GP…";
      else if (busy) s.textContent = `refitting on new trials… (shown: ${ready.n_complete} completed)`;
      else if (ready && ready.status === "ready")
        s.textContent = `GP fitted on ${ready.n_complete} completed trials (${duration(ready.seconds)})`;
      else s.textContent = "";
    }
    fitBusy = busy;
  }

  // A GP panel is redrawn only when its fit or its view changed.
  const drawn = {};
  function changed(panel, r, view) {
    const sig = `${r.status}|${r.fit_id}|${r.stale}|${view}|${r.message || ""}`;
    if (drawn[panel] === sig) return false;
    drawn[panel] = sig;
    return true;
  }

  async function loadPosterior() {
    const cx = $("contour-x").value;
    const cy = $("contour-y").value;
    const q = (p) => `?param=${encodeURIComponent(p)}`;
    const jobs = [get(api(name, "importance")), get(api(name, "slice") + q(param)),
                  get(api(name, "acquisition") + q(param))];
    if (params.length > 1) {
      jobs.push(get(`${api(name, "contour")}?x=${encodeURIComponent(cx)}&y=${encodeURIComponent(cy)}`));
    }
    const [imp, sl, acq, con] = await Promise.all(jobs);
    if (changed("importance", imp, "")) drawImportance(imp);
    if (changed("slice", sl, param)) drawSlice(sl);
    if (changed("acq", acq, param)) drawAcquisition(acq);
    if (con && changed("contour", con, `${cx}|${cy}`)) drawContour(con);
    fitStatus([imp, sl, acq, con].filter(Boolean));
  }

  async function loadSlices() {
    const q = `?param=${encodeURIComponent(param)}`;
    const [sl, acq] = await Promise.all([get(api(name, "slice") + q), get(api(name, "acquisition") + q)]);
    if (changed("slice", sl, param)) drawSlice(sl);
    if (changed("acq", acq, param)) drawAcquisition(acq);
  }

  function buildPickers() {
    param = params[0];
    $("param-picker").replaceChildren(...params.map((p) => el("button", {
      type: "button", "data-param": p, class: p === param ? "active" : null, text: p,
      onclick: (e) => {
        param = p;
        for (const b of $("param-picker").children) b.classList.toggle("active", b === e.target);
        loadSlices();
      }})));
    for (const [id, i] of [["contour-x", 0], ["contour-y", 1]]) {
      $(id).replaceChildren(...params.map((p) => el("option", {value: p, text: p})));
      $(id).value = params[Math.min(i, params.length - 1)];
      $(id).addEventListener("change", () => {
        if ($("contour-x").value === $("contour-y").value) {
          const other = id === "contour-x" ? "contour-y" : "contour-x";
          $(other).value = params.find((p) => p !== $(id).value);
        }
        const view = `${$("contour-x").value}|${$("contour-y").value}`;
        get(`${api(name, "contour")}?x=${encodeURIComponent($("contour-x").value)}&y=${encodeURIComponent($("contour-y").value)}`)
          .then((r) => { if (changed("contour", r, view)) drawContour(r); });
      });
    }
    if (params.length < 2) placeholder($("plot-contour"), "The contour needs two parameters; this space has one.");
  }

  // -- polling -------------------------------------------------------------------------------
  // Each panel reloads on its own, so a slow redraw never holds up the table. A panel
  // asked to reload while it loads reloads once more after. The plots (not the table)
  // rest twice as long as their last load took (1.5 s to 10 s) between
  // reloads: while trials pour in, drawing never hogs the page.
  const loaders = {table: loadTable, convergence: loadConvergence, parallel: loadParallel,
                   curves: loadCurves, posterior: loadPosterior};
  const loading = {};
  const again = {};
  const lastEnd = {};
  const lastCost = {};
  const timers = {};
  function reload(key) {
    if (loading[key]) { again[key] = true; return; }
    const wait = key === "table" ? 0
      : (lastEnd[key] || -1e9) + Math.min(10000, Math.max(1500, 2 * (lastCost[key] || 0))) - performance.now();
    if (wait > 0) {
      if (!timers[key]) timers[key] = setTimeout(() => { timers[key] = null; reload(key); }, wait);
      return;
    }
    loading[key] = true;
    const t0 = performance.now();
    loaders[key]().catch((e) => console.warn(key, e)).finally(() => {
      lastEnd[key] = performance.now();
      lastCost[key] = lastEnd[key] - t0;
      if (window.BT_TRACE) console.info(`panel ${key} ${Math.round(lastCost[key])} ms`);
      loading[key] = false;
      if (again[key]) { again[key] = false; reload(key); }
    });
  }

  async function tick() {
    const s = await get(api(name, "summary"));
    summary = s;
    renderSummary(s);
    if (!params.length) { params = s.params; buildPickers(); }
    if (s.token !== token) {
      token = s.token;
      for (const key of Object.keys(loaders)) reload(key);
    } else if (fitBusy) {
      reload("posterior");
    }
  }

  BT.every(tick);
})();
