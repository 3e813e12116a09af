// The studies list: name, direction, trials by state, best value, last activity.
"use strict";

(() => {
  const {el, fmt, ago, when, chip, studyPage, trialPage, STATES} = BT;
  const tbody = document.querySelector("#studies tbody");
  const count = document.getElementById("count");

  function row(s) {
    const best = s.best_value === null ? "–"
      : el("a", {href: trialPage(s.name, s.best_number), title: `trial ${s.best_number}`,
                 text: fmt(s.best_value)});
    return el("tr", {onclick: (e) => { if (e.target.tagName !== "A") location.href = studyPage(s.name); }},
      el("td", {}, el("a", {href: studyPage(s.name), text: s.name})),
      el("td", {text: s.direction}),
      el("td", {}, el("span", {class: "chips"}, el("b", {text: `${s.n_trials}  `}),
        STATES.filter((st) => s.counts[st] > 0).map((st) => chip(st, s.counts[st])))),
      el("td", {class: "num"}, best),
      el("td", {title: when(s.last_activity), text: ago(s.last_activity)}));
  }

  async function refresh() {
    const data = await BT.get("/api/studies");
    const studies = data.studies;
    count.textContent = `${studies.length} ${studies.length === 1 ? "study" : "studies"}`;
    if (!studies.length) {
      tbody.replaceChildren(el("tr", {}, el("td", {colspan: 5, class: "loading",
        text: "No study in this storage yet. Studies appear here as soon as a worker creates one."})));
      return;
    }
    tbody.replaceChildren(...studies.map(row));
  }

  document.querySelector("#studies").classList.add("clickable");
  BT.every(refresh, Math.max(BT.POLL_MS, 2000));
})();
