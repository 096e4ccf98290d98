// svibench view: plays every generator's stitched video of a case in sync.
// Plain browser JavaScript, no libraries, no network: the page works from file://.
"use strict";

const DATA = window.SVIBENCH_VIEW || { runs: [] };
const state = { run: 0, metric: null, hidden: new Set() };
const views = new Map(); // case id -> CaseView (for the current run)
let observer = null;

function el(tag, attrs, ...children) {
  const node = document.createElement(tag);
  for (const [k, v] of Object.entries(attrs || {})) {
    if (k === "class") node.className = v;
    else if (k.startsWith("on")) node.addEventListener(k.slice(2), v);
    else node.setAttribute(k, v);
  }
  for (const c of children) node.append(c instanceof Node ? c : document.createTextNode(String(c)));
  return node;
}

const fmt = (x, d = 4) => (x === null || x === undefined ? "–" : Number(x).toFixed(d));
const clock = (t) => `${Math.floor(t / 60)}:${(t % 60).toFixed(1).padStart(4, "0")}`;
const run = () => DATA.runs[state.run];
const metricInfo = (name) => run().metrics.find((m) => m.name === name);

// ------------------------------------------------------------------ one case: synced videos
class CaseView {
  constructor(r, c) {
    this.run = r;
    this.c = c;
    this.videos = []; // {gen, video, strip, clips}
    this.duration = Math.max(0.001, ...Object.values(c.videos).map((v) => (v.clips.length ? v.clips[v.clips.length - 1].t1 : 0)));
    this.playing = false;
    this.attached = false;
  }

  build() {
    const c = this.c;
    this.playBtn = el("button", { onclick: () => (this.playing ? this.pause() : this.play()) }, "play");
    this.slider = el("input", { type: "range", min: "0", max: String(this.duration), step: "any", value: "0" });
    this.slider.addEventListener("input", () => this.seek(Number(this.slider.value)));
    const timeline = el("div", { class: "timeline" }, this.slider);
    const first = Object.values(c.videos)[0];
    for (const clip of first ? first.clips.slice(1) : []) {
      timeline.append(el("span", { class: "tick", style: `left:${(100 * clip.t0) / this.duration}%`, title: `clip ${clip.k}` }));
    }
    this.timeLabel = el("span", { class: "time" }, `0:00.0 / ${clock(this.duration)}`);
    this.promptLabel = el("div", { class: "prompt" });
    const grid = el("div", { class: "grid" });
    const ref = c.reference ? el("img", { class: "ref", src: c.reference, alt: `reference ${c.id}`, loading: "lazy" }) : el("div", { class: "missing" }, "no reference image");
    grid.append(el("div", { class: "tile" }, el("div", { class: "label" }, "reference image"), ref));
    for (const gen of this.run.generators) {
      const v = c.videos[gen];
      if (!v) continue;
      grid.append(this.tile(gen, v));
    }
    this.node = el(
      "section",
      { class: "case", id: `case-${c.id}`, "data-case": c.id },
      el("div", { class: "case-head" }, el("h3", {}, c.id)),
      el("div", { class: "controls" }, this.playBtn, timeline, this.timeLabel),
      this.promptLabel,
      grid,
    );
    this.paintStrips();
    this.showTime(0);
    return this.node;
  }

  tile(gen, v) {
    const note = this.run.leaderboard.rows.find((r) => r.generator === gen)?.note;
    const label = el("div", { class: "label" }, gen, note ? el("span", { class: "badge" }, ` (incomplete: ${note})`) : "");
    let media;
    if (v.src) {
      media = el("video", { muted: "", playsinline: "", preload: "none", "data-src": v.src, "data-generator": gen });
      media.muted = true;
      media.addEventListener("seeking", () => this.follow(media));
      media.addEventListener("ended", () => this.pause());
    } else {
      media = el("div", { class: "missing" }, "no saved video (--no-videos)");
    }
    const strip = el("div", { class: "strip" });
    const stripLabel = el("div", { class: "strip-label" });
    const tile = el("div", { class: "tile", "data-generator": gen }, label, media, strip, stripLabel);
    if (v.src) this.videos.push({ gen, video: media, strip, stripLabel, clips: v.clips, tile });
    else this.videos.push({ gen, video: null, strip, stripLabel, clips: v.clips, tile });
    return tile;
  }

