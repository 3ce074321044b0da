// akhbar's web page: send articles to /v1/analyze, show them right-to-left with their entities highlighted,
// their events (each with its evidence sentences underlined in the text and its arguments as chips), and the
// same response as JSON. Plain DOM, no framework, nothing loaded from elsewhere.
"use strict";

const state = { info: null, colors: new Map(), response: null };
const $ = (id) => document.getElementById(id);

// Offsets from the service count code points (Python string indices); JavaScript strings count UTF-16 code
// units, so a text is sliced as an array of code points (an emoji before an entity would shift it otherwise).
function codePoints(text) {
  return Array.from(text);
}

function percent(score) {
  return `${(100 * score).toFixed(1)}%`;
}

function labelColor(label) {
  if (!state.colors.has(label)) state.colors.set(label, state.colors.size);
  return state.colors.get(label);
}

function headline(model) {
  const e = model.evaluation;
  if (!e) return "no evaluation";
  // Event models (events, sentence_events) report macro F1; taggers (ner, arguments) strict F1.
  const figure = "macro_f1" in e ? `macro F1 ${percent(e.macro_f1)}` : `strict F1 ${percent(e.strict_f1)}`;
  return `${figure} on ${e.articles} articles`;
}

async function loadModels() {
  const response = await fetch("/v1/models");
  const info = await response.json();
  state.info = info;
  const parts = [`NER: ${info.ner.name} (${headline(info.ner)})`];
  parts.push(info.events ? `events: ${info.events.name} (${headline(info.events)})` : "no events model");
  if (info.arguments) parts.push(`arguments: ${info.arguments.name} (${headline(info.arguments)})`);
  $("models").textContent = `${parts.join(" · ")} · ${info.model_version}`;
  for (const label of info.ner.labels) labelColor(label);
  renderLegend();
}

function renderLegend() {
  const legend = $("legend");
  legend.replaceChildren();
  const title = document.createElement("span");
  title.className = "legend-title";
  title.textContent = "الكيانات · entities:";
  legend.append(title);
  for (const [label, index] of state.colors) {
    const item = document.createElement("span");
    item.className = `legend-item color-${index % 8}`;
    item.dataset.label = label;
    item.textContent = label;
    legend.append(item);
  }
  legend.hidden = false;
}

function entityMark(e, text) {
  const mark = document.createElement("mark");
  mark.className = `entity color-${labelColor(e.label) % 8}`;
  mark.dataset.label = e.label;
  mark.dataset.score = String(e.score);
  mark.dataset.start = String(e.start);
  mark.dataset.end = String(e.end);
  mark.dataset.tip = `${e.label} · ${percent(e.score)}`;
  mark.title = `${e.label} · score ${e.score}`;
  mark.textContent = text;
  return mark;
}

function appendMarked(parent, chars, entities, from, to) {
  // chars[from:to] as plain runs and entity <mark>s (entities sorted, never overlapping); an entity that
  // crosses from or to (a sentence bound) is cut there, each part its own mark.
  let pos = from;
  for (const e of entities) {
    const start = Math.max(e.start, pos);
    const end = Math.min(e.end, to);
    if (start >= end) continue;
    if (start > pos) parent.append(chars.slice(pos, start).join(""));
    parent.append(entityMark(e, chars.slice(start, end).join("")));
    pos = end;
  }
  if (pos < to) parent.append(chars.slice(pos, to).join(""));
}

function evidenceSentences(events) {
  // One range per evidence sentence, with the events it says (two events may share a sentence), in text order.
  const sentences = new Map();
  for (const ev of events || []) {
    for (const s of ev.evidence || []) {
      const key = `${s.start}:${s.end}`;
      if (!sentences.has(key)) sentences.set(key, { start: s.start, end: s.end, events: [] });
      sentences.get(key).events.push({ label: ev.label, score: s.score });
    }
  }
  return [...sentences.values()].sort((a, b) => a.start - b.start || a.end - b.end);
}

function highlighted(text, entities, events) {
  // The text as nodes: plain runs, one <mark> per entity, and each evidence sentence an underlined <span>
  // around its runs and marks.
  const chars = codePoints(text);
  const sorted = [...entities].sort((a, b) => a.start - b.start);
  const out = document.createElement("p");
  out.className = "article-text";
  out.dir = "rtl";
  out.lang = "ar";
  let pos = 0;
  for (const s of evidenceSentences(events)) {
    const start = Math.max(s.start, pos); // a range overlapping the previous one keeps only its new part
    const end = Math.min(s.end, chars.length);
    if (start >= end) continue;
    appendMarked(out, chars, sorted, pos, start);
    const span = document.createElement("span");
    span.className = "evidence";
    span.dataset.event = s.events.map((e) => e.label).join(" ");
    span.dataset.score = s.events.map((e) => String(e.score)).join(" ");
    span.dataset.start = String(s.start);
    span.dataset.end = String(s.end);
    span.title = s.events.map((e) => `${e.label} · sentence ${percent(e.score)}`).join(" · ");
    appendMarked(span, chars, sorted, start, end);
    out.append(span);
    pos = end;
  }
  appendMarked(out, chars, sorted, pos, chars.length);
  return out;
}

function argumentChips(args) {
  const box = document.createElement("span");
  box.className = "arguments";
  if (args.length === 0) {
    box.className = "arguments none";
    box.textContent = "no argument found";
  }
  for (const a of args) {
    const chip = document.createElement("span");
    chip.className = "argument";
    chip.dir = "rtl";
    chip.dataset.role = a.role;
    chip.dataset.start = String(a.start);
    chip.dataset.end = String(a.end);
    chip.dataset.score = String(a.score);
    chip.title = `${a.role} · score ${a.score} · characters ${a.start}-${a.end}`;
    const role = document.createElement("bdi");
    role.className = "role";
    role.textContent = a.role;
    const words = document.createElement("bdi");
    words.lang = "ar";
    words.textContent = a.text;
    chip.append(role, ": ", words);
    box.append(chip);
  }
  return box;
}

