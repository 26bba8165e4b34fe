// The policy editor: edits a draft of the bundle in force and sends it to
// the server's API (/v1/policy/check, /preview, /rollout, /rollback). The
// draft lives in this page only; nothing reaches the bundle until "Roll
// out", and the server checks it again then.
"use strict";

const state = {
  live: null, // { hash, name, version, files: { path: text } }
  draft: new Map(), // path → text, for files changed or added
  deleted: new Set(), // paths removed in the draft
  current: null, // the open path
  problems: [], // the last check's diagnostics
  checkedFor: null, // the draft body the problems belong to
  busy: false,
  bases: new Map(), // path → the version in force when the draft first changed it
};

const $ = (id) => document.getElementById(id);

// ---- talking to the server -------------------------------------------

function token() {
  return $("token").value.trim();
}

/** Calls the API; resolves to { status, body } and never throws for an
 * HTTP error (the caller shows it), only for a network failure. */
async function api(method, path, body) {
  const headers = { accept: "application/json" };
  if (token()) headers.authorization = "Bearer " + token();
  if (body !== undefined) headers["content-type"] = "application/json";
  const res = await fetch(path, {
    method,
    headers,
    body: body === undefined ? undefined : JSON.stringify(body),
  });
  let data = null;
  try {
    data = await res.json();
  } catch (_) {
    data = null;
  }
  return { status: res.status, body: data };
}

/** The message of an API error, with a hint for the access errors. */
function failure(what, r) {
  const msg = (r.body && r.body.error && r.body.error.message) || "HTTP " + r.status;
  if (r.status === 401) return `${what}: ${msg}. Enter a token at the top right.`;
  if (r.status === 403) return `${what}: ${msg}. This needs an officer's token.`;
  return `${what}: ${msg}`;
}

function say(text, kind) {
  const m = $("message");
  m.textContent = text;
  m.className = kind || "";
}

// ---- the draft -------------------------------------------------------

function liveText(path) {
  return state.live && Object.prototype.hasOwnProperty.call(state.live.files, path)
    ? state.live.files[path]
    : null;
}

function textOf(path) {
  if (state.draft.has(path)) return state.draft.get(path);
  return liveText(path);
}

function paths() {
  const all = new Set(state.live ? Object.keys(state.live.files) : []);
  for (const p of state.draft.keys()) all.add(p);
  return [...all].sort();
}

function draftBody() {
  const files = {};
  for (const [p, t] of state.draft) files[p] = t;
  return { files, delete: [...state.deleted].sort() };
}

function changedCount() {
  return state.draft.size + state.deleted.size;
}

function setText(path, text) {
  if (text === liveText(path)) state.draft.delete(path);
  else state.draft.set(path, text);
  afterEdit();
}

function afterEdit() {
  const n = changedCount();
  // Each changed file was made from the version shown when it was first
  // changed: a rollout names it, so that the server can refuse to undo
  // someone else's change to that file made since.
  const changed = new Set([...state.draft.keys(), ...state.deleted]);
  for (const p of changed) if (!state.bases.has(p) && state.live) state.bases.set(p, state.live.hash);
  for (const p of [...state.bases.keys()]) if (!changed.has(p)) state.bases.delete(p);
  $("draft-state").textContent = n === 0 ? "no changes" : `${n} file(s) changed`;
  $("discard").disabled = n === 0;
  $("rollout").disabled = n === 0;
  renderFiles();
  scheduleCheck();
}

// ---- files and text --------------------------------------------------

function renderFiles() {
  const list = $("file-list");
  list.replaceChildren();
  const withErrors = new Set(state.problems.filter((d) => d.severity === "error").map((d) => d.file));
  for (const p of paths()) {
    const li = document.createElement("li");
    li.textContent = p;
    li.dataset.path = p;
    li.setAttribute("aria-current", String(p === state.current));
    if (state.deleted.has(p)) li.classList.add("deleted");
    if (withErrors.has(p)) li.classList.add("has-errors");
    if (state.draft.has(p) || state.deleted.has(p)) {
      const mark = document.createElement("span");
      mark.className = "mark";
      mark.textContent = liveText(p) === null ? "new" : state.deleted.has(p) ? "deleted" : "●";
      mark.title = "changed in the draft";
      li.append(mark);
    }
    li.addEventListener("click", () => open(p));
    list.append(li);
  }
}