  paintStrips() {
    const metric = state.metric;
    const info = metricInfo(metric);
    const all = this.videos.flatMap((x) => x.clips.map((k) => k.values[metric])).filter((x) => x !== undefined);
    const lo = Math.min(...all), hi = Math.max(...all);
    for (const x of this.videos) {
      x.strip.replaceChildren();
      for (const clip of x.clips) {
        const value = clip.values[metric];
        let colour = "#bbb";
        if (value !== undefined) {
          let t = hi > lo ? (value - lo) / (hi - lo) : 0.5;
          if (info && !info.higher_is_better) t = 1 - t;
          colour = `hsl(${Math.round(120 * t)}, 60%, 40%)`; // green = better within this case
        }
        const prompt = this.c.prompts[clip.k] || "";
        const cell = el("div", {
          style: `flex:${clip.t1 - clip.t0} 1 0;background:${colour}`,
          title: `clip ${clip.k}: ${metric} = ${value === undefined ? "–" : fmt(value)}${prompt ? " · " + prompt : ""}`,
          "data-clip": String(clip.k),
          onclick: () => this.seek(clip.t0 + 1e-3),
        }, String(clip.k));
        x.strip.append(cell);
      }
      x.stripLabel.textContent = `${metric} ${info && info.higher_is_better ? "↑" : "↓"} per clip: green = better within this case (click to jump)`;
    }
  }

  // --------------------------------------------------------------- lazy loading
  attach() {
    if (this.attached) return;
    this.attached = true;
    for (const { video } of this.videos) {
      if (!video) continue;
      video.src = video.dataset.src;
      video.preload = "auto";
      video.load();
      video.addEventListener("loadeddata", () => { if (video.currentTime !== this.time()) video.currentTime = this.time(); }, { once: true });
    }
  }

  detach() {
    if (!this.attached) return;
    this.pause();
    this.attached = false;
    for (const { video } of this.videos) {
      if (!video) continue;
      video.removeAttribute("src"); // frees the decoder: hundreds of videos stay usable
      video.load();
    }
  }

  // --------------------------------------------------------------- sync
  live() { return this.videos.filter((x) => x.video && !x.tile.hidden).map((x) => x.video); }
  time() { return Number(this.slider.value); }

  play() {
    this.attach();
    this.playing = true;
    this.playBtn.textContent = "pause";
    if (this.time() >= this.duration - 0.05) this.seek(0);
    for (const v of this.live()) v.play().catch(() => {});
    const tick = () => {
      if (!this.playing) return;
      this.syncToLeader();
      requestAnimationFrame(tick);
    };
    requestAnimationFrame(tick);
  }

  pause() {
    this.playing = false;
    if (this.playBtn) this.playBtn.textContent = "play";
    for (const v of this.live()) v.pause();
    this.syncToLeader();
  }

  seek(t) {
    t = Math.max(0, Math.min(t, this.duration));
    this.slider.value = String(t);
    for (const v of this.live()) if (Math.abs(v.currentTime - t) > 1e-3) v.currentTime = Math.min(t, v.duration || t);
    this.showTime(t);
  }

  // One video seeked by itself (e.g. its own controls or a script): every other one follows.
  follow(video) {
    const t = video.currentTime;
    const tol = 0.5 / this.run.fps;
    if (Math.abs(t - this.time()) <= tol) return;
    this.seek(t);
  }

  syncToLeader() {
    const vids = this.live().filter((v) => v.readyState >= 1);
    if (!vids.length) return;
    const leader = vids.reduce((a, b) => ((b.duration || 0) > (a.duration || 0) ? b : a));
    const t = leader.currentTime;
    for (const v of vids) {
      if (v !== leader && t <= (v.duration || 0) && Math.abs(v.currentTime - t) > 0.15) v.currentTime = t;
    }
    this.slider.value = String(t);
    this.showTime(t);
  }

  showTime(t) {
    this.timeLabel.textContent = `${clock(t)} / ${clock(this.duration)}`;
    let prompt = "";
    for (const x of this.videos) {
      for (const cell of x.strip.children) {
        const clip = x.clips.find((k) => String(k.k) === cell.dataset.clip);
        const now = clip && t >= clip.t0 && (t < clip.t1 || clip === x.clips[x.clips.length - 1]);
        cell.classList.toggle("now", Boolean(now));
        if (now && !prompt) prompt = this.c.prompts[clip.k] || "";
      }
    }
    this.promptLabel.textContent = prompt ? `prompt: ${prompt}` : "";
  }
}

