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
  lastCheck: null, // the last check's answer, for the draft `checkedFor`
  busy: false, // a rollout or rollback is on its way: nothing may change
  simulating: false, // a simulation job runs
  bases: new Map(), // path → the version in force when the draft first changed it
  previewedFor: null, // the version and draft the impact shown belongs to
  previewMessage: null, // the message that said so
  disk: false, // the bundle on disk was saved outside the editor and refused
  unreachable: false, // the server did not answer the last status request
  who: null, // { token, roles, open } from /v1/whoami; null while not known
};

const $ = (id) => document.getElementById(id);

// ---- talking to the server -------------------------------------------

function token() {
  return $("token").value.trim();
}

/** Calls the API; resolves to { status, body, officer } and never throws:
 * an HTTP error is a status for the caller to show, and a network failure
 * (the server stopped, the network down) is status 0. `officer` says
 * whether the endpoint wants an officer's token (the ones that POST). */
async function api(method, path, body) {
  const headers = { accept: "application/json" };
  if (token()) headers.authorization = "Bearer " + token();
  if (body !== undefined) headers["content-type"] = "application/json";
  const officer = method === "POST";
  let res;
  try {
    res = await fetch(path, {
      method,
      headers,
      body: body === undefined ? undefined : JSON.stringify(body),
    });
  } catch (_) {
    return { status: 0, body: null, officer };
  }
  let data = null;
  try {
    data = await res.json();
  } catch (_) {
    data = null;
  }
  return { status: res.status, body: data, officer };
}

/** `text` as a sentence: a capital first letter and a final stop. */
function sentence(text) {
  const t = text.trim();
  if (t === "") return t;
  const first = t[0].toUpperCase() + t.slice(1);
  return /[.!?…]$/.test(first) ? first : first + ".";
}

/** Why a request failed, in words for an officer: `outcome` says what did
 * not happen ("Not rolled out"), then the reason. */
function failure(outcome, r) {
  const e = r.body && r.body.error;
  let why;
  if (r.status === 0) {
    why = "the server cannot be reached (it may be stopped, or the network is down)";
  } else if (r.status === 401) {
    why = token()
      ? "the server refused the token; check the token at the top right"
      : r.officer
        ? "this action needs an officer's token; enter it at the top right"
        : "this needs a token; enter it at the top right";
  } else if (r.status === 403) {
    const m = /token `(.*)` lacks the `(.*)` role/.exec((e && e.message) || "");
    why = m
      ? `your token (${m[1]}) lacks the ${m[2]} role this needs; enter an officer's token at the top right`
      : "your token lacks the role this needs; enter an officer's token at the top right";
  } else {
    why = (e && e.message) || "the server answered HTTP " + r.status;
  }
  return sentence(`${outcome}: ${why}`);
}

function say(text, kind) {
  const m = $("message");
  m.textContent = text;
  m.className = kind || "";
}

/** While a rollout or rollback is on its way nothing may change the draft
 * (its answer replaces the draft) and no action may start. */
function setBusy(on) {
  state.busy = on;
  document.body.classList.toggle("busy", on);
  $("text").readOnly = on;
  renderButtons();
}

/** Whether the token may check, preview, roll out, roll back and
 * simulate: an officer's, or one not known yet (the server then says). */
function mayChange() {
  return !state.who || state.who.roles.includes("officer");
}

/** Why an officer's action is greyed out, for its tooltip. */
const NEEDS_OFFICER = "needs an officer's token (enter it at the top right)";

/** Enables each button as the state allows. */
function renderButtons() {
  const busy = state.busy;
  const n = changedCount();
  const officer = mayChange();
  for (const id of ["new-file", "banner-action", "token"]) $(id).disabled = busy;
  $("discard").disabled = busy || n === 0;
  $("revert-file").disabled = busy || !state.current;
  $("delete-file").disabled = busy || !state.current;
  // A viewer may draft and read, but every request that checks or changes
  // the policy would be refused: those buttons say so instead.
  const guarded = [
    ["check", busy],
    ["preview", busy],
    ["rollout", busy || n === 0],
    ["simulate", busy || state.simulating],
  ].map(([id, off]) => [$(id), off]);
  for (const b of document.querySelectorAll("#version-list button")) guarded.push([b, busy]);
  for (const [b, off] of guarded) {
    b.disabled = off || !officer;
    if (officer) b.removeAttribute("title");
    else b.title = NEEDS_OFFICER;
  }
}