function open(path) {
  state.current = path;
  const t = $("text");
  const text = textOf(path);
  t.value = text === null ? "" : text;
  t.disabled = state.deleted.has(path);
  t.scrollTop = 0;
  $("current-path").textContent = path;
  $("revert-file").disabled = false;
  $("delete-file").disabled = false;
  $("delete-file").textContent = state.deleted.has(path) ? "Restore file" : "Delete file";
  renderGutter();
  renderFiles();
}

function renderGutter() {
  const lines = $("text").value.split("\n").length;
  const errorLines = new Set(
    state.problems.filter((d) => d.file === state.current).map((d) => d.line),
  );
  let out = "";
  for (let i = 1; i <= lines; i++) out += (errorLines.has(i) ? "✖ " : "") + i + "\n";
  $("gutter").textContent = out;
  renderHighlight();
}

function showCursor() {
  const t = $("text");
  const before = t.value.slice(0, t.selectionStart);
  const line = before.split("\n").length;
  const col = before.length - before.lastIndexOf("\n");
  $("cursor").textContent = `line ${line}, col ${col}`;
}

/** Opens a file and selects a diagnostic's span. */
function reveal(d) {
  if (!paths().includes(d.file)) return;
  if (state.current !== d.file) open(d.file);
  const t = $("text");
  const offset = offsets(t.value);
  const start = offset(d.line, d.col);
  let end = offset(d.end_line || d.line, d.end_col || d.col);
  if (end <= start) end = offset(d.line + 1, 1) - 1;
  t.focus();
  t.setSelectionRange(start, Math.max(end, start));
  const row = parseFloat(getComputedStyle(t).lineHeight) || 19;
  t.scrollTop = Math.max(0, (d.line - 4) * row);
  renderGutter();
  showCursor();
}

// ---- highlighting ------------------------------------------------------

/** The language's reserved words (grammar/whistle.pest, `keyword`). */
const KEYWORDS = new Set(
  ("policy version effective timezone calendar levels department level external grades grade " +
    "respond resolve category lead assist when limits fallback empower relieve forbid escalate at " +
    "for remind notify raise to whistle threshold metric by over alert assess weight target test " +
    "event expect week holiday workday working and or not in has true false count repeats attr").split(" "),
);