function eventList(events, card) {
  const list = document.createElement("ul");
  list.className = "events";
  if (events === undefined) {
    const none = document.createElement("li");
    none.className = "none";
    none.textContent = "no events model loaded";
    list.append(none);
    return list;
  }
  if (events.length === 0) {
    const none = document.createElement("li");
    none.className = "none";
    none.textContent = "لا حدث · no event";
    list.append(none);
  }
  for (const ev of events) {
    const item = document.createElement("li");
    item.className = "event";
    item.dataset.label = ev.label;
    item.dataset.score = String(ev.score);
    const name = document.createElement("span");
    name.textContent = ev.label;
    const score = document.createElement("b");
    score.textContent = percent(ev.score);
    item.append(name, " ", score);
    if (ev.evidence) {
      const n = ev.evidence.length;
      const said = document.createElement("small");
      said.textContent = ` · ${n} ${n === 1 ? "sentence" : "sentences"}`;
      item.append(said);
      // Pointing at the event lights up its sentences in the text.
      const light = (on) => {
        for (const span of card.querySelectorAll("span.evidence")) {
          if (span.dataset.event.split(" ").includes(ev.label)) span.classList.toggle("active", on);
        }
      };
      item.addEventListener("mouseenter", () => light(true));
      item.addEventListener("mouseleave", () => light(false));
    }
    if (ev.arguments) {
      item.classList.add("with-arguments");
      item.append(argumentChips(ev.arguments));
    }
    list.append(item);
  }
  return list;
}

function renderResults(articles, results) {
  const box = $("results");
  box.replaceChildren();
  results.forEach((result, i) => {
    const card = document.createElement("article");
    card.className = "result";
    card.dataset.id = String(result.id);
    const head = document.createElement("h2");
    head.dir = "ltr";
    const n = result.entities.length;
    head.textContent = `${result.id} · ${n} ${n === 1 ? "entity" : "entities"}`;
    const text = highlighted(articles[i].text, result.entities, result.events);
    card.append(head, eventList(result.events, card), text);
    box.append(card);
  });
}

function splitArticles(text, perLine, name) {
  const lines = perLine ? text.split(/\n/) : [text];
  const out = [];
  lines.forEach((line, i) => {
    const where = perLine ? `${name}:${i + 1}` : name;
    const trimmed = line.trim();
    if (!trimmed) return;
    if (perLine && trimmed.startsWith("{")) {
      // A JSON line as `akhbar predict` reads it: {"text": ..., "id": ...}.
      let record;
      try {
        record = JSON.parse(trimmed);
      } catch (err) {
        throw new Error(`${where}: invalid JSON (${err.message})`);
      }
      if (typeof record.text !== "string") throw new Error(`${where}: a JSON line needs a string field "text"`);
      out.push({ id: record.id !== undefined ? String(record.id) : where, text: record.text });
    } else {
      out.push({ id: where, text: perLine ? line.replace(/\r$/, "") : text });
    }
  });
  return out;
}

async function gatherArticles() {
  const perLine = $("per-line").checked;
  const articles = splitArticles($("text").value, perLine, "pasted");
  for (const file of $("files").files) {
    const jsonl = /\.jsonl?$/i.test(file.name);
    articles.push(...splitArticles(await file.text(), perLine || jsonl, file.name));
  }
  return articles;
}

async function analyze() {
  const status = $("status");
  status.className = "";
  let articles;
  try {
    articles = await gatherArticles();
  } catch (err) {
    status.className = "error";
    status.textContent = err.message;
    return;
  }
  if (articles.length === 0) {
    status.className = "error";
    status.textContent = "nothing to analyze: paste an article or choose files";
    return;
  }
  const limit = state.info ? state.info.limits.max_texts : 64;
  status.textContent = `analyzing ${articles.length} article(s)…`;
  $("analyze").disabled = true;
  const started = performance.now();
  try {
    const results = [];
    let modelVersion = null;
    for (let i = 0; i < articles.length; i += limit) {
      const part = articles.slice(i, i + limit);
      const response = await fetch("/v1/analyze", {
        method: "POST",
        headers: { "Content-Type": "application/json" },
        body: JSON.stringify({ articles: part }),
      });
      const body = await response.json();
      if (!response.ok) throw new Error(`${response.status}: ${body.error}`);
      results.push(...body.results);
      modelVersion = body.model_version;
    }
    state.response = { results, model_version: modelVersion };
    renderResults(articles, results);
    $("json").textContent = JSON.stringify(state.response, null, 2);
    $("tabs").hidden = false;
    const seconds = ((performance.now() - started) / 1000).toFixed(2);
    status.textContent = `${articles.length} article(s) in ${seconds} s`;
  } catch (err) {
    status.className = "error";
    status.textContent = err.message;
  } finally {
    $("analyze").disabled = false;
  }
}

function show(json) {
  $("json").hidden = !json;
  $("results").hidden = json;
  $("show-json").setAttribute("aria-pressed", String(json));
  $("show-text").setAttribute("aria-pressed", String(!json));
}

document.addEventListener("DOMContentLoaded", () => {
  $("analyze").addEventListener("click", analyze);
  $("show-json").addEventListener("click", () => show(true));
  $("show-text").addEventListener("click", () => show(false));
  loadModels().catch((err) => {
    $("models").textContent = `the service did not answer /v1/models: ${err.message}`;
  });
});
