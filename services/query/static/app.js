// ClaimStream live page. Plain DOM: every piece of text from the API goes in
// through textContent (or a validated href), never as markup.
"use strict";

(() => {
  const MAX_ITEMS = 300;       // claims kept on the page; the oldest are dropped
  const INITIAL = 100;         // newest claims loaded before the live stream starts
  const BOARDS_EVERY_MS = 10000;
  // spaCy labels of values (dates, amounts) rather than names: shown in a quieter style.
  const VALUE_LABELS = new Set(["CARDINAL", "ORDINAL", "QUANTITY", "MONEY", "PERCENT", "DATE", "TIME"]);

  const $ = (id) => document.getElementById(id);
  const feed = $("feed");
  const form = $("filters");
  const fields = { outlet: $("f-outlet"), entity: $("f-entity"), min_score: $("f-score") };
  const seenOutlets = new Set();
  let source = null;
  let generation = 0;          // bumps on every filter change; stale responses are dropped
  let openCluster = null;
  let drillTimer = null;
  let boardsTimer = null;

  // ---------- small helpers ----------
  function el(tag, className, text) {
    const node = document.createElement(tag);
    if (className) node.className = className;
    if (text !== undefined && text !== null) node.textContent = String(text);
    return node;
  }

  function parseTime(value) {
    if (!value) return null;
    // SQLite-backed answers may carry no offset: they are UTC.
    const iso = /[zZ]|[+-]\d\d:?\d\d$/.test(value) ? value : value + "Z";
    const date = new Date(iso);
    return Number.isNaN(date.getTime()) ? null : date;
  }

  const LONG = { dateStyle: "medium", timeStyle: "short" };
  const SHORT = { month: "short", day: "numeric", hour: "2-digit", minute: "2-digit" };

  function timeNode(value, format = LONG) {
    const date = parseTime(value);
    const node = el("time", "", date ? date.toLocaleString([], format) : "–");
    if (date) {
      node.dateTime = date.toISOString();
      node.title = date.toISOString();
    }
    return node;
  }

  function safeHref(url) {
    try {
      const parsed = new URL(url, window.location.href);
      return parsed.protocol === "http:" || parsed.protocol === "https:" ? parsed.href : null;
    } catch (err) {
      return null;
    }
  }

  function plural(n, word) {
    return n + " " + word + (n === 1 ? "" : "s");
  }

  function setStatus(state, text) {
    const node = $("status");
    node.dataset.state = state;
    node.textContent = text;
  }

  function currentFilters() {
    const out = {};
    const outlet = fields.outlet.value.trim();
    const entity = fields.entity.value.trim();
    const score = Number(fields.min_score.value);
    if (outlet) out.outlet = outlet;
    if (entity) out.entity = entity;
    if (score > 0) out.min_score = score.toFixed(2);
    return out;
  }

  function showScore() {
    $("f-score-value").textContent = Number(fields.min_score.value).toFixed(2);
  }

  // ---------- the feed ----------
  function claimItem(claim) {
    const item = el("li", "claim");
    item.dataset.claimId = claim.claim_id;
    item.dataset.seq = String(claim.seq);
    item.dataset.clusterId = claim.cluster_id;

    const meta = el("div", "meta");
    const score = Number(claim.claim_score);
    meta.append(el("span", "score " + (score >= 0.8 ? "high" : score >= 0.6 ? "mid" : "low"), score.toFixed(2)));
    const outlet = el("button", "outlet link", claim.outlet);
    outlet.type = "button";
    outlet.title = "Only this outlet";
    outlet.addEventListener("click", () => applyFilters({ ...currentFilters(), outlet: claim.outlet }));
    meta.append(outlet, timeNode(claim.seen_at));
    const href = safeHref(claim.url);
    if (href) {
      const link = el("a", "source", "source");
      link.href = href;
      link.target = "_blank";
      link.rel = "noopener noreferrer nofollow";
      meta.append(link);
    }
    item.append(meta, el("p", "text", claim.text));

    const footer = el("div", "footer");
    const chips = el("div", "chips");
    const names = new Set();
    for (const entity of claim.entities || []) {
      if (names.has(entity.canonical)) continue;
      names.add(entity.canonical);
      const chip = el("button", VALUE_LABELS.has(entity.label) ? "chip value" : "chip", entity.canonical);
      chip.type = "button";
      chip.title = entity.label + ": only claims naming " + entity.canonical;
      chip.addEventListener("click", () => applyFilters({ ...currentFilters(), entity: entity.canonical }));
      chips.append(chip);
    }
    const cluster = el("button", "cluster-link", "Propagation ledger ›");
    cluster.type = "button";
    cluster.dataset.clusterId = claim.cluster_id;
    cluster.addEventListener("click", () => openDrill(claim.cluster_id));
    footer.append(chips, cluster);
    item.append(footer);
    return item;
  }

  function addClaims(claims, { prepend }) {
    // The feed shows the newest first: a page from /claims (newest first) is
    // appended in order, live claims (oldest first) are each put on top.
    for (const claim of claims) {
      if (feed.querySelector(`li[data-seq="${CSS.escape(String(claim.seq))}"]`)) continue;
      const item = claimItem(claim);
      if (prepend) {
        feed.prepend(item);
        item.classList.add("fresh");
      } else {
        feed.append(item);
      }
      if (!seenOutlets.has(claim.outlet)) {
        seenOutlets.add(claim.outlet);
        $("outlets").append(new Option(claim.outlet));
      }
      if (openCluster && claim.cluster_id === openCluster) scheduleDrillReload();
    }
    // New claims move the leaderboards; the server recomputes them every few seconds.
    if (prepend && claims.length && boardsTimer === null) {
      boardsTimer = setTimeout(() => { boardsTimer = null; loadBoards(); }, 6000);
    }
    while (feed.children.length > MAX_ITEMS) feed.lastElementChild.remove();
    $("count").textContent = String(feed.children.length);
    $("empty").hidden = feed.children.length > 0;
  }

  async function start() {
    const mine = ++generation;
    if (source) source.close();
    source = null;
    feed.replaceChildren();
    addClaims([], { prepend: true });
    $("empty").textContent = "Waiting for claims…";
    setStatus("connecting", "connecting…");
    const filters = currentFilters();
    let after = 0;
    try {
      const response = await fetch("claims?" + new URLSearchParams({ ...filters, limit: String(INITIAL) }));
      if (!response.ok) throw new Error("HTTP " + response.status);
      const page = await response.json();
      if (mine !== generation) return;
      addClaims(page.items, { prepend: false });
      // The stream resumes after `stream_after`, the feed position of the same snapshot; a
      // server without it numbers its events by claim seq.
      after = Number.isInteger(page.stream_after) ? page.stream_after : page.items.length ? page.items[0].seq : 0;
    } catch (err) {
      if (mine !== generation) return;
      $("empty").textContent = "Could not load claims (" + err.message + "); following the live feed.";
    }
    source = new EventSource("claims/stream?" + new URLSearchParams({ ...filters, after: String(after) }));
    source.addEventListener("open", () => setStatus("live", "live"));
    source.addEventListener("error", () => setStatus("reconnecting", "reconnecting…"));
    // `claim`: the first appearance of a cluster; `appearance`: another outlet repeating it.
    for (const type of ["claim", "appearance"]) {
      source.addEventListener(type, (event) => {
        const claim = parseEvent(event);
        if (claim) addClaims([claim], { prepend: true });
      });
    }
    source.addEventListener("cluster", (event) => {
      const cluster = parseEvent(event);
      if (cluster && openCluster && cluster.cluster_id === openCluster) scheduleDrillReload();
    });
  }

  function parseEvent(event) {
    try {
      return JSON.parse(event.data);
    } catch (err) {
      console.warn("unreadable " + event.type + " event", err);
      return null;
    }
  }

  function applyFilters(filters) {
    fields.outlet.value = filters.outlet || "";
    fields.entity.value = filters.entity || "";
    fields.min_score.value = filters.min_score || "0";
    showScore();
    syncUrl();
    start();
  }

  function syncUrl() {
    const params = new URLSearchParams(currentFilters());
    if (openCluster) params.set("cluster", openCluster);
    const query = params.toString();
    history.replaceState(null, "", query ? "?" + query : window.location.pathname);
  }

  // ---------- cluster drill-down ----------
  async function openDrill(clusterId) {
    if (clusterId !== openCluster) {
      for (const id of ["drill-text", "drill-first", "drill-first-seen", "drill-outlets", "drill-count"]) {
        $(id).textContent = "";
      }
      $("ledger").tBodies[0].replaceChildren();
    }
    openCluster = clusterId;
    syncUrl();
    const panel = $("drill");
    panel.hidden = false;
    $("drill-id").textContent = clusterId;
    await loadDrill(clusterId);
    panel.scrollIntoView({ block: "nearest" });
  }

  function scheduleDrillReload() {
    clearTimeout(drillTimer);
    drillTimer = setTimeout(() => openCluster && loadDrill(openCluster), 1500);
  }

  async function loadDrill(clusterId) {
    const error = $("drill-error");
    let ledger;
    try {
      const response = await fetch("clusters/" + encodeURIComponent(clusterId));
      if (response.status === 404) throw new Error("the ledger is not there yet; it follows the claim shortly");
      if (!response.ok) throw new Error("HTTP " + response.status);
      ledger = await response.json();
    } catch (err) {
      if (openCluster !== clusterId) return;
      error.hidden = false;
      error.textContent = "Could not load cluster: " + err.message;
      setTimeout(() => openCluster === clusterId && loadDrill(clusterId), 3000);
      return;
    }
    if (openCluster !== clusterId) return;
    error.hidden = true;
    $("drill-text").textContent = ledger.text;
    $("drill-first").textContent = ledger.first_outlet;
    $("drill-first-seen").replaceChildren(timeNode(ledger.first_seen_at));
    $("drill-outlets").textContent = ledger.outlet_count + ": " + ledger.outlets.join(", ");
    $("drill-count").textContent = String(ledger.appearance_count);
    const rows = ledger.appearances.map((appearance, index) => {
      const row = el("tr");
      row.dataset.claimId = appearance.claim_id;
      const cell = el("td");
      cell.append(timeNode(appearance.seen_at, SHORT));
      const outlet = el("td");
      const href = safeHref(appearance.url);
      if (href) {
        const link = el("a", "", appearance.outlet);
        link.href = href;
        link.target = "_blank";
        link.rel = "noopener noreferrer nofollow";
        outlet.append(link);
      } else {
        outlet.textContent = appearance.outlet;
      }
      if (index === 0) outlet.append(el("span", "first", "first"));
      row.append(el("td", "num", index + 1), cell, outlet, el("td", "", appearance.text));
      return row;
    });
    $("ledger").tBodies[0].replaceChildren(...rows);
  }

  function closeDrill() {
    openCluster = null;
    $("drill").hidden = true;
    syncUrl();
  }

  // ---------- leaderboards ----------
  function windowText(seconds) {
    const hours = seconds / 3600;
    return "claims received in the last " + (hours >= 1 ? hours.toFixed(0) + " h" : (seconds / 60).toFixed(0) + " min");
  }

  async function loadBoards() {
    let boards;
    try {
      const response = await fetch("leaderboards");
      if (!response.ok) return;
      boards = await response.json();
    } catch (err) {
      return;
    }
    // When the server computed these (the tests wait on it; people can hover the heading).
    document.body.dataset.boardsUpdatedAt = boards.updated_at || "";
    $("entities-window").textContent = windowText(boards.entity_window_s);
    $("clusters-window").textContent = windowText(boards.cluster_window_s);
    $("top-entities").replaceChildren(...boards.entities.map((entry) => {
      const item = el("li");
      const chip = el("button", "chip", entry.entity);
      chip.type = "button";
      chip.append(el("span", "n", entry.claims));
      chip.addEventListener("click", () => applyFilters({ ...currentFilters(), entity: entry.entity }));
      item.append(chip);
      return item;
    }));
    $("entities-list").replaceChildren(...boards.entities.map((entry) => new Option(entry.entity)));
    $("trending").replaceChildren(...boards.clusters.map((entry, index) => {
      const item = el("li");
      const body = el("div");
      const button = el("button", "trend", entry.text);
      button.type = "button";
      button.dataset.clusterId = entry.cluster_id;
      button.addEventListener("click", () => openDrill(entry.cluster_id));
      body.append(button, el("span", "hint", plural(entry.appearances, "appearance") + " · " +
                                             plural(entry.outlets, "outlet")));
      item.append(el("span", "rank", index + 1), body);
      return item;
    }));
  }

  // ---------- wiring ----------
  form.addEventListener("submit", (event) => {
    event.preventDefault();
    applyFilters(currentFilters());
  });
  fields.min_score.addEventListener("input", showScore);
  $("f-clear").addEventListener("click", () => applyFilters({}));
  $("drill-close").addEventListener("click", closeDrill);

  const params = new URLSearchParams(window.location.search);
  fields.outlet.value = params.get("outlet") || "";
  fields.entity.value = params.get("entity") || "";
  const minScore = Number(params.get("min_score"));
  fields.min_score.value = Number.isFinite(minScore) && minScore > 0 && minScore <= 1 ? String(minScore) : "0";
  showScore();
  start();
  if (params.get("cluster")) openDrill(params.get("cluster"));
  loadBoards();
  setInterval(loadBoards, BOARDS_EVERY_MS);
})();
