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
    // No URL, no link (new URL(null, base) would make one to "<page>/null").
    if (typeof url !== "string" || !url.trim()) return null;
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

  // ---------- the feed: one card per story (cluster) ----------
  // A card holds every claim of its cluster that reached the page: the outlets that carried it,
  // when each did, which ones are copies, and the claim's facts (attribution, hedge, figures).
  const cards = new Map();     // cluster id -> { item, claims: Map(claim id -> claim) }
  let claimCount = 0;

  function linkNode(url, text, className) {
    const href = safeHref(url);
    if (!href) return null;  // links only where a URL exists
    const link = el("a", className || "", text);
    link.href = href;
    link.target = "_blank";
    link.rel = "noopener noreferrer nofollow";
    return link;
  }

  function badge(text, kind, title) {
    const node = el("span", "badge " + kind, text);
    if (title) node.title = title;
    return node;
  }

  function byTime(a, b) {
    return (parseTime(a.seen_at) || 0) - (parseTime(b.seen_at) || 0) || a.seq - b.seq;
  }

  function renderCard(card) {
    const claims = [...card.claims.values()].sort(byTime);
    const first = claims[0];
    const latest = claims.reduce((a, b) => (b.seq > a.seq ? b : a));
    const cluster = latest.cluster || first.cluster || null;
    const item = card.item;
    item.dataset.claimId = first.claim_id;
    item.dataset.seq = String(latest.seq);
    item.dataset.clusterId = first.cluster_id;
    item.setAttribute("aria-label", "Story: " + first.text.slice(0, 120));

    const meta = el("div", "meta");
    const score = Math.max(...claims.map((c) => Number(c.claim_score)));
    meta.append(el("span", "score " + (score >= 0.8 ? "high" : score >= 0.6 ? "mid" : "low"), score.toFixed(2)));
    if (first.claim_type) meta.append(badge(first.claim_type, "type", "claim type"));
    const worthy = Math.max(...claims.map((c) => Number(c.checkworthy_score) || 0));
    if (claims.some((c) => c.is_checkworthy)) {
      meta.append(badge("check-worthy " + worthy.toFixed(2), "worthy", "the model expects a fact-checker to check it"));
    }
    const firstSeen = el("span", "first-seen", "first seen ");
    firstSeen.append(timeNode(cluster ? cluster.first_seen_at : first.seen_at));
    meta.append(firstSeen);
    const outlets = new Set(claims.map((c) => c.outlet));
    const spread = cluster
      ? plural(Math.max(cluster.outlets.length, outlets.size), "outlet") + " · " + cluster.independent_outlets +
        " independent"
      : plural(outlets.size, "outlet");
    meta.append(el("span", "spread", spread));

    const facts = el("p", "facts-line");
    const attribution = claims.map((c) => c.attribution || {}).find((a) => a.source || a.via);
    if (attribution) {
      facts.append(el("span", "attribution", "according to " + (attribution.source || "?") +
                                              (attribution.via ? " via " + attribution.via : "")));
    }
    if (claims.some((c) => c.hedged)) facts.append(badge("hedged", "hedged", "the claim is hedged (may, reportedly…)"));
    for (const quantity of first.quantities || []) {
      // Only figures whose normalised value is news: "310 million" = 310,000,000, "three" = 3.
      if (Number(quantity.text.replace(/[^\d.]/g, "")) === Number(quantity.value)) continue;
      facts.append(badge(quantity.text + " = " + Number(quantity.value).toLocaleString() +
                         (quantity.unit ? " " + quantity.unit : ""), "quantity", "normalised figure"));
    }
    for (const date of first.dates || []) {
      if (date.resolved) facts.append(badge(date.text + " = " + date.resolved, "date", "resolved date"));
    }

    const appearances = el("div", "appearances");
    appearances.setAttribute("role", "list");
    for (const claim of claims) {
      const row = el("div", "appearance");
      row.setAttribute("role", "listitem");
      row.dataset.claimId = claim.claim_id;
      const outlet = el("button", "outlet link", claim.outlet);
      outlet.type = "button";
      outlet.title = "Only this outlet";
      outlet.addEventListener("click", () => applyFilters({ ...currentFilters(), outlet: claim.outlet }));
      row.append(outlet, timeNode(claim.seen_at, SHORT));
      const link = linkNode(claim.url, "article", "source");
      if (link) row.append(link);
      if (cluster && cluster.first_claim_id === claim.claim_id) row.append(badge("first", "first"));
      if (claim.copy_of) row.append(badge("copy", "copy", "a near-verbatim copy of an earlier appearance"));
      if (claim.update_of) row.append(badge("updated figure", "update", "updates an earlier story's figure"));
      for (const revision of claim.revisions || []) {
        if (revision.effect === "edited") {
          row.append(badge("edited in v" + revision.version, "revised", "now: " + (revision.new_text || "")));
        } else if (revision.effect === "withdrawn") {
          row.append(badge("withdrawn in v" + revision.version, "revised"));
        }
      }
      if (claim.text !== first.text) row.append(el("span", "wording", "“" + claim.text + "”"));
      appearances.append(row);
    }

    const footer = el("div", "footer");
    const chips = el("div", "chips");
    const names = new Set();
    for (const claim of claims) {
      for (const entity of claim.entities || []) {
        if (names.has(entity.canonical)) continue;
        names.add(entity.canonical);
        const chip = el("button", VALUE_LABELS.has(entity.label) ? "chip value" : "chip", entity.canonical);
        chip.type = "button";
        chip.title = entity.label + (entity.entity_id ? " " + entity.entity_id : "") + ": only claims naming " +
          entity.canonical;
        chip.addEventListener("click", () => applyFilters({ ...currentFilters(), entity: entity.canonical }));
        chips.append(chip);
      }
    }
    const actions = el("div", "actions");
    const accept = el("button", "verdict accept", "Check-worthy");
    accept.type = "button";
    accept.title = "Accept: the claim is worth checking (a)";
    accept.addEventListener("click", () => sendVerdict(card, true));
    const reject = el("button", "verdict reject secondary", "Not worth it");
    reject.type = "button";
    reject.title = "Reject: not a check-worthy claim (r)";
    reject.addEventListener("click", () => sendVerdict(card, false));
    const ledger = el("button", "cluster-link", "Propagation ledger ›");
    ledger.type = "button";
    ledger.dataset.clusterId = first.cluster_id;
    ledger.addEventListener("click", () => openDrill(first.cluster_id));
    const verdict = el("span", "verdict-state", card.verdict || "");
    verdict.setAttribute("role", "status");
    actions.append(accept, reject, verdict, ledger);
    footer.append(chips, actions);

    const children = [meta, el("p", "text", first.text)];
    if (facts.childNodes.length) children.push(facts);
    children.push(appearances, footer);
    item.replaceChildren(...children);
  }

  function addClaims(claims, { prepend }) {
    // The feed shows the newest first: a page from /claims (newest first) is
    // appended in order; a live claim puts its story on top.
    for (const claim of claims) {
      let card = cards.get(claim.cluster_id);
      if (card && card.claims.has(claim.claim_id)) continue;
      if (!card) {
        const item = el("li", "claim card");
        item.tabIndex = 0;
        card = { item, claims: new Map(), verdict: "" };
        cards.set(claim.cluster_id, card);
        if (prepend) feed.prepend(item); else feed.append(item);
      } else if (prepend) {
        feed.prepend(card.item);
      }
      card.claims.set(claim.claim_id, claim);
      claimCount += 1;
      renderCard(card);
      if (prepend) {
        card.item.classList.remove("fresh");
        void card.item.offsetWidth;  // restart the highlight
        card.item.classList.add("fresh");
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
    while (feed.children.length > MAX_ITEMS) {
      const last = feed.lastElementChild;
      const id = last.dataset.clusterId;
      claimCount -= cards.get(id) ? cards.get(id).claims.size : 0;
      cards.delete(id);
      last.remove();
    }
    $("count").textContent = String(claimCount);
    $("stories").textContent = String(feed.children.length);
    $("empty").hidden = feed.children.length > 0;
  }

  function resetFeed() {
    cards.clear();
    claimCount = 0;
    feed.replaceChildren();
  }

  // ---------- accept / reject (feedback), with the API key kept in this tab's session ----------
  const KEY_ITEM = "claimstream.apiKey";

  function apiKey() {
    try {
      return sessionStorage.getItem(KEY_ITEM) || "";
    } catch (err) {
      return "";
    }
  }

  function showKeyState() {
    $("key-state").textContent = apiKey() ? "key set for this tab" : "no key (kept for this tab only)";
  }

  async function sendVerdict(card, checkWorthy) {
    const claim = [...card.claims.values()].sort(byTime)[0];
    const state = card.item.querySelector(".verdict-state");
    state.textContent = "saving…";
    const headers = { "Content-Type": "application/json" };
    if (apiKey()) headers["X-API-Key"] = apiKey();
    let response;
    try {
      response = await fetch("claims/" + encodeURIComponent(claim.claim_id) + "/feedback", {
        method: "POST", headers, body: JSON.stringify({ check_worthy: checkWorthy }),
      });
    } catch (err) {
      state.textContent = "not saved: " + err.message;
      return;
    }
    if (response.status === 401) {
      state.textContent = "not saved: this server needs an API key (field at the top)";
      $("api-key").focus();
      return;
    }
    if (!response.ok) {
      state.textContent = "not saved: HTTP " + response.status;
      return;
    }
    card.verdict = checkWorthy ? "accepted" : "rejected";
    card.item.dataset.verdict = card.verdict;
    state.textContent = card.verdict;
  }

  // ---------- alerts and revisions ----------
  function alertItem(alert) {
    const item = el("li");
    item.dataset.alertId = alert.alert_id;
    const button = el("button", "trend", alert.text);
    button.type = "button";
    button.dataset.clusterId = alert.cluster_id;
    button.addEventListener("click", () => openDrill(alert.cluster_id));
    const detail = el("span", "hint", alert.independent_outlets + " independent outlets within " +
                                      alert.window_minutes + " min · ");
    detail.append(timeNode(alert.reached_at, SHORT));
    item.append(button, detail);
    return item;
  }

  function addAlerts(alerts, { prepend }) {
    const list = $("alerts");
    for (const alert of alerts) {
      if (list.querySelector(`li[data-alert-id="${CSS.escape(alert.alert_id)}"]`)) continue;
      if (prepend) list.prepend(alertItem(alert)); else list.append(alertItem(alert));
    }
    while (list.children.length > 20) list.lastElementChild.remove();
    $("alerts-empty").hidden = list.children.length > 0;
  }

  async function loadAlerts() {
    try {
      const response = await fetch("alerts?limit=20");
      if (!response.ok) return;
      addAlerts((await response.json()).items, { prepend: false });
    } catch (err) {
      // the panel stays as it is
    }
  }

  function revisionItem(revision) {
    const item = el("li");
    const head = el("div", "revision-head");
    head.append(el("strong", "", revision.outlet || revision.article_id), document.createTextNode(" "));
    const title = revision.title || revision.article_id;
    head.append(linkNode(revision.url, title) || el("span", "", title));
    const counts = [];
    if (revision.edited.length) counts.push(revision.edited.length + " edited");
    if (revision.withdrawn.length) counts.push(revision.withdrawn.length + " withdrawn");
    if (revision.added.length) counts.push(revision.added.length + " added");
    const summary = el("span", "hint", "v" + revision.previous_version + " → v" + revision.version + ": " +
                                       (counts.join(", ") || "no claim changed") + " · ");
    summary.append(timeNode(revision.revised_at, SHORT));
    item.append(head, summary);
    const changes = el("ul", "changes");
    for (const change of revision.edited) {
      const row = el("li");
      row.append(el("del", "", change.old_text || ""), el("span", "arrow", " → "), el("ins", "", change.new_text || ""));
      changes.append(row);
    }
    for (const change of revision.withdrawn) {
      const row = el("li");
      row.append(el("del", "", change.old_text || ""));
      changes.append(row);
    }
    for (const change of revision.added) {
      const row = el("li");
      row.append(el("ins", "", change.new_text || ""));
      changes.append(row);
    }
    if (changes.childNodes.length) item.append(changes);
    return item;
  }

  // A live claim is as it was when it arrived: the revisions panel tells its card when a later
  // version of the article edited or withdrew it.
  function markRevised(revisions) {
    for (const revision of revisions) {
      for (const [effect, changes] of [["edited", revision.edited], ["withdrawn", revision.withdrawn]]) {
        for (const change of changes) {
          for (const card of cards.values()) {
            const claim = change.old_claim_id && card.claims.get(change.old_claim_id);
            if (!claim) continue;
            claim.revisions = claim.revisions || [];
            if (claim.revisions.some((r) => r.version === revision.version)) continue;
            claim.revisions.push({ version: revision.version, effect, new_text: change.new_text });
            renderCard(card);
          }
        }
      }
    }
  }

  async function loadRevisions() {
    try {
      const response = await fetch("revisions?limit=10");
      if (!response.ok) return;
      const items = (await response.json()).items;
      $("revisions").replaceChildren(...items.map(revisionItem));
      markRevised(items);
      $("revisions-empty").hidden = items.length > 0;
    } catch (err) {
      // the panel stays as it is
    }
  }

  // ---------- keyboard ----------
  function focusedCard() {
    const active = document.activeElement;
    return active ? active.closest("#feed > li") : null;
  }

  function moveFocus(step) {
    const items = [...feed.children];
    if (!items.length) return;
    const current = focusedCard();
    const index = current ? items.indexOf(current) + step : 0;
    const next = items[Math.max(0, Math.min(items.length - 1, index))];
    next.focus();
    next.scrollIntoView({ block: "nearest" });
  }

  function onKey(event) {
    if (event.altKey || event.ctrlKey || event.metaKey) return;
    const target = event.target;
    if (target && (target.isContentEditable || ["INPUT", "TEXTAREA", "SELECT"].includes(target.tagName))) {
      if (event.key === "Escape") target.blur();
      return;
    }
    const card = focusedCard();
    const cardOf = card ? cards.get(card.dataset.clusterId) : null;
    if (event.key === "j" || event.key === "ArrowDown") moveFocus(1);
    else if (event.key === "k" || event.key === "ArrowUp") moveFocus(-1);
    else if (event.key === "a" && cardOf) sendVerdict(cardOf, true);
    else if (event.key === "r" && cardOf) sendVerdict(cardOf, false);
    else if ((event.key === "o" || (event.key === "Enter" && target === card)) && card) openDrill(card.dataset.clusterId);
    else if (event.key === "Escape" && openCluster) { closeDrill(); if (card) card.focus(); }
    else if (event.key === "/") fields.outlet.focus();
    else return;
    event.preventDefault();
  }

  async function start() {
    const mine = ++generation;
    if (source) source.close();
    source = null;
    resetFeed();
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
    // types=all: cluster events refresh an open ledger, alert events go to the alerts panel.
    source = new EventSource("claims/stream?" + new URLSearchParams({ ...filters, after: String(after),
                                                                      types: "all" }));
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
    source.addEventListener("alert", (event) => {
      const alert = parseEvent(event);
      if (alert) addAlerts([alert], { prepend: true });
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
      if (appearance.copy_of) outlet.append(el("span", "badge copy", "copy"));
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
  document.addEventListener("keydown", onKey);
  $("key-form").addEventListener("submit", (event) => {
    event.preventDefault();
    try {
      const value = $("api-key").value.trim();
      if (value) sessionStorage.setItem(KEY_ITEM, value); else sessionStorage.removeItem(KEY_ITEM);
    } catch (err) {
      // no session storage: the key is not kept
    }
    $("api-key").value = "";
    showKeyState();
  });
  showKeyState();

  const params = new URLSearchParams(window.location.search);
  fields.outlet.value = params.get("outlet") || "";
  fields.entity.value = params.get("entity") || "";
  const minScore = Number(params.get("min_score"));
  fields.min_score.value = Number.isFinite(minScore) && minScore > 0 && minScore <= 1 ? String(minScore) : "0";
  showScore();
  start();
  if (params.get("cluster")) openDrill(params.get("cluster"));
  loadBoards();
  loadAlerts();
  loadRevisions();
  setInterval(loadBoards, BOARDS_EVERY_MS);
  setInterval(loadRevisions, BOARDS_EVERY_MS);
})();