/** Asks the server who the token is, shows it beside the token field and
 * greys out what it may not do. */
async function whoami() {
  const r = await api("GET", "/v1/whoami");
  state.who = r.status === 200 && r.body && Array.isArray(r.body.roles) ? r.body : null;
  const who = $("who");
  if (!state.who || state.who.open) {
    who.textContent = "";
  } else {
    const roles = state.who.roles.join(", ") || "no role";
    who.textContent = mayChange()
      ? `${state.who.token} (${roles})`
      : `${state.who.token} (${roles}): read only; checks, previews, rollouts and rollbacks need an officer's token`;
  }
  renderButtons();
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
  renderButtons();
  if (state.previewedFor !== null && state.previewedFor !== previewKey()) clearImpact();
  renderFiles();
  scheduleCheck();
}

/** What a preview's impact belongs to: the version in force and the draft. */
function previewKey() {
  return JSON.stringify([state.live && state.live.hash, draftBody()]);
}

/** Forgets an impact report the draft has moved on from. */
function clearImpact() {
  state.previewedFor = null;
  $("impact").replaceChildren();
  $("changes-summary").textContent = "The draft changed since its preview: preview it again to see its impact.";
  $("semantic").textContent = "";
  if (state.previewMessage !== null && $("message").textContent === state.previewMessage) say("");
  state.previewMessage = null;
}

// ---- files and text --------------------------------------------------

/** Makes a list entry reachable with Tab and opened with Enter or Space,
 * as a click opens it. */
function activatable(el, action) {
  el.tabIndex = 0;
  el.addEventListener("click", action);
  el.addEventListener("keydown", (e) => {
    if (e.target !== el || e.ctrlKey || e.altKey || e.metaKey) return;
    if (e.key === "Enter" || e.key === " ") {
      e.preventDefault();
      action(e);
    }
  });
}

function renderFiles() {
  const list = $("file-list");
  // The list is drawn anew: the entry that had the keyboard keeps it.
  const had = list.contains(document.activeElement) ? document.activeElement.dataset.path : null;
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
    activatable(li, () => open(p));
    list.append(li);
    if (p === had) li.focus();
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
  $("delete-file").textContent = state.deleted.has(path) ? "Restore file" : "Delete file";
  renderButtons();
  renderGutter();
  renderFiles();
}

function renderGutter() {
  const lines = $("text").value.split("\n").length;
  // An error's line gets ✖, a warning's (and no error's) ⚠.
  const marks = new Map();
  for (const d of state.problems) {
    if (d.file !== state.current) continue;
    if (d.severity === "error" || !marks.has(d.line)) marks.set(d.line, d.severity === "error" ? "✖ " : "⚠ ");
  }
  let out = "";
  for (let i = 1; i <= lines; i++) out += (marks.get(i) || "") + i + "\n";
  $("gutter").textContent = out;
  renderHighlight();
}

function showCursor() {
  const t = $("text");
  const before = t.value.slice(0, t.selectionStart);
  const line = before.split("\n").length;
  // Columns count characters, as the server's do (not UTF-16 units).
  const col = [...before.slice(before.lastIndexOf("\n") + 1)].length + 1;
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
  if (onDisk(d.file)) {
    say(
      `${d.file} as saved on disk is not the text shown here: the place selected may not be where the problem is. ` +
        "Open the file on disk to see it.",
      "error",
    );
  }
}

/** Whether a problem in `path` was found in the file as saved on disk,
 * which may not be the text shown: the bundle on disk was changed outside
 * the editor and refused, and the draft does not replace this file. */