/** Comments, strings, dates, times, numbers with their unit, and words. */
const TOKEN =
  /(#[^\n]*)|("(?:[^"\\\n]|\\.)*"?)|(\d{4}-\d{2}-\d{2}|\d{2}:\d{2}|\d+(?:\.\d+)?(?:%|[smhdw](?![\p{XID_Continue}]))?)|([\p{XID_Start}_][\p{XID_Continue}]*)/gu;

/** A function from a 1-based line and column of `text` to the offset
 * there (clamped to the text). */
function offsets(text) {
  const starts = [0];
  for (let i = 0; i < text.length; i++) if (text[i] === "\n") starts.push(i + 1);
  return (line, col) => Math.min((starts[line - 1] ?? text.length) + Math.max(col - 1, 0), text.length);
}

/** Offsets in `text` of each error of the open file, as [start, end). */
function errorRanges(text) {
  const at = offsets(text);
  return state.problems
    .filter((d) => d.severity === "error" && d.file === state.current)
    .map((d) => {
      const a = at(d.line, d.col);
      let b = at(d.end_line || d.line, d.end_col || d.col);
      // A span that points between characters (end of file, say) still
      // gets a mark: the character before it.
      if (b <= a) return [Math.max(0, a - 1), Math.max(a, 1)];
      return [a, b];
    });
}

/** Draws the open file's text, coloured, under the transparent text area. */
function renderHighlight() {
  const t = $("text");
  const text = t.value;
  const errors = errorRanges(text);
  const out = document.createDocumentFragment();
  const emit = (from, to, cls) => {
    // Split at the error ranges' edges so an error is marked inside a token.
    const cuts = new Set([from, to]);
    for (const [a, b] of errors) {
      if (a > from && a < to) cuts.add(a);
      if (b > from && b < to) cuts.add(b);
    }
    const points = [...cuts].sort((x, y) => x - y);
    for (let i = 0; i + 1 < points.length; i++) {
      const [a, b] = [points[i], points[i + 1]];
      const wrong = errors.some(([x, y]) => a < y && b > x);
      const piece = text.slice(a, b);
      if (!cls && !wrong) {
        out.append(piece);
      } else {
        const span = document.createElement("span");
        span.className = [cls, wrong ? "e" : ""].filter(Boolean).join(" ");
        span.textContent = piece;
        out.append(span);
      }
    }
  };
  let last = 0;
  for (const m of text.matchAll(TOKEN)) {
    const [whole, comment, string, number, word] = m;
    const cls = comment ? "c" : string ? "s" : number ? "n" : word && KEYWORDS.has(word) ? "k" : "";
    if (!cls && !errors.length) continue;
    emit(last, m.index, "");
    emit(m.index, m.index + whole.length, cls);
    last = m.index + whole.length;
  }
  emit(last, text.length, "");
  // The text area scrolls one line past a final newline; so must the copy.
  out.append("\n ");
  const h = $("highlight");
  h.replaceChildren(out);
  h.classList.toggle("deleted", t.disabled);
  syncScroll();
}

function syncScroll() {
  const t = $("text");
  $("highlight").scrollTop = t.scrollTop;
  $("highlight").scrollLeft = t.scrollLeft;
  $("gutter").scrollTop = t.scrollTop;
}

// ---- check, preview, rollout, versions -------------------------------

let checkTimer = null;
function scheduleCheck() {
  clearTimeout(checkTimer);
  checkTimer = setTimeout(() => check(false), 700);
}

async function check(manual) {
  clearTimeout(checkTimer);
  const body = draftBody();
  const key = JSON.stringify(body);
  let r;
  try {
    r = await api("POST", "/v1/policy/check", body);
  } catch (e) {
    say("Cannot reach the server: " + e.message, "error");
    return;
  }
  if (r.status !== 200) {
    say(failure("Check", r), "error");
    return;
  }
  // A later edit made this answer stale; its own check is on its way.
  if (key !== JSON.stringify(draftBody())) return;
  state.problems = r.body.diagnostics || [];
  state.checkedFor = key;
  renderProblems(r.body);
  renderDraftSummary(r.body);
  renderGutter();
  renderFiles();
  if (manual) {
    say(
      r.body.errors === 0 ? "Checked: no errors." : `Checked: ${r.body.errors} error(s).`,
      r.body.errors === 0 ? "ok" : "error",
    );
    if (r.body.errors > 0) selectTab("problems");
  }
}

function renderProblems(result) {
  const list = $("problem-list");
  list.replaceChildren();
  const { errors, warnings } = result;
  const failing = (result.tests && result.tests.failed) || [];
  const n = errors + warnings + failing.length;
  $("problem-count").textContent = n > 0 ? String(n) : "";
  const tests = failing.length > 0 ? `, ${failing.length} of the bundle's tests failing` : "";
  $("problem-summary").textContent =
    n === 0
      ? "No problems: the draft passes every check and every test."
      : `${errors} error(s), ${warnings} warning(s)${tests}. Click one to go to it.`;
  for (const d of state.problems) {
    const li = document.createElement("li");
    const sev = document.createElement("span");
    sev.className = d.severity;
    sev.textContent = `${d.severity}[${d.code}]`;
    li.append(`${d.file}:${d.line}:${d.col}: `, sev, `: ${d.message}`);
    li.title = "go to " + d.file + " line " + d.line;
    li.addEventListener("click", () => reveal(d));
    // The other places it names (the line it clashes with, say), each a
    // click away, and the hint on how to fix it.
    for (const l of d.labels || []) {
      const note = document.createElement("div");
      note.className = "note";
      note.textContent = `note: ${l.file}:${l.line}:${l.col}: ${l.message}`;
      note.title = "go to " + l.file + " line " + l.line;
      note.addEventListener("click", (e) => {
        e.stopPropagation();
        reveal({ file: l.file, line: l.line, col: l.col });
      });
      li.append(note);
    }
    if (d.help) {
      const help = document.createElement("div");
      help.className = "help";
      help.textContent = "help: " + d.help;
      li.append(help);
    }
    list.append(li);
  }
  // A test the draft breaks: the change may be right and the test out of
  // date, but either way it is said before the rollout.
  for (const t of failing) {
    const li = document.createElement("li");
    const sev = document.createElement("span");
    sev.className = "warning";
    sev.textContent = "test failed";
    li.append(`${t.location}: `, sev, `: ${t.name}`);
    const at = placeOf(t.location);
    if (at) {
      li.title = "go to " + at.file + " line " + at.line;
      li.addEventListener("click", () => reveal(at));
    }
    for (const f of t.failures) {
      const note = document.createElement("div");
      note.className = "note";
      note.textContent = f;
      li.append(note);
    }
    list.append(li);
  }
}

/** `file:line:col` as a place to reveal. */
function placeOf(location) {
  const m = /^(.*):(\d+):(\d+)$/.exec(location || "");
  return m ? { file: m[1], line: Number(m[2]), col: Number(m[3]) } : null;
}

function renderDraftSummary(result) {
  if (!result.draft) {
    $("changes-summary").textContent = "The draft has errors; fix them to see what it changes.";
    $("semantic").textContent = "";
    return;
  }
  const d = result.draft;
  $("changes-summary").textContent = d.same_as_live
    ? "The draft is the version in force."
    : `The draft would be ${d.hash}: ${d.changes} change(s) in meaning.`;
  $("semantic").textContent = d.changes > 0 ? d.summary : "";
}

/** When the server refused a draft for its errors (422 `policy_errors`),
 * shows them as the problems and says so; true if it did. */
function rejected(r, what) {
  const e = r.body && r.body.error;
  if (r.status !== 422 || !e || e.code !== "policy_errors" || !e.details) return false;
  state.problems = e.details.diagnostics || [];
  const errors = state.problems.filter((d) => d.severity === "error").length;
  renderProblems({ errors, warnings: state.problems.length - errors });
  renderGutter();
  renderFiles();
  selectTab("problems");
  say(failure(what, r), "error");
  return true;
}

async function preview() {
  const days = Number($("days").value);
  if (!Number.isInteger(days) || days < 1 || days > 3660) {
    say("The replay covers 1 to 3660 days.", "error");
    return;
  }
  say("Deciding the stored events of the last " + days + " days under both versions…");
  const r = await api("POST", "/v1/policy/preview", { ...draftBody(), days });
  if (rejected(r, "Preview")) return;
  if (r.status !== 200) {
    say(failure("Preview", r), "error");
    return;
  }
  renderImpact(r.body);
  selectTab("changes");
  say(`Previewed against ${r.body.events} stored event(s).`, "ok");
}

function cell(row, text, cls) {
  const td = document.createElement("td");
  td.textContent = text;
  if (cls) td.className = cls;
  row.append(td);
  return td;
}

/** Appends to `box` a titled table whose rows `row` builds from `items`
 * (nothing when there are none). */
function section(box, title, head, items, row) {
  if (items.length === 0) return;
  const h = document.createElement("h2");
  h.textContent = title;
  box.append(h, table(head, items.map(row)));
}

function table(head, rows) {
  const t = document.createElement("table");
  const tr = document.createElement("tr");
  for (const h of head) {
    const th = document.createElement("th");
    th.textContent = h;
    tr.append(th);
  }
  const thead = document.createElement("thead");
  thead.append(tr);
  const tbody = document.createElement("tbody");
  for (const r of rows) tbody.append(r);
  t.append(thead, tbody);
  return t;
}

function signed(n) {
  return n > 0 ? "+" + n : String(n);
}

function renderImpact(report) {
  const im = report.impact;
  const pct = im.events ? ((100 * im.changed) / im.events).toFixed(1) : "0.0";
  $("changes-summary").textContent =
    `${report.events} stored event(s) of the last ${report.days} days decided under both: ` +
    `${im.changed} (${pct}%) decided differently.`;
  $("semantic").textContent = report.summary;
  const box = $("impact");
  box.replaceChildren();
  const cats = im.categories.filter((c) => c.changed > 0);
  section(box, "Decided differently, by category", ["category", "events", "changed", "examples"], cats, (c) => {
    const tr = document.createElement("tr");
    cell(tr, c.category);
    cell(tr, String(c.events), "num");
    cell(tr, String(c.changed), "num");
    cell(
      tr,
      c.examples
        .slice(0, 3)
        .map((e) => `${e.event_id} ${e.field} ${e.old ?? "–"} → ${e.new ?? "–"}`)
        .join("; "),
    );
    return tr;
  });
  const deps = im.departments.filter(
    (d) => d.led.old !== d.led.new || d.assisted.old !== d.assisted.new || d.resolve_hours.old !== d.resolve_hours.new,
  );
  const head = ["department", "led", "change", "resolve hours", "assisted"];
  section(box, "Deadline load by department", head, deps, (d) => {
    const tr = document.createElement("tr");
    cell(tr, d.department);
    cell(tr, `${d.led.old} → ${d.led.new}`, "num");
    cell(tr, signed(d.led.new - d.led.old), d.led.new > d.led.old ? "num up" : "num down");
    cell(tr, `${d.resolve_hours.old.toFixed(1)} → ${d.resolve_hours.new.toFixed(1)}`, "num");
    cell(tr, `${d.assisted.old} → ${d.assisted.new}`, "num");
    return tr;
  });
}

async function rollout() {
  const n = changedCount();
  if (n === 0) return;
  if (!window.confirm(`Roll out ${n} changed file(s)? The server checks the draft again and makes it live.`)) return;
  say("Rolling out…");
  const r = await api("POST", "/v1/policy/rollout", { ...draftBody(), base: Object.fromEntries(state.bases) });
  if (rejected(r, "Not rolled out")) return;
  if (r.status === 409) {
    // Someone changed a file of this draft since it began: rolling out
    // would undo their change.
    say(
      failure("Not rolled out", r) +
        ' Press "Load it" (or reload the page), then "Revert file" on each of them and make your edit again.',
      "error",
    );
    await watchStatus();
    return;
  }
  if (r.status !== 200) {
    say(failure("Rollout", r), "error");
    return;
  }
  const out = r.body;
  state.draft.clear();
  state.deleted.clear();
  await loadLive(out.outcome === "applied" ? out.version.hash : out.hash);
  say(
    out.outcome === "applied"
      ? `Live now: ${out.version.hash} (was ${out.previous}).`
      : "The draft is the version already in force; nothing changed.",
    "ok",
  );
}

async function rollback(hash) {
  if (!window.confirm(`Make ${hash} the version in force again?`)) return;
  const path = "/v1/policy/rollback/" + encodeURIComponent(hash);
  let r = await api("POST", path);
  if (r.status === 409) {
    // Bundle files on disk that never went live would be overwritten.
    const msg = (r.body && r.body.error && r.body.error.message) || "";
    if (!window.confirm(`${msg}\n\nRoll back anyway and lose those files?`)) {
      say("Not rolled back: the bundle on disk holds changes that are not live.", "error");
      return;
    }
    r = await api("POST", path + "?discard=true");
  }
  if (r.status !== 200) {
    say(failure("Rollback", r), "error");
    return;
  }
  if (changedCount() > 0 && !window.confirm("Keep your unsaved draft on top of the rolled-back version?")) {
    state.draft.clear();
    state.deleted.clear();
  }
  await loadLive(hash);
  say(`Rolled back: ${hash} is in force.`, "ok");
}

async function loadVersions() {
  const r = await api("GET", "/v1/policy/versions");
  if (r.status !== 200) {
    say(failure("Versions", r), "error");
    return;
  }
  const body = $("version-list");
  body.replaceChildren();
  for (const v of r.body.versions) {
    const tr = document.createElement("tr");
    cell(tr, v.activated_at.replace("T", " ").replace(/\.\d+/, ""));
    cell(tr, v.by);
    const code = document.createElement("code");
    code.textContent = v.hash.slice(0, 19) + "…";
    code.title = v.hash;
    cell(tr, "").append(code);
    cell(tr, v.summary);
    const td = cell(tr, "");
    if (v.active) {
      td.textContent = "in force";
    } else if (state.live && v.hash === state.live.hash) {
      td.textContent = "same as in force";
    } else {
      const b = document.createElement("button");
      b.type = "button";
      b.textContent = "Roll back 回滚";
      b.addEventListener("click", () => rollback(v.hash));
      td.append(b);
    }
    body.append(tr);
  }
}

// ---- simulation --------------------------------------------------------

/** Numbers as the terminal summary of `whistle simulate` prints them. */
function measure(x, unit) {
  if (x === null) return "—"; // nothing to measure (a share of no events)
  if (unit === "%") return x.toFixed(2) + "%";
  if (unit === "h") return x.toFixed(2) + " h";
  return Number.isInteger(x) ? String(x) : x.toFixed(2);
}

function difference(x, unit) {
  if (x === null) return "—";
  const sign = x > 0 ? "+" : "";
  if (unit === "%") return sign + x.toFixed(2) + " pp";
  if (unit === "h") return sign + x.toFixed(2) + " h";
  return sign + (Number.isInteger(x) ? String(x) : x.toFixed(2));
}

function optionalNumber(id, what) {
  const raw = $(id).value.trim();
  if (raw === "") return { ok: true, value: undefined };
  const n = Number(raw);
  if (!Number.isFinite(n) || n < 0) return { ok: false, error: `${what} is a number, not ${raw}` };
  return { ok: true, value: n };
}

async function simulate() {
  const scenario = $("scenario").value;
  if (scenario.trim() === "") {
    say("Paste a scenario or choose its file first.", "error");
    return;
  }
  const events = optionalNumber("sim-events", "the number of events");
  const seed = optionalNumber("sim-seed", "the seed");
  for (const o of [events, seed]) {
    if (!o.ok) {
      say(o.error, "error");
      return;
    }
  }
  const body = { ...draftBody(), scenario };
  if (events.value !== undefined) body.events = events.value;
  if (seed.value !== undefined) body.seed = seed.value;
  const r = await api("POST", "/v1/simulate", body);
  if (rejected(r, "Not simulated")) return;
  if (r.status !== 202) {
    const details = r.body && r.body.error && r.body.error.details && r.body.error.details.errors;
    const where = details ? " — " + details.map((e) => `${e.path}: ${e.message}`).join("; ") : "";
    say(failure("Not simulated", r) + where, "error");
    return;
  }
  $("simulate").disabled = true;
  $("sim-table").hidden = true;
  $("sim-download").hidden = true;
  $("sim-progress").hidden = false;
  $("sim-summary").textContent = "";
  say(`Simulation job ${r.body.job} started.`);
  follow(r.body.job);
}

/** Polls a job until it ends; the bar shows both runs' mean progress. */
async function follow(job) {
  let r;
  try {
    r = await api("GET", "/v1/simulate/" + encodeURIComponent(job));
  } catch (e) {
    setTimeout(() => follow(job), 1000);
    return;
  }
  const b = r.body || {};
  if (r.status === 200 && b.status === "running") {
    $("sim-bar").value = b.fraction;
    $("sim-progress-text").textContent = `${Math.round(b.fraction * 100)}% · ${b.events} events simulated`;
    setTimeout(() => follow(job), 500);
    return;
  }
  $("simulate").disabled = false;
  $("sim-progress").hidden = true;
  if (r.status !== 200 || b.status !== "done") {
    say(r.status === 200 ? `Simulation job ${job} failed: ${b.error}` : failure("Simulation", r), "error");
    return;
  }
  renderSimulation(job, b.report);
  $("sim-summary").scrollIntoView({ block: "start" });
  say(`Simulation job ${job} done.`, "ok");
}

function renderSimulation(job, report) {
  const sc = report.scenario;
  $("sim-summary").textContent =
    `${sc.name}: ${sc.from} to ${sc.to}, seed ${sc.seed}, ${sc.grids} grids. ` +
    "Both versions handled the very same events.";
  const rows = $("sim-rows");
  rows.replaceChildren();
  for (const m of report.summary) {
    const tr = document.createElement("tr");
    cell(tr, m.label);
    cell(tr, m.baseline === undefined ? "" : measure(m.baseline, m.unit), "num");
    cell(tr, measure(m.draft, m.unit), "num");
    let cls = "num";
    if (m.delta !== undefined && m.delta !== null && m.delta !== 0) {
      const worse = m.lower_is_better ? m.delta > 0 : m.delta < 0;
      cls += worse ? " up" : " down";
    }
    cell(tr, m.delta === undefined ? "" : difference(m.delta, m.unit), cls);
    rows.append(tr);
  }
  $("sim-table").hidden = false;
  const dl = $("sim-download");
  dl.hidden = false;
  dl.onclick = () => download(job);
}

/** Saves the report page; it is fetched with the token, so a plain link
 * would not do. */
async function download(job) {
  const headers = {};
  if (token()) headers.authorization = "Bearer " + token();
  const res = await fetch(`/v1/simulate/${encodeURIComponent(job)}/report.html`, { headers });
  if (!res.ok) {
    say(`Downloading the report: HTTP ${res.status}`, "error");
    return;
  }
  const url = URL.createObjectURL(await res.blob());
  const a = document.createElement("a");
  a.href = url;
  a.download = `simulation-${job}.html`;
  document.body.append(a);
  a.click();
  a.remove();
  setTimeout(() => URL.revokeObjectURL(url), 10000);
}

function loadScenarioFile() {
  const f = $("scenario-file").files[0];
  if (!f) return;
  const reader = new FileReader();
  reader.onload = () => {
    $("scenario").value = String(reader.result);
  };
  reader.onerror = () => say("Cannot read " + f.name, "error");
  reader.readAsText(f);
}

// ---- the version in force --------------------------------------------

async function loadLive(expected) {
  let r;
  try {
    r = await api("GET", "/v1/policy");
  } catch (e) {
    say("Cannot reach the server: " + e.message, "error");
    return;
  }
  if (r.status !== 200) {
    $("policy-name").textContent = "—";
    say(failure("Reading the policy", r), "error");
    return;
  }
  const hash = expected || r.body.hash;
  const v = await api("GET", "/v1/policy/versions/" + encodeURIComponent(hash));
  if (v.status !== 200) {
    say(failure("Reading the files", v), "error");
    return;
  }
  state.live = { hash: v.body.hash, name: r.body.name, version: r.body.version, files: v.body.files };
  // Edits that now match the version in force are no longer changes.
  for (const [p, t] of [...state.draft]) if (t === liveText(p)) state.draft.delete(p);
  for (const p of [...state.deleted]) if (liveText(p) === null) state.deleted.delete(p);
  $("policy-name").textContent = `${r.body.name} · ${r.body.version}`;
  $("live-hash").textContent = state.live.hash;
  hideBanner();
  const first = state.current && textOf(state.current) !== null ? state.current : paths()[0];
  if (first) open(first);
  afterEdit();
  await loadVersions();
}

function hideBanner() {
  $("banner").hidden = true;
}

function showBanner(text, action, onAction, error) {
  $("banner").hidden = false;
  $("banner").classList.toggle("error", !!error);
  $("banner-text").textContent = text;
  const b = $("banner-action");
  b.hidden = !action;
  b.textContent = action || "";
  b.onclick = onAction || null;
}

/** Someone else may change the policy (a file saved in the bundle, another
 * officer): say so rather than let this page roll out over it unseen. */
async function watchStatus() {
  if (!state.live) return;
  let r;
  try {
    r = await api("GET", "/v1/policy/status");
  } catch (_) {
    showBanner("The server does not answer.", null, null, true);
    return;
  }
  if (r.status !== 200) return;
  const last = r.body.last_reload;
  if (r.body.active !== state.live.hash) {
    showBanner(
      `Another version went live: ${r.body.active}. Your draft is kept.`,
      "Load it",
      () => loadLive(),
    );
  } else if (last && last.outcome === "rejected") {
    showBanner(
      `The bundle on disk has ${last.errors} error(s) and was not loaded; the version shown is still in force.`,
      null,
      null,
      true,
    );
  } else {
    hideBanner();
  }
}

// ---- tabs, keys, wiring ----------------------------------------------

function selectTab(name) {
  for (const b of document.querySelectorAll(".tabs button")) {
    b.setAttribute("aria-selected", String(b.dataset.tab === name));
  }
  for (const t of ["problems", "changes", "versions", "simulate"]) $("tab-" + t).hidden = t !== name;
  if (name === "versions") loadVersions();
}

function newFile() {
  const p = window.prompt("Path of the new file inside the bundle, for example categories/roads.whistle");
  if (!p) return;
  const path = p.trim().replace(/^\.?\//, "");
  if (paths().includes(path)) {
    open(path);
    return;
  }
  state.draft.set(path, "");
  state.deleted.delete(path);
  afterEdit();
  open(path);
}

function revertFile() {
  const p = state.current;
  if (!p) return;
  state.draft.delete(p);
  state.deleted.delete(p);
  if (liveText(p) === null) {
    state.current = null;
    const first = paths()[0];
    if (first) open(first);
  } else {
    open(p);
  }
  afterEdit();
}

function toggleDelete() {
  const p = state.current;
  if (!p) return;
  if (liveText(p) === null) {
    // A file only the draft has: deleting it is forgetting it.
    revertFile();
    return;
  }
  if (state.deleted.has(p)) state.deleted.delete(p);
  else state.deleted.add(p);
  open(p);
  afterEdit();
}

function discard() {
  if (!window.confirm("Forget every change in the draft?")) return;
  state.draft.clear();
  state.deleted.clear();
  if (state.current) open(state.current);
  afterEdit();
}

function wire() {
  const t = $("text");
  $("token").value = sessionStorage.getItem("whistle-token") || "";
  $("token").addEventListener("change", () => {
    sessionStorage.setItem("whistle-token", token());
    say("");
    loadLive().then(() => check(false));
  });
  t.addEventListener("input", () => {
    if (state.current) setText(state.current, t.value);
    renderGutter();
    showCursor();
  });
  t.addEventListener("scroll", syncScroll);
  t.addEventListener("keyup", showCursor);
  t.addEventListener("click", showCursor);
  t.addEventListener("keydown", (e) => {
    if (e.key === "Tab" && !e.shiftKey && !e.ctrlKey && !e.altKey && !e.metaKey) {
      // The language indents by two spaces; a tab would leave the page.
      e.preventDefault();
      t.setRangeText("  ", t.selectionStart, t.selectionEnd, "end");
      t.dispatchEvent(new Event("input"));
    }
  });
  document.addEventListener("keydown", (e) => {
    if ((e.ctrlKey || e.metaKey) && e.key === "s") {
      e.preventDefault();
      check(true);
    }
  });
  $("check").addEventListener("click", () => check(true));
  $("preview").addEventListener("click", preview);
  $("rollout").addEventListener("click", rollout);
  $("discard").addEventListener("click", discard);
  $("new-file").addEventListener("click", newFile);
  $("simulate").addEventListener("click", simulate);
  $("scenario-file").addEventListener("change", loadScenarioFile);
  $("revert-file").addEventListener("click", revertFile);
  $("delete-file").addEventListener("click", toggleDelete);
  for (const b of document.querySelectorAll(".tabs button")) {
    b.addEventListener("click", () => selectTab(b.dataset.tab));
  }
  window.addEventListener("beforeunload", (e) => {
    if (changedCount() > 0) e.preventDefault();
  });
  setInterval(watchStatus, 3000);
}

wire();
loadLive().then(() => check(false));
