// akhbar's web page: send articles to /v1/analyze, show them right-to-left with their entities highlighted
// and their events, and the same response as JSON. Plain DOM, no framework, nothing loaded from elsewhere.
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
  const figure = model.task === "events" ? `macro F1 ${percent(e.macro_f1)}` : `strict F1 ${percent(e.strict_f1)}`;
  return `${figure} on ${e.articles} articles`;
}

async function loadModels() {
  const response = await fetch("/v1/models");
  const info = await response.json();
  state.info = info;
  const parts = [`NER: ${info.ner.name} (${headline(info.ner)})`];
  parts.push(info.events ? `events: ${info.events.name} (${headline(info.events)})` : "no events model");
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

function highlighted(text, entities) {
  // The text as nodes: plain runs and one <mark> per entity, in order (entities never overlap).
  const chars = codePoints(text);
  const out = document.createElement("p");
  out.className = "article-text";
  out.dir = "rtl";
  out.lang = "ar";
  let pos = 0;
  for (const e of [...entities].sort((a, b) => a.start - b.start)) {
    if (e.start > pos) out.append(chars.slice(pos, e.start).join(""));
    const mark = document.createElement("mark");
    mark.className = `entity color-${labelColor(e.label) % 8}`;
    mark.dataset.label = e.label;
    mark.dataset.score = String(e.score);
    mark.dataset.start = String(e.start);
    mark.dataset.end = String(e.end);
    mark.dataset.tip = `${e.label} · ${percent(e.score)}`;
    mark.title = `${e.label} · score ${e.score}`;
    mark.textContent = chars.slice(e.start, e.end).join("");
    out.append(mark);
    pos = e.end;
  }
  if (pos < chars.length) out.append(chars.slice(pos).join(""));
  return out;
}

function eventList(events) {
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
    card.append(head, eventList(result.events), highlighted(articles[i].text, result.entities));
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
