(() => {
  "use strict";
  const $ = (id) => document.getElementById(id);
  const data = JSON.parse($("report-data").textContent);
  const tests = data.tests;
  const groups = data.groups;
  const ORDER = ["unexpected", "unfinished", "intermittent", "pass", "xfail", "skip", "notstarted"];
  const LABELS = {
    unexpected: "Unexpected", unfinished: "Unfinished", intermittent: "Known intermittent",
    pass: "Passed", xfail: "Expected failure", skip: "Skipped", notstarted: "Not started",
  };
  const counts = {};
  tests.forEach((t, i) => { t.i = i; counts[t.o] = (counts[t.o] || 0) + 1; });
  const fmt = (n) => n.toLocaleString("en-US");
  const state = {
    on: new Set(ORDER), status: "all", group: "all", q: "", page: 0, size: 200,
    sort: "problems", desc: false, open: new Set(),
  };
  let sorted = null;
  let renders = 0;

  function h(tag, cls, text) {
    const e = document.createElement(tag);
    if (cls) e.className = cls;
    if (text != null) e.textContent = text;
    return e;
  }
  function dur(ms) {
    if (ms < 1000) return ms + " ms";
    if (ms < 60000) return (ms / 1000).toFixed(2) + " s";
    return Math.floor(ms / 60000) + " min " + String(Math.floor(ms / 1000) % 60).padStart(2, "0") + " s";
  }
  const statusText = (t) => t.s || (t.o === "unfinished" ? "UNFINISHED" : "NOT STARTED");
  const groupName = (t) => (t.g == null ? "" : groups[t.g]);
  // Problems first: unexpected or unfinished tests, and tests with unexpected subtests.
  const rank = (t) => (t.o === "unexpected" || t.o === "unfinished" || t.su ? 0 : t.o === "intermittent" ? 1 : 2);
  const KEYS = {
    id: (t) => t.id, status: statusText, expected: (t) => t.x || t.s || "",
    duration: (t) => (t.d == null ? -1 : t.d), group: groupName,
  };

  function order() {
    if (sorted) return sorted;
    const list = tests.slice();
    if (state.sort === "problems") {
      list.sort((a, b) => rank(a) - rank(b) || a.i - b.i);
    } else {
      const key = KEYS[state.sort];
      const dir = state.desc ? -1 : 1;
      list.sort((a, b) => {
        const x = key(a), y = key(b);
        return (x < y ? -1 : x > y ? 1 : 0) * dir || a.i - b.i;
      });
    }
    sorted = list;
    return list;
  }

  function matches(t) {
    if (!state.on.has(t.o)) return false;
    if (state.status !== "all" && statusText(t) !== state.status) return false;
    if (state.group !== "all" && String(t.g == null ? -1 : t.g) !== state.group) return false;
    if (state.q) {
      if (t.key === undefined) t.key = (t.id + "\n" + (t.m || "")).toLowerCase();
      if (!t.key.includes(state.q)) return false;
    }
    return true;
  }

  function preview(t) {
    if (t.o === "unfinished") return "started, never ended";
    if (t.o === "pass" || !t.m) return "";
    const line = t.m.split("\n", 1)[0];
    return line.length > 200 ? line.slice(0, 200) + "…" : line;
  }

  function row(t) {
    const tr = h("tr", "row o-" + t.o + (t.su ? " flag" : ""));
    tr.dataset.i = t.i;
    tr.dataset.test = t.id;
    tr.dataset.outcome = t.o;
    tr.tabIndex = 0;
    tr.setAttribute("aria-expanded", state.open.has(t.i) ? "true" : "false");
    const st = h("td", "c-status");
    st.appendChild(h("span", "badge b-" + t.o, statusText(t)));
    tr.appendChild(st);
    const name = h("td", "c-test");
    name.appendChild(h("span", "caret"));
    name.appendChild(h("span", "tid", t.id));
    if (t.su) name.appendChild(h("span", "tag", t.su + " unexpected subtest" + (t.su > 1 ? "s" : "")));
    const p = preview(t);
    if (p) name.appendChild(h("div", "preview", p));
    tr.appendChild(name);
    const exp = t.x || t.s || "";
    tr.appendChild(h("td", "c-exp " + (t.x ? "differs" : "same"), exp));
    tr.appendChild(h("td", "c-dur num", t.d == null ? "" : dur(t.d)));
    tr.appendChild(h("td", "c-group", groupName(t)));
    return tr;
  }

  function section(box, title, text) {
    const s = h("div", "sect");
    s.appendChild(h("h4", null, title));
    s.appendChild(h("pre", null, text));
    box.appendChild(s);
    return s;
  }

  function detail(t) {
    const tr = h("tr", "detail o-" + t.o);
    const td = h("td");
    td.colSpan = 5;
    tr.appendChild(td);
    const box = h("div", "detail-body");
    td.appendChild(box);
    const facts = [LABELS[t.o]];
    if (t.x) facts.push("status " + t.s + ", expected " + t.x);
    if (t.ki) facts.push("known intermittent: " + t.ki.join(", "));
    if (t.d != null) facts.push("took " + dur(t.d));
    if (t.g != null) facts.push("group " + groups[t.g]);
    box.appendChild(h("div", "facts", facts.join(" · ")));
    if (t.o === "unfinished") box.appendChild(h("p", "note", "This test started but never ended: the run stopped before its result."));
    if (t.o === "notstarted") box.appendChild(h("p", "note", "This test was listed when the suite started but never started."));
    if (t.m) section(box, "Message", t.m);
    if (t.k) section(box, "Stack", t.k);
    if (t.sub) {
      const s = h("div", "sect");
      s.appendChild(h("h4", null, "Subtests (" + fmt(t.sub.length + (t.subcut || 0)) + ")"));
      const table = h("table", "subtests");
      const body = h("tbody");
      for (const [name, status, expected, known, message] of t.sub) {
        const o = expected ? (known ? "intermittent" : "unexpected") : status === "PASS" || status === "OK" ? "pass" : status === "SKIP" || status === "NOTRUN" ? "skip" : "xfail";
        const r = h("tr");
        r.appendChild(h("td", "tid", name));
        const c = h("td");
        c.appendChild(h("span", "badge b-" + o, status));
        if (expected) c.appendChild(document.createTextNode(" expected " + expected));
        r.appendChild(c);
        r.appendChild(h("td", null, message || ""));
        body.appendChild(r);
      }
      table.appendChild(body);
      s.appendChild(table);
      if (t.subcut) s.appendChild(h("p", "cut", fmt(t.subcut) + " more subtests not shown."));
      box.appendChild(s);
    }
    if (t.cr) t.cr.forEach((c) => section(box, "Crash", c));
    if (t.out != null) {
      const s = section(box, "Output", t.out);
      if (t.cut) {
        s.insertBefore(h("p", "cut", "Output truncated: " + fmt(t.cut) + " bytes in the middle are not shown (the first and last " + data.outputCap / 2048 + " KiB are kept)."), s.lastChild);
        const pre = s.lastChild;
        pre.appendChild(h("span", "cut-mark", "\n[… " + fmt(t.cut) + " bytes not shown …]\n"));
        pre.appendChild(document.createTextNode(t.tail || ""));
      }
    }
    if (t.ex) section(box, "Extra", t.ex);
    if (!t.m && !t.k && !t.sub && !t.cr && t.out == null && !t.ex && t.o !== "unfinished" && t.o !== "notstarted") {
      box.appendChild(h("p", "muted", "No message, stack or output was recorded for this test."));
    }
    return tr;
  }

  function render() {
    const list = order().filter(matches);
    const pages = Math.max(1, Math.ceil(list.length / state.size));
    state.page = Math.min(state.page, pages - 1);
    const from = state.page * state.size;
    const slice = list.slice(from, from + state.size);
    const frag = document.createDocumentFragment();
    for (const t of slice) {
      frag.appendChild(row(t));
      if (state.open.has(t.i)) frag.appendChild(detail(t));
    }
    if (!slice.length) {
      const tr = h("tr", "empty");
      const td = h("td", null, tests.length ? "No test matches the filters." : "No tests ran.");
      td.colSpan = 5;
      tr.appendChild(td);
      frag.appendChild(tr);
    }
    $("test-rows").replaceChildren(frag);
    const mc = $("match-count");
    mc.dataset.matching = list.length;
    mc.textContent = list.length === tests.length
      ? fmt(tests.length) + (tests.length === 1 ? " test" : " tests")
      : fmt(list.length) + " of " + fmt(tests.length) + " tests match";
    $("page-info").textContent = list.length
      ? fmt(from + 1) + "–" + fmt(from + slice.length) + " of " + fmt(list.length) + " · page " + (state.page + 1) + " of " + pages
      : "";
    $("prev").disabled = state.page === 0;
    $("next").disabled = state.page >= pages - 1;
    for (const c of document.querySelectorAll("#outcome-filters .chip")) {
      c.setAttribute("aria-pressed", state.on.has(c.dataset.outcome) ? "true" : "false");
    }
    for (const th of document.querySelectorAll("#test-table th")) {
      const b = th.querySelector("button");
      if (b && b.dataset.sort === state.sort) th.setAttribute("aria-sort", state.desc ? "descending" : "ascending");
      else th.removeAttribute("aria-sort");
    }
    $("test-table").dataset.rendered = String(++renders);
  }

  function update(resetPage) {
    if (resetPage) state.page = 0;
    render();
  }

  // Outcome chips, for the outcomes present.
  const chips = $("outcome-filters");
  for (const o of ORDER) {
    if (!counts[o]) continue;
    const b = h("button", "chip o-" + o);
    b.type = "button";
    b.dataset.outcome = o;
    b.appendChild(h("span", null, LABELS[o]));
    b.appendChild(h("span", "c", fmt(counts[o])));
    b.addEventListener("click", () => {
      if (state.on.has(o)) state.on.delete(o); else state.on.add(o);
      update(true);
    });
    chips.appendChild(b);
  }

  // Groups, by name, with their test counts.
  const perGroup = new Map();
  for (const t of tests) {
    const g = t.g == null ? -1 : t.g;
    perGroup.set(g, (perGroup.get(g) || 0) + 1);
  }
  const sel = $("group-filter");
  sel.options[0].textContent = "All groups (" + perGroup.size + ")";
  [...perGroup.keys()]
    .sort((a, b) => (a < 0 ? "" : groups[a]).localeCompare(b < 0 ? "" : groups[b]))
    .forEach((g) => {
      const opt = h("option", null, (g < 0 ? "(no group)" : groups[g]) + " (" + fmt(perGroup.get(g)) + ")");
      opt.value = String(g);
      sel.appendChild(opt);
    });
  sel.addEventListener("change", () => { state.group = sel.value; update(true); });

  // Statuses, in mozlog's order, with their test counts.
  const STATUSES = ["PASS", "FAIL", "OK", "ERROR", "TIMEOUT", "CRASH", "ASSERT", "PRECONDITION_FAILED", "SKIP", "NOTRUN", "UNFINISHED", "NOT STARTED"];
  const perStatus = new Map();
  for (const t of tests) perStatus.set(statusText(t), (perStatus.get(statusText(t)) || 0) + 1);
  const statusSel = $("status-filter");
  for (const st of STATUSES) {
    if (!perStatus.has(st)) continue;
    const opt = h("option", null, st + " (" + fmt(perStatus.get(st)) + ")");
    opt.value = st;
    statusSel.appendChild(opt);
  }
  statusSel.addEventListener("change", () => { state.status = statusSel.value; update(true); });
  if (!tests.length) {
    $("toolbar").hidden = true;
    $("pager").hidden = true;
  }

  const search = $("search");
  let timer = 0;
  search.addEventListener("input", () => {
    clearTimeout(timer);
    timer = setTimeout(() => { state.q = search.value.trim().toLowerCase(); update(true); }, 120);
  });
  document.addEventListener("keydown", (ev) => {
    const tag = (ev.target.tagName || "").toLowerCase();
    if (ev.key === "/" && tag !== "input" && tag !== "select" && tag !== "textarea") {
      ev.preventDefault();
      search.focus();
    }
  });

  function clearFilters() {
    state.on = new Set(ORDER);
    state.group = "all";
    state.status = "all";
    state.q = "";
    state.sort = "problems";
    state.desc = false;
    sorted = null;
    sel.value = "all";
    statusSel.value = "all";
    search.value = "";
  }
  $("reset").addEventListener("click", () => { clearFilters(); update(true); });

  // The summary cards show their outcome only.
  for (const card of document.querySelectorAll(".cards a.card[data-outcome]")) {
    card.addEventListener("click", () => {
      const o = card.dataset.outcome;
      clearFilters();
      if (o !== "total") state.on = new Set([o]);
      update(true);
    });
  }

  for (const b of document.querySelectorAll("#test-table th button")) {
    b.addEventListener("click", () => {
      const key = b.dataset.sort;
      if (state.sort === key) state.desc = !state.desc;
      else { state.sort = key; state.desc = false; }
      sorted = null;
      update(true);
    });
  }

  $("prev").addEventListener("click", () => { state.page -= 1; update(false); });
  $("next").addEventListener("click", () => { state.page += 1; update(false); });
  const size = $("page-size");
  size.addEventListener("change", () => { state.size = Number(size.value); update(true); });
  state.size = Number(size.value);

  function toggle(tr) {
    const i = Number(tr.dataset.i);
    const next = tr.nextElementSibling;
    if (state.open.has(i)) {
      state.open.delete(i);
      if (next && next.classList.contains("detail")) next.remove();
      tr.setAttribute("aria-expanded", "false");
    } else {
      state.open.add(i);
      tr.after(detail(tests[i]));
      tr.setAttribute("aria-expanded", "true");
    }
  }
  const rows = $("test-rows");
  rows.addEventListener("click", (ev) => {
    const tr = ev.target.closest("tr.row");
    // Selecting a test id to copy it does not toggle the row.
    if (!tr || String(window.getSelection() || "")) return;
    toggle(tr);
  });
  rows.addEventListener("keydown", (ev) => {
    const tr = ev.target.closest("tr.row");
    if (tr && (ev.key === "Enter" || ev.key === " ")) { ev.preventDefault(); toggle(tr); }
  });

  render();
})();