function onDisk(path) {
  return state.disk && !state.draft.has(path);
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
 * there (clamped to the text). The server counts columns in characters
 * (Unicode scalar values); a string's offsets count UTF-16 units, two for
 * a character beyond U+FFFF (𠮷, most emoji). */
function offsets(text) {
  const starts = [0];
  for (let i = 0; i < text.length; i++) if (text[i] === "\n") starts.push(i + 1);
  return (line, col) => {
    let at = starts[line - 1] ?? text.length;
    for (let k = 1; k < col && at < text.length; k++) at += text.codePointAt(at) > 0xffff ? 2 : 1;
    return Math.min(at, text.length);
  };
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

/** Checks the draft and shows what the check found; resolves to the
 * answer, or null when there is none for the draft as it is now. */
async function check(manual) {
  clearTimeout(checkTimer);
  if (!mayChange()) {
    // Asking would only be refused, at every edit.
    notChecked(
      `Not checked: your token (${state.who.token}) lacks the officer role a check needs; enter an officer's token at the top right.`,
    );
    return null;
  }
  const body = draftBody();
  const key = JSON.stringify(body);
  const r = await api("POST", "/v1/policy/check", body);
  // A later edit made this answer stale; its own check is on its way.
  if (key !== JSON.stringify(draftBody())) return null;
  if (r.status !== 200) {
    notChecked(failure("Not checked", r));
    return null;
  }
  state.problems = r.body.diagnostics || [];
  state.checkedFor = key;
  state.lastCheck = r.body;
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
  return r.body;
}

/** A check that did not run: what an earlier one found no longer
 * describes the draft, so it goes, and the reason takes its place. */
function notChecked(why) {
  state.problems = [];
  state.checkedFor = null;
  state.lastCheck = null;
  $("problem-list").replaceChildren();
  $("problem-count").textContent = "";
  $("problem-summary").textContent = why + " Nothing is known about the draft's problems until a check runs.";
  $("changes-summary").textContent = "Not checked: what the draft changes is not known.";
  $("semantic").textContent = "";
  renderGutter();
  renderFiles();
  say(why, "error");
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
      : `${errors} error(s), ${warnings} warning(s)${tests}. Click one (or Enter) to go to it.`;
  for (const d of state.problems) {
    const li = document.createElement("li");
    const sev = document.createElement("span");
    sev.className = d.severity;
    sev.textContent = `${d.severity}[${d.code}]`;
    li.append(`${d.file}:${d.line}:${d.col}: `, sev, `: ${d.message}`);
    li.title = "go to " + d.file + " line " + d.line;
    if (onDisk(d.file)) {
      // The server checked the bundle on disk, where someone saved this
      // file outside the editor: its lines are not the ones shown.
      const where = document.createElement("div");
      where.className = "disk";
      where.textContent =
        `in ${d.file} as saved on disk, not the text shown here: the bundle on disk was changed ` +
        "outside the editor and not loaded, so this line and column may not match what you see.";
      li.append(where);
      li.title = "in the file as saved on disk; the text shown may differ";
    }
    activatable(li, () => reveal(d));
    // The other places it names (the line it clashes with, say), each a
    // click away, and the hint on how to fix it.
    for (const l of d.labels || []) {
      const note = document.createElement("div");
      note.className = "note";
      note.textContent = `note: ${l.file}:${l.line}:${l.col}: ${l.message}`;
      note.title = "go to " + l.file + " line " + l.line;
      activatable(note, (e) => {
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
      activatable(li, () => reveal(at));
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
  state.checkedFor = null;
  state.lastCheck = null;
  const errors = state.problems.filter((d) => d.severity === "error").length;
  renderProblems({ errors, warnings: state.problems.length - errors });
  renderGutter();
  renderFiles();
  selectTab("problems");
  say(failure(what, r), "error");
  return true;
}

async function preview() {
  if (state.busy) return;
  const days = Number($("days").value);
  if (!Number.isInteger(days) || days < 1 || days > 3660) {
    say("The replay covers 1 to 3660 days.", "error");
    return;
  }
  say("Deciding the stored events of the last " + days + " days under both versions…");
  const key = previewKey();
  const r = await api("POST", "/v1/policy/preview", { ...draftBody(), days });
  if (rejected(r, "Not previewed")) return;
  if (r.status !== 200) {
    say(failure("Not previewed", r), "error");
    return;
  }
  if (key !== previewKey()) {
    say("The draft changed while its preview ran: preview it again.", "error");
    return;
  }
  renderImpact(r.body);
  state.previewedFor = key;
  selectTab("changes");
  state.previewMessage = `Previewed against ${r.body.events} stored event(s).`;
  say(state.previewMessage, "ok");
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

/** What the confirmation of a rollout says about the draft: the
 * errors, warnings and failing tests of its check (run now if the last
 * one is not of this draft). */
async function findings() {
  let c = state.checkedFor === JSON.stringify(draftBody()) ? state.lastCheck : null;
  if (!c) {
    say("Checking the draft before its rollout…");
    c = await check(false);
  }
  if (!c) return "\n\nThe draft could not be checked: " + $("message").textContent;
  const out = [];
  if (c.errors > 0) out.push(`It has ${c.errors} error(s): the server will refuse it.`);
  if (c.warnings > 0) out.push(`It has ${c.warnings} warning(s).`);
  const failing = (c.tests && c.tests.failed) || [];
  if (failing.length > 0) {
    const names = failing.slice(0, 5).map((t) => "  • " + t.name);
    if (failing.length > 5) names.push(`  • and ${failing.length - 5} more`);
    out.push(`${failing.length} of the bundle's tests fail with it:\n${names.join("\n")}`);
  }
  if (out.length === 0) out.push("Its check found no problems and every test passes.");
  return "\n\n" + out.join("\n\n");
}

async function rollout() {
  const n = changedCount();
  if (n === 0 || state.busy) return;
  // Nothing may change from here to the answer: the answer replaces the
  // draft, and a second click would send it twice.
  setBusy(true);
  try {
    const found = await findings();
    if (!window.confirm(`Roll out ${n} changed file(s)? The server checks the draft again and makes it live.${found}`)) {
      say("Rollout cancelled; nothing was sent.");
      return;
    }
    say("Rolling out…");
    const sent = draftBody();
    const r = await api("POST", "/v1/policy/rollout", { ...sent, base: Object.fromEntries(state.bases) });
    if (rejected(r, "Not rolled out")) return;
    if (r.status === 409) {
      await conflict(r);
      return;
    }
    if (r.status === 0) {
      say(
        "Rollout: the server could not be reached, so whether the draft went live is not known. " +
          "Your draft is kept; the banner says when the server answers again.",
        "error",
      );
      return;
    }
    if (r.status !== 200) {
      say(failure("Not rolled out", r), "error");
      return;
    }
    const out = r.body;
    const hash = out.outcome === "applied" ? out.version.hash : out.hash;
    // What went live leaves the draft. Nothing else can be in it (the
    // page was locked), but should something be, it is kept, made on the
    // version now live.
    for (const [p, t] of Object.entries(sent.files)) {
      if (state.draft.get(p) === t) state.draft.delete(p);
      else if (state.draft.has(p)) state.bases.set(p, hash);
    }
    for (const p of sent.delete) state.deleted.delete(p);
    const loaded = await loadLive(hash);
    const done =
      out.outcome === "applied"
        ? `Live now: ${out.version.hash} (was ${out.previous}).`
        : "The draft is the version already in force; nothing changed.";
    if (loaded) say(done, "ok");
    else say(done + " " + $("message").textContent, "error");
  } finally {
    setBusy(false);
  }
}

/** A rollout refused because a file of the draft changed since the draft
 * was made (409): says which, and what to do with the buttons on screen. */
async function conflict(r) {
  const e = (r.body && r.body.error) || {};
  const files = (e.details && e.details.files) || [];
  const st = await api("GET", "/v1/policy/status");
  const moved = st.status === 200 && state.live && st.body.active !== state.live.hash;
  let todo;
  if (moved) {
    showBanner(`Another version went live: ${st.body.active}. Your draft is kept.`, "Load it", loadNewer);
    todo = 'Press "Load it" above; then';
  } else if (st.status !== 200) {
    todo = "Reload the page (your draft is lost with it); then";
  } else {
    todo = "The page shows the version in force:";
  }
  const them = files.length === 1 ? "that file" : "each of those files";
  say(
    `${failure("Not rolled out", r)} ${todo} open ${them}, copy your edit aside, press "Revert file" ` +
      "(above the text) and make your edit again on the version in force.",
    "error",
  );
}

async function rollback(hash) {
  if (state.busy) return;
  // A rollback replaces every file: a draft made on the version in force
  // would carry that version's texts back over the rollback. Dismissing
  // the question keeps everything as it is.
  const n = changedCount();
  const question =
    n > 0
      ? `Discard your unsaved draft (${n} changed file(s)) and make ${hash} the version in force again?`
      : `Make ${hash} the version in force again?`;
  if (!window.confirm(question)) return;
  setBusy(true);
  try {
    say("Rolling back…");
    const path = "/v1/policy/rollback/" + encodeURIComponent(hash);
    let r = await api("POST", path);
    if (r.status === 409) {
      // Bundle files on disk that never went live would be overwritten.
      const e = (r.body && r.body.error) || {};
      const files = (e.details && e.details.files) || [];
      const which = files.length > 0 ? files.join(", ") : "Some files of the bundle";
      const one = files.length === 1;
      const ask =
        `${which} on disk ${one ? "is" : "are"} not the version in force: a save that was refused, ` +
        `or work in progress. Rolling back overwrites or removes ${one ? "it" : "them"}.\n\n` +
        `Roll back anyway and lose ${one ? "that file" : "those files"} as saved?`;
      if (!window.confirm(ask)) {
        say(`Not rolled back: ${which} on disk ${one ? "holds" : "hold"} changes that are not live.`, "error");
        return;
      }
      r = await api("POST", path + "?discard=true");
    }
    if (r.status !== 200) {
      say(failure("Not rolled back", r), "error");
      return;
    }
    state.draft.clear();
    state.deleted.clear();
    if (await loadLive(hash)) say(`Rolled back: ${hash} is in force.`, "ok");
  } finally {
    setBusy(false);
  }
}

async function loadVersions() {
  const r = await api("GET", "/v1/policy/versions");
  if (r.status !== 200) {
    say(failure("The version list cannot be shown", r), "error");
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
      b.disabled = state.busy || !mayChange();
      if (!mayChange()) b.title = NEEDS_OFFICER;
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
  if (state.busy || state.simulating) return;
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
    // The message names each mistake of a scenario; the details repeat
    // them one by one, and only one it does not name is added.
    const e = r.body && r.body.error;
    const msg = (e && e.message) || "";
    const extra = ((e && e.details && e.details.errors) || []).filter((x) => !msg.includes(x.message));
    const where = extra.length > 0 ? " " + sentence(extra.map((x) => `${x.path}: ${x.message}`).join("; ")) : "";
    say(failure("Not simulated", r) + where, "error");
    return;
  }
  state.simulating = true;
  renderButtons();
  $("sim-table").hidden = true;
  $("sim-download").hidden = true;
  $("sim-progress").hidden = false;
  $("sim-summary").textContent = "";
  say(`Simulation job ${r.body.job} started.`);
  follow(r.body.job);
}

/** Polls a job until it ends; the bar shows both runs' mean progress. */
async function follow(job) {
  const r = await api("GET", "/v1/simulate/" + encodeURIComponent(job));
  if (r.status === 0) {
    // The server may be restarting: keep asking.
    $("sim-progress-text").textContent = "the server cannot be reached; asking again…";
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
  state.simulating = false;
  renderButtons();
  $("sim-progress").hidden = true;
  if (r.status !== 200 || b.status !== "done") {
    say(
      r.status === 200 ? sentence(`Simulation job ${job} failed: ${b.error}`) : failure(`Simulation job ${job}`, r),
      "error",
    );
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
  let res;
  let blob;
  try {
    res = await fetch(`/v1/simulate/${encodeURIComponent(job)}/report.html`, { headers });
    if (res.ok) blob = await res.blob();
  } catch (_) {
    say(failure("The report was not downloaded", { status: 0 }), "error");
    return;
  }
  if (!res.ok) {
    say(failure("The report was not downloaded", { status: res.status, body: null }), "error");
    return;
  }
  const url = URL.createObjectURL(blob);
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

/** Loads the version in force (or `expected`, the one a rollout or
 * rollback just made live) and its files; the draft stays on top.
 * Resolves to whether it did. */
async function loadLive(expected) {
  await whoami();
  const r = await api("GET", "/v1/policy");
  if (r.status !== 200) {
    if (!state.live) $("policy-name").textContent = "—";
    say(failure("The policy in force cannot be shown", r), "error");
    return false;
  }
  const hash = expected || r.body.hash;
  const v = await api("GET", "/v1/policy/versions/" + encodeURIComponent(hash));
  if (v.status !== 200) {
    say(failure("The files of the version in force cannot be shown", v), "error");
    return false;
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
  await watchStatus();
  return true;
}

/** "Load it": the version that went live meanwhile, the draft on top;
 * what was said about the older one no longer holds. */
async function loadNewer() {
  if (await loadLive()) say("Loaded the version in force now; your draft is kept on top of it.", "ok");
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
  // A rollout or rollback on its way makes a version live that the page
  // has not loaded yet: not someone else's.
  if (!state.live || state.busy) return;
  const r = await api("GET", "/v1/policy/status");
  if (r.status === 0) {
    state.unreachable = true;
    showBanner("The server does not answer: nothing can be checked or rolled out until it does.", null, null, true);
    return;
  }
  if (r.status !== 200) return;
  if (state.unreachable) {
    // Back: what failed meanwhile can be done again, and the draft is
    // checked again.
    state.unreachable = false;
    say("The server answers again.", "ok");
    scheduleCheck();
  }
  const last = r.body.last_reload;
  const disk = r.body.active === state.live.hash && !!last && last.outcome === "rejected";
  if (disk !== state.disk) {
    // Problems found in files as saved on disk are marked as such; and
    // what is on disk changed, so the draft is checked again.
    state.disk = disk;
    if (state.lastCheck) renderProblems(state.lastCheck);
    scheduleCheck();
  }
  if (r.body.active !== state.live.hash) {
    showBanner(
      `Another version went live: ${r.body.active}. Your draft is kept.`,
      "Load it",
      loadNewer,
    );
  } else if (disk) {
    showBanner(
      `The bundle on disk has ${last.errors} error(s) and was not loaded; the version shown is still in force. ` +
        "Problems found in files as saved on disk say so.",
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

/** The path a new file may have, as the server checks a draft's paths
 * (server/src/reload/files.rs, `checked_path`): { path } normalised with
 * `/`, or { error } saying why the server would refuse it. */
function bundlePath(raw) {
  const bytes = (x) => new TextEncoder().encode(x).length;
  if (raw === "") return { error: "an empty path" };
  if (raw.includes("\0")) return { error: `\`${raw}\` holds a NUL character` };
  if (raw.includes("\\")) return { error: `\`${raw}\`: use \`/\` between folders` };
  if (bytes(raw) > 1024) return { error: `a bundle path is at most 1024 bytes; this one is ${bytes(raw)}` };
  if (raw.startsWith("/")) {
    return { error: `\`${raw}\` leaves the bundle: paths are relative to the bundle, without \`..\`` };
  }
  const parts = [];
  for (const p of raw.split("/")) {
    if (p === "" || p === ".") continue;
    if (p === "..") {
      return { error: `\`${raw}\` leaves the bundle: paths are relative to the bundle, without \`..\`` };
    }
    if (bytes(p) > 255) return { error: `a file or folder name is at most 255 bytes; \`${p}\` is ${bytes(p)}` };
    if (p.startsWith(".")) return { error: `\`${raw}\`: hidden files are not part of a bundle` };
    parts.push(p);
  }
  const path = parts.join("/");
  if (!(path.endsWith(".whistle") || path === "areas.yaml" || path === "event.schema.json")) {
    return {
      error:
        `\`${raw}\` is not a bundle file: a policy file ends in \`.whistle\`; ` +
        "the only other files are `areas.yaml` and `event.schema.json`, at the top of the bundle",
    };
  }
  return { path };
}

function newFile() {
  if (state.busy) return;
  const p = window.prompt("Path of the new file inside the bundle, for example categories/roads.whistle");
  if (p === null) return;
  const checked = bundlePath(p.trim());
  if (checked.error) {
    say(sentence("No new file: " + checked.error), "error");
    return;
  }
  const path = checked.path;
  if (paths().includes(path)) {
    open(path);
    return;
  }
  state.draft.set(path, "");
  state.deleted.delete(path);
  afterEdit();
  open(path);
  say("");
}

function revertFile() {
  const p = state.current;
  if (!p || state.busy) return;
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
  if (!p || state.busy) return;
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
  if (state.busy || !window.confirm("Forget every change in the draft?")) return;
  state.draft.clear();
  state.deleted.clear();
  if (state.current) open(state.current);
  afterEdit();
}

/** Replaces `from`…`to` of the text area with `text` as typing does, so
 * that Ctrl+Z undoes it (`insertText` keeps the browser's undo history);
 * where that command is missing, plainly, without undo. */
function replaceText(t, from, to, text) {
  t.focus();
  t.setSelectionRange(from, to);
  let done = false;
  try {
    done = document.execCommand("insertText", false, text);
  } catch (_) {
    done = false;
  }
  if (!done) {
    t.setRangeText(text, from, to, "end");
    t.dispatchEvent(new Event("input"));
  }
}

/** Tab: two spaces at the cursor, or the selected lines indented by two;
 * Shift+Tab: the cursor's or the selected lines outdented by up to two. */
function indent(t, outdent) {
  const v = t.value;
  const [s, e] = [t.selectionStart, t.selectionEnd];
  if (!outdent && s === e) {
    replaceText(t, s, e, "  ");
    return;
  }
  // The lines the selection touches; one ending at a line's very start
  // leaves that line alone.
  const from = s === 0 ? 0 : v.lastIndexOf("\n", s - 1) + 1;
  const last = e > s && v[e - 1] === "\n" ? e - 1 : e;
  let to = v.indexOf("\n", last);
  if (to < 0) to = v.length;
  const old = v.slice(from, to);
  const lines = old.split("\n");
  const changed = outdent
    ? lines.map((l) => l.replace(/^ {1,2}/, ""))
    : lines.map((l) => (l === "" ? l : "  " + l));
  const block = changed.join("\n");
  if (block === old) return;
  replaceText(t, from, to, block);
  if (s === e) {
    const moved = Math.max(from, s - (lines[0].length - changed[0].length));
    t.setSelectionRange(moved, moved);
  } else {
    t.setSelectionRange(from, from + block.length);
  }
  showCursor();
}

function wire() {
  const t = $("text");
  $("token").value = sessionStorage.getItem("whistle-token") || "";
  $("token").addEventListener("change", () => {
    sessionStorage.setItem("whistle-token", token());
    say("");
    loadLive().then((ok) => ok && check(false));
  });
  t.addEventListener("input", () => {
    if (state.current) setText(state.current, t.value);
    renderGutter();
    showCursor();
  });
  t.addEventListener("scroll", syncScroll);
  t.addEventListener("keyup", showCursor);
  t.addEventListener("click", showCursor);
  // Tab indents, as in a code editor; Esc then Tab (or Shift+Tab) leaves
  // the text, so that the keyboard is never trapped in it.
  let leaving = false;
  t.addEventListener("blur", () => {
    leaving = false;
  });
  t.addEventListener("keydown", (e) => {
    if (e.key === "Escape") {
      leaving = true;
      return;
    }
    if (e.key !== "Tab") {
      if (!["Shift", "Control", "Alt", "Meta"].includes(e.key)) leaving = false;
      return;
    }
    if (leaving || e.ctrlKey || e.altKey || e.metaKey || t.readOnly || t.disabled) {
      leaving = false;
      return; // the browser moves the focus on
    }
    e.preventDefault();
    indent(t, e.shiftKey);
  });
  document.addEventListener("keydown", (e) => {
    // Caps Lock makes the key "S".
    if ((e.ctrlKey || e.metaKey) && !e.altKey && e.key.toLowerCase() === "s") {
      e.preventDefault();
      if (!state.busy) check(true);
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
loadLive().then((ok) => ok && check(false));
