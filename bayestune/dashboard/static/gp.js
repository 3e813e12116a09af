// The GP panels of a study's page: importance, the posterior and acquisition along a
// parameter, the posterior over two. Each draws one endpoint's answer (the numbers of
// bayestune.plot's data functions); study.js decides when.
"use strict";

const BTGP = (() => {
  const {esc, placeholder, plot, paramAxis, COLORS} = BT;
  const $ = (id) => document.getElementById(id);
  const fmt = BT.fmt;

  function nextLine(x, label) {
    return {type: "line", xref: "x", yref: "paper", x0: x, x1: x, y0: 0, y1: 1,
            line: {color: "#f08c00", width: 2, dash: "dash"}, label: {text: label, textposition: "end",
            font: {color: "#f08c00", size: 11}}};
  }

  function drawImportance(r) {
    const div = $("plot-importance");
    if (r.status !== "ready") { placeholder(div, r.message || "Fitting the GP…"); return; }
    const d = r.data;
    const names = [...d.names].reverse();
    const traces = [{type: "bar", orientation: "h", name: "total (with interactions)",
                     y: names.map(esc), x: [...d.importance].reverse(), marker: {color: COLORS.COMPLETE},
                     hovertemplate: "%{y}: %{x:.3f}<extra>total</extra>"}];
    if (d.first_order) {
      traces.push({type: "bar", orientation: "h", name: "alone (first order)", y: names.map(esc),
                   x: [...d.first_order].reverse(), marker: {color: "#a5b4f3"},
                   hovertemplate: "%{y}: %{x:.3f}<extra>first order</extra>"});
    }
    plot(div, traces, {barmode: "group", showlegend: true, xaxis: {title: {text: "share of variance"}, rangemode: "tozero"},
                       margin: {l: 10}, yaxis: {automargin: true}});
  }

  function drawSlice(r) {
    const div = $("plot-slice");
    if (r.status !== "ready") { placeholder(div, r.message || "Fitting the GP…"); return; }
    const d = r.data;
    $("slice-title").textContent = `Posterior along ${d.param}: median and 95% band`;
    const fixed = Object.entries(d.fixed).map(([k, v]) => `${k} = ${fmt(v)}`).join(", ");
    $("slice-fixed").textContent = fixed ? `Other parameters held at the best trial's: ${fixed}` : "";
    const cat = d.categorical;
    const obsX = cat ? d.observed_x.map((x, i) => x + 0.12 * Math.sin(i * 12.9898)) : d.observed_x;
    const traces = cat ? [
      {type: "scatter", mode: "markers", name: "median and 95%", x: d.x, y: d.mean,
       error_y: {type: "data", array: d.upper.map((u, i) => u - d.mean[i]),
                 arrayminus: d.mean.map((m, i) => m - d.lower[i]), color: COLORS.COMPLETE},
       marker: {color: COLORS.COMPLETE, size: 10, symbol: "line-ew-open", line: {width: 3}},
       hovertemplate: "median %{y:.4g}<extra></extra>"},
    ] : [
      {type: "scatter", mode: "lines", x: d.x, y: d.upper, line: {width: 0}, hoverinfo: "skip", showlegend: false},
      {type: "scatter", mode: "lines", x: d.x, y: d.lower, line: {width: 0}, fill: "tonexty",
       fillcolor: COLORS.band, name: "95% band", hoverinfo: "skip"},
      {type: "scatter", mode: "lines", x: d.x, y: d.mean, name: "median", line: {color: COLORS.COMPLETE, width: 2.2},
       hovertemplate: `${esc(d.param)} = %{x:.4g}<br>median %{y:.4g}<extra></extra>`},
    ];
    traces.push({type: "scatter", mode: "markers", name: "observed", x: obsX, y: d.observed_y,
                 marker: {color: "#1d2330", size: 5, opacity: 0.55},
                 hovertemplate: `${esc(d.param)} = %{x:.4g}<br>value %{y:.4g}<extra>observed</extra>`});
    const minimize = d.direction === "minimize";
    const ys = d.observed_y.map((v) => (v === null ? NaN : (minimize ? v : -v)));
    if (ys.some(Number.isFinite)) {
      const i = ys.indexOf(Math.min(...ys.filter(Number.isFinite)));
      traces.push({type: "scatter", mode: "markers", name: "best trial", x: [obsX[i]], y: [d.observed_y[i]],
                   marker: {symbol: "star", size: 14, color: COLORS.best, line: {color: "#fff", width: 1}},
                   hovertemplate: `${esc(d.param)} = %{x:.4g}<br>value %{y:.4g}<extra>best trial</extra>`});
    }
    if (d.failed_x.length) {
      const edge = minimize ? 0.97 : 0.03;
      traces.push({type: "scatter", mode: "markers", name: "failed", x: d.failed_x, y: d.failed_x.map(() => edge),
                   yaxis: "y2", marker: {color: COLORS.FAILED, symbol: "x-thin-open", size: 8, line: {width: 2}},
                   hovertemplate: `${esc(d.param)} = %{x:.4g}<extra>failed</extra>`});
    }
    const shapes = [];
    if (r.next_params && r.next_params[d.param] !== undefined && !cat) {
      shapes.push(nextLine(r.next_params[d.param], "next"));
    }
    const logY = BT.wantsLog(d.mean, d.observed_y);
    const yaxis = {title: {text: minimize ? "value (lower is better)" : "value (higher is better)"},
                   type: logY ? "log" : "linear", range: BT.valueRange([d.mean, d.observed_y], [d.lower, d.upper], logY)};
    plot(div, traces, {xaxis: paramAxis(d.param, d.log, d.choices), yaxis,
                       yaxis2: {overlaying: "y", range: [0, 1], visible: false, fixedrange: true},
                       shapes, showlegend: true});
  }

  function drawAcquisition(r) {
    const div = $("plot-acq");
    if (r.status !== "ready") { placeholder(div, r.message || "Fitting the GP…"); return; }
    const d = r.data;
    $("acq-title").textContent = `Acquisition (log EI) and P(ok) along ${d.param}`;
    const mode = d.categorical ? "markers" : "lines";
    const traces = [
      {type: "scatter", mode, name: "log EI", x: d.x, y: d.acquisition, line: {color: "#7048e8", width: 2},
       marker: {color: "#7048e8", size: 9}, hovertemplate: `${esc(d.param)} = %{x:.4g}<br>log EI %{y:.4g}<extra></extra>`},
      {type: "scatter", mode, name: "P(ok)", x: d.x, y: d.feasibility, yaxis: "y2",
       line: {color: COLORS.FAILED, width: 1.6, dash: "dash"}, marker: {color: COLORS.FAILED, size: 8},
       hovertemplate: "P(ok) %{y:.3f}<extra></extra>"},
      {type: "scatter", mode: "markers", name: "observed", x: d.observed_x, y: d.observed_x.map(() => 0.01),
       yaxis: "y2", marker: {symbol: "line-ns-open", color: "#1d2330", size: 9, opacity: 0.5},
       hoverinfo: "skip"},
    ];
    const shapes = d.next_x !== null && !d.categorical ? [nextLine(d.next_x, "next")] : [];
    // log EI falls by thousands where P(ok) is ~0: show the top 30 nats (as the matplotlib
    // plot does), where the choice is made
    const finite = d.acquisition.filter((v) => v !== null);
    const top = Math.max(...finite);
    const bottom = d.categorical ? Math.min(...finite) : Math.max(Math.min(...finite), top - 30);
    const pad = 0.06 * Math.max(top - bottom, 1);
    if (d.next_x !== null && d.categorical) {
      traces.push({type: "scatter", mode: "markers", name: "next", x: [d.next_x],
                   y: [d.acquisition[Math.round(d.next_x)]],
                   marker: {symbol: "star", size: 15, color: "#f08c00"}, hoverinfo: "name"});
    }
    plot(div, traces, {xaxis: paramAxis(d.param, d.log, d.choices),
                       yaxis: {title: {text: "log expected improvement"}, range: [bottom - pad, top + pad]},
                       yaxis2: {overlaying: "y", side: "right", range: [0, 1.05], title: {text: "P(ok)"},
                                showgrid: false, zeroline: false, tickvals: [0, 0.25, 0.5, 0.75, 1]},
                       margin: {r: 50}, shapes, showlegend: true});
  }

  function drawContour(r) {
    const div = $("plot-contour");
    if (r.status !== "ready") { placeholder(div, r.message || "Fitting the GP…"); return; }
    const d = r.data;
    const traces = [
      {type: "contour", x: d.x, y: d.y, z: d.mean, colorscale: "Viridis",
       reversescale: d.direction === "minimize", ncontours: 18, line: {width: 0.4, color: "rgba(255,255,255,0.4)"},
       colorbar: {thickness: 10, title: {text: "median", side: "right"}},
       hovertemplate: `${esc(d.x_param)} = %{x:.4g}<br>${esc(d.y_param)} = %{y:.4g}<br>median %{z:.4g}<extra></extra>`},
      {type: "scatter", mode: "markers", name: "observed", x: d.observed_x, y: d.observed_y,
       customdata: d.observed_values,
       marker: {color: "#fff", size: 6, line: {color: "#1d2330", width: 1}},
       hovertemplate: `${esc(d.x_param)} = %{x:.4g}<br>${esc(d.y_param)} = %{y:.4g}<br>value %{customdata:.4g}<extra>observed</extra>`},
    ];
    if (d.failed_x.length) {
      traces.push({type: "scatter", mode: "markers", name: "failed", x: d.failed_x, y: d.failed_y,
                   marker: {color: COLORS.FAILED, symbol: "x", size: 8}, hoverinfo: "name"});
    }
    if (d.next_point) {
      traces.push({type: "scatter", mode: "markers", name: "next suggestion", x: [d.next_point[0]],
                   y: [d.next_point[1]], marker: {symbol: "star", size: 17, color: "#f08c00",
                   line: {color: "#fff", width: 1.2}}, hoverinfo: "name"});
    }
    plot(div, traces, {xaxis: paramAxis(d.x_param, d.x_log, d.x_choices),
                       yaxis: paramAxis(d.y_param, d.y_log, d.y_choices), showlegend: true});
  }

  return {drawImportance, drawSlice, drawAcquisition, drawContour};
})();
