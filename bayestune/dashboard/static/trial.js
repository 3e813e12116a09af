// A trial's page: params, value, state, timings, fail or prune reason, its curves and
// attributes. Refreshes while the trial runs.
"use strict";

(() => {
  const {el, esc, fmt, duration, when, chip, api, get, plot, placeholder, COLORS} = BT;
  const name = BT.body.study;
  const number = parseInt(BT.body.trial, 10);
  const $ = (id) => document.getElementById(id);
  let last = null;

  function kv(tbody, rows) {
    tbody.replaceChildren(...rows.map(([k, v]) => el("tr", {}, el("th", {text: k}),
      el("td", {}, v instanceof Node ? v : String(v)))));
  }

  function json(v) {
    return typeof v === "string" ? v : el("pre", {text: JSON.stringify(v, null, 1)});
  }

  function render(t) {
    $("trial-state").replaceChildren(chip(t.state));
    const facts = [el("span", {}, "value ", el("b", {text: fmt(t.value)})),
                   el("span", {}, "duration ", el("b", {text: duration(t.duration)})),
                   el("span", {}, "direction ", el("b", {text: t.direction}))];
    if (t.reason) facts.push(el("span", {}, "reason ", el("b", {text: t.reason})));
    $("facts").replaceChildren(...facts);

    const rangeOf = (m) => (m.type === "categorical" ? `one of ${m.choices.join(", ")}`
      : `${fmt(m.low)} … ${fmt(m.high)}${m.log ? " (log)" : ""}`);
    kv($("params").tBodies[0], t.param_meta.map((m) => [m.name,
      el("span", {}, el("b", {text: fmt(t.params[m.name])}), el("span", {class: "hint", text: `   ${rangeOf(m)}`}))]));
    kv($("run").tBodies[0], [
      ["state", chip(t.state)], ["value", fmt(t.value)],
      ["started", when(t.datetime_start)], ["completed", when(t.datetime_complete)],
      ["duration", duration(t.duration)], ["reason", t.reason || "–"],
      ["intermediate values", String(t.curve.steps.length)]]);
    const ua = Object.entries(t.user_attrs).filter(([k]) => k !== "health");
    if (t.user_attrs.health) ua.push(["health", "per-epoch record (drawn above)"]);
    kv($("user-attrs").tBodies[0], ua.length ? ua.map(([k, v]) => [k, json(v)]) : [["–", "none"]]);
    const sa = Object.entries(t.system_attrs);
    kv($("system-attrs").tBodies[0], sa.length ? sa.map(([k, v]) => [k, json(v)]) : [["–", "none"]]);

    const curve = $("plot-curve");
    if (!t.curve.steps.length) {
      placeholder(curve, "This trial reported no intermediate values.");
    } else {
      const pruned = t.state === "PRUNED";
      plot(curve, [{type: "scatter", mode: "lines+markers", x: t.curve.steps, y: t.curve.values,
        name: `trial ${number}`, line: {color: COLORS[t.state], dash: pruned ? "dot" : "solid"},
        marker: {size: 5}, hovertemplate: "step %{x}: %{y:.4g}<extra></extra>"}],
        {xaxis: t.curve.steps.at(-1) - t.curve.steps[0] <= 12 ? {title: {text: "step"}, dtick: 1}
           : {title: {text: "step"}},
         yaxis: {title: {text: "intermediate value"}},
         annotations: pruned ? [{x: t.curve.steps.at(-1), y: t.curve.values.at(-1), text: "pruned here",
                                 showarrow: true, arrowhead: 2, ax: 0, ay: -30, font: {color: COLORS.PRUNED}}] : []});
    }
    const training = $("plot-training");
    $("card-training").hidden = !t.training;
    if (t.training) {
      const c = t.training;
      const traces = [
        {type: "scatter", mode: "lines+markers", name: "train loss", x: c.epochs, y: c.train_loss,
         line: {color: COLORS.COMPLETE}, marker: {size: 4}},
        {type: "scatter", mode: "lines+markers", name: "validation loss", x: c.epochs, y: c.val_loss,
         line: {color: COLORS.PRUNED}, marker: {size: 4}},
      ];
      const shapes = c.best_epoch ? [{type: "line", xref: "x", yref: "paper", x0: c.best_epoch, x1: c.best_epoch,
        y0: 0, y1: 1, line: {color: COLORS.best, dash: "dash"}, label: {text: "best epoch", textposition: "end",
        font: {size: 11, color: COLORS.best}}}] : [];
      const flags = Object.keys(c.flags || {});
      const layout = {xaxis: {title: {text: "epoch"}}, yaxis: {title: {text: "loss"}}, shapes,
                      showlegend: true};
      if (flags.length) {
        layout.title = {text: esc(`flags: ${flags.join(", ")}`), font: {size: 12}};
        layout.margin = {t: 56};
      }
      plot(training, traces, layout);
    }
  }

  async function refresh() {
    if (last && !["RUNNING", "WAITING"].includes(last.state)) return;  // finished: it will not change
    const t = await get(`${api(name, "trials")}/${number}`);
    last = t;
    render(t);
  }

  const prev = $("prev-trial");
  const next = $("next-trial");
  if (number > 0) prev.href = BT.trialPage(name, number - 1); else prev.classList.add("off");
  next.href = BT.trialPage(name, number + 1);
  get(api(name, "summary")).then((s) => { if (number + 1 >= s.n_trials) next.classList.add("off"); })
    .catch(() => {});
  BT.every(refresh);
})();