// ------------------------------------------------------------------ summary: table + plot
function summary() {
  const r = run();
  const node = el("div", {});
  node.append(el("h2", {}, `${r.name} (suite ${r.suite})`));
  if (r.incomplete) node.append(el("p", { class: "note" }, `Incomplete run: ${r.incomplete}`));
  const cols = r.metrics.map((m) => m.name);
  const head = el("tr", {}, el("th", {}, "rank"), el("th", {}, "generator"),
    ...cols.map((c) => el("th", { class: c === state.metric ? "sel" : "" }, `${c} ${metricInfo(c).higher_is_better ? "↑" : "↓"}`)));
  const table = el("table", { class: "board" }, head);
  for (const row of r.leaderboard.rows) {
    if (state.hidden.has(row.generator)) continue;
    const name = el("td", {}, row.generator, row.note ? el("span", { class: "note" }, ` incomplete (${row.note})`) : "");
    const cells = cols.map((c) => {
      const v = row.cells[c];
      const td = el("td", { class: c === state.metric ? "sel" : "" });
      if (!v) td.append("–");
      else td.append(fmt(v[0]), " ", el("span", { class: "ci" }, `[${fmt(v[1])}, ${fmt(v[2])}]`));
      return td;
    });
    table.append(el("tr", { "data-generator": row.generator }, el("td", {}, String(row.rank)), name, ...cells));
  }
  node.append(el("p", {}, "Mean over cases of the per-case clip mean [bootstrap 95 % CI over cases]; rank by ", el("code", {}, r.leaderboard.headline), "."));
  const plot = r.plots[state.metric];
  const row = el("div", { class: "row" }, table);
  if (plot) row.append(el("div", { class: "plot" }, el("img", { src: plot, alt: `drift plot ${state.metric}` })));
  node.append(row);
  document.getElementById("summary").replaceChildren(node);
}

// ------------------------------------------------------------------ filters and the page
function filters() {
  const runSel = document.getElementById("run-filter");
  runSel.replaceChildren(...DATA.runs.map((r, i) => el("option", { value: String(i) }, r.name)));
  runSel.value = String(state.run);
  runSel.parentElement.hidden = DATA.runs.length < 2;
  runSel.onchange = () => { state.run = Number(runSel.value); state.metric = null; render(); };
  const r = run();
  if (!state.metric || !metricInfo(state.metric)) state.metric = r.leaderboard.headline || (r.metrics[0] || {}).name;
  const metricSel = document.getElementById("metric-filter");
  metricSel.replaceChildren(...r.metrics.map((m) => el("option", { value: m.name }, m.name)));
  metricSel.value = state.metric;
  metricSel.onchange = () => { state.metric = metricSel.value; summary(); for (const v of views.values()) v.paintStrips(); };
  const gens = document.getElementById("generator-filter");
  gens.replaceChildren(...r.generators.map((g) => {
    const box = el("input", { type: "checkbox", "data-generator": g });
    box.checked = !state.hidden.has(g);
    box.onchange = () => { box.checked ? state.hidden.delete(g) : state.hidden.add(g); applyHidden(); summary(); };
    return el("label", {}, box, ` ${g}`);
  }));
}

function applyHidden() {
  for (const v of views.values()) {
    for (const x of v.videos) {
      x.tile.hidden = state.hidden.has(x.gen);
      if (x.tile.hidden && x.video) x.video.pause();
    }
    if (v.attached) v.seek(v.time());
  }
}

function render() {
  if (observer) observer.disconnect();
  for (const v of views.values()) v.detach();
  views.clear();
  if (!DATA.runs.length) {
    document.getElementById("summary").textContent = "No runs in data.js.";
    return;
  }
  filters();
  summary();
  const holder = document.getElementById("cases");
  holder.replaceChildren();
  // Videos load only while their case is on (or near) the screen, and are released after.
  observer = new IntersectionObserver((entries) => {
    for (const e of entries) {
      const v = views.get(e.target.dataset.case);
      if (v) (e.isIntersecting ? v.attach() : v.detach());
    }
  }, { rootMargin: "600px 0px" });
  for (const c of run().cases) {
    const v = new CaseView(run(), c);
    views.set(c.id, v);
    holder.append(v.build());
    observer.observe(v.node);
  }
  applyHidden();
}

// For scripts and tests: svibenchView.cases.get("desk").seek(2.5)
window.svibenchView = { cases: views, state, render };
render();
