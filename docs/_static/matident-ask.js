/* The Ask page (ask.html): matident's lookup and derive, run in this page by Pyodide.
 *
 * Contract (tests and outside checks rely on it):
 *  - URL parameters q (expression), wrt, symbols (NAME:DECL;NAME:DECL), order fill
 *    the form and run it on load;
 *  - #mi-ask-answer carries data-ask-state = loading | done | error;
 *  - each match carries data-record-id="<id>", in rank order; the derivation's
 *    result carries data-derivation-result="<result in the expression language>";
 *  - window.matident.ask({q, wrt, symbols, order}) runs a query without reloading
 *    and resolves once the page shows its answer.  The form uses the same path.
 *
 * Pyodide, matident's modules and the catalogue snapshot are loaded on the first
 * query only, from this site (_static/pyodide, _static/ask/engine.zip); URLs are
 * relative to the site's root (data-content_root), so this works from any folder.
 */
"use strict";
(() => {
  const root = new URL(document.documentElement.dataset.content_root || "./", document.baseURI);
  const $ = (id) => document.getElementById(id);
  const form = $("mi-ask-form");
  const out = $("mi-ask-answer");
  if (!form || !out) return;
  const progress = $("mi-ask-progress");
  const macros = JSON.parse(out.dataset.katexMacros || "{}");
  const fields = ["q", "wrt", "symbols", "order"];
  let engine = null;          // Promise of the Python answer() function
  let katexReady = null;      // Promise of window.katex
  let queue = Promise.resolve();

  const el = (tag, attrs = {}, ...children) => {
    const e = document.createElement(tag);
    for (const [k, v] of Object.entries(attrs)) {
      if (k === "class") e.className = v;
      else if (k === "text") e.textContent = v;
      else e.setAttribute(k, v);
    }
    for (const c of children) if (c != null) e.append(c);
    return e;
  };

  const showProgress = (step, text) => {
    progress.hidden = step === null;
    if (step === null) return;
    progress.querySelector("progress").value = step;
    progress.querySelector(".mi-ask-progress-text").textContent = text;
  };

  const loadKatex = () => {
    katexReady ??= new Promise((resolve, reject) => {
      const s = el("script", { src: new URL("_static/katex/katex.min.js", root).href });
      s.onload = () => resolve(window.katex);
      s.onerror = () => reject(new Error("could not load KaTeX from this site"));
      document.head.append(s);
    });
    return katexReady;
  };

  const loadEngine = () => {
    engine ??= (async () => {
      const base = new URL("_static/pyodide/", root).href;
      showProgress(1, "Loading Python (Pyodide, about 12 MB the first time; cached afterwards)…");
      const { loadPyodide } = await import(new URL("pyodide.mjs", base).href);
      const [py, zip] = await Promise.all([
        loadPyodide({ indexURL: base, fullStdLib: false }),
        fetch(new URL("_static/ask/engine.zip", root)).then((r) => {
          if (!r.ok) throw new Error(`engine.zip: HTTP ${r.status}`);
          return r.arrayBuffer();
        }),
      ]);
      showProgress(2, "Loading matident and its catalogue…");
      py.FS.writeFile("/home/pyodide/engine.zip", new Uint8Array(zip));
      py.runPython(`
import sys, zipfile
sys.path.insert(0, "/home/pyodide/engine.zip")
zipfile.ZipFile("/home/pyodide/engine.zip").extract("snapshot.pickle", "/home/pyodide")
import ask_answer
ask_answer.load_snapshot("/home/pyodide/snapshot.pickle")
`);
      return py.globals.get("ask_answer").answer;
    })();
    engine.catch(() => { engine = null; });     // a failed load is retried by the next query
    return engine;
  };

  const tex = (katex, latex, display = false) => {
    const span = el("span", { class: display ? "mi-ask-math mi-ask-display" : "mi-ask-math" });
    try {
      katex.render(latex, span, { displayMode: display, throwOnError: true, macros: { ...macros } });
    } catch (e) {
      span.textContent = latex;
    }
    return span;
  };

  // [[is_math, LaTeX or text], ...] (ask_answer.prose): words as text, math typeset inline
  const proseNodes = (katex, parts) => parts.map(([isMath, part]) => (isMath ? tex(katex, part) : part));
  const conditionList = (katex, label, conditions) => {
    const p = el("p", { class: "mi-ask-conditions" }, label);
    conditions.forEach((c, i) => p.append(...(i ? ["; "] : []), ...proseNodes(katex, c)));
    return p;
  };

  const recordLink = (id, url, text) => el("a", { href: new URL(url, root).href, class: "mi-ask-record" },
    el("code", { text: text || id }));

  const copyButton = (text, label) => {
    const b = el("button", { type: "button", class: "mi-ask-copy", "aria-label": label, text: "Copy" });
    b.addEventListener("click", async () => {
      try { await navigator.clipboard.writeText(text); b.textContent = "Copied"; }
      catch { b.textContent = "Select and copy"; }
      setTimeout(() => { b.textContent = "Copy"; }, 1500);
    });
    return b;
  };

  const renderMatches = (katex, a) => {
    const box = el("section", { class: "mi-ask-matches", "aria-label": "Matching identities" });
    const n = a.matches.length;
    box.append(el("h2", { text: n ? `Identities that apply (${a.total})` : "No identity applies" }));
    if (a.total > n) box.append(el("p", { class: "mi-ask-note", text: `The first ${n} of ${a.total}, best first.` }));
    if (!a.complete) box.append(el("p", { class: "mi-ask-note", text: "The search stopped early: the list may be incomplete." }));
    const list = el("ol", { class: "mi-ask-match-list" });
    for (const m of a.matches) {
      const card = el("li", { class: "mi-ask-match", "data-record-id": m.id });
      const title = el("a", { href: new URL(m.url, root).href, class: "mi-ask-match-title" });
      if (m.title_parts.every(([isMath, part]) => isMath || !part.trim())) {
        // a title that is all formula: screen readers get its text, the eye the typeset form
        const shown = el("span", { "aria-hidden": "true" }, ...proseNodes(katex, m.title_parts));
        title.append(el("span", { class: "visually-hidden", text: m.title }), shown);
      } else {
        title.append(...proseNodes(katex, m.title_parts));
      }
      const meta = el("p", { class: "mi-ask-meta" }, el("code", { text: m.id }), ` · ${m.kind}`,
        m.cookbook.length ? ` · Cookbook eq. ${m.cookbook.join(", ")}` : "");
      card.append(title, meta, tex(katex, m.latex, true));
      if (m.conditions.length) card.append(conditionList(katex, "Provided: ", m.conditions));
      if (m.note) card.append(el("p", { class: "mi-ask-note", text: m.note }));
      list.append(card);
    }
    box.append(list);
    return box;
  };

  const renderDerivation = (katex, d) => {
    const box = el("section", { class: "mi-ask-derivation", "aria-label": "Derivation" });
    box.append(el("h2", { text: `The ${d.what}` }));
    const steps = el("ol", { class: "mi-ask-steps" });
    for (const s of d.steps) {
      const li = el("li");
      if (s.latex_before) li.append(tex(katex, `${s.latex_before} = ${s.latex_after}`, true));
      else li.append(el("p", { text: `${s.before}: ${s.after}` }));
      li.append(el("p", { class: "mi-ask-step-rule" }, "by ",
        s.url ? recordLink(s.rule, s.url) : el("code", { text: s.rule }), ` — ${s.description}`));
      steps.append(li);
    }
    const result = el("div", { class: "mi-ask-result", "data-derivation-result": d.result });
    result.append(tex(katex, d.statement, true));
    const textRow = el("p", { class: "mi-ask-result-text" }, "Text: ", el("code", { text: d.result }), " ",
      copyButton(d.result, "Copy the result as text"));
    const latexRow = el("p", { class: "mi-ask-result-latex" }, "LaTeX: ", el("code", { text: d.result_latex }), " ",
      copyButton(d.result_latex, "Copy the result as LaTeX"));
    result.append(textRow, latexRow);
    if (d.conditions.length) result.append(conditionList(katex, "Assuming: ", d.conditions));
    const check = d.check.status === "passed" ?
      el("div", { class: "mi-ask-check admonition note", role: "note" },
        el("p", { class: "admonition-title", text: "Checked numerically" }),
        el("p", { text: "This result passed its check against finite differences." })) :
      el("div", { class: "mi-ask-check admonition warning", role: "note" },
      el("p", { class: "admonition-title", text: "Not checked numerically here" }),
      el("p", { text: `This result was built from the catalogue's verified rules, but ${d.check.reason}. ` +
        "Check it against finite differences with:" }),
      el("pre", {}, el("code", { text: d.check.command })), copyButton(d.check.command, "Copy the command"));
    result.append(check);
    box.append(result, el("h3", { text: "Steps" }), steps);
    return box;
  };

  const renderError = (e) => el("div", { class: "mi-ask-error admonition error", role: "alert" },
    el("p", { class: "admonition-title", text: e.code ? `Cannot answer (${e.code})` : "Cannot answer" }),
    el("p", { class: "mi-ask-error-message", text: e.message }),
    e.hint ? el("p", { class: "mi-ask-error-hint", text: `Hint: ${e.hint}` }) : null);

  const fillForm = (query) => {
    for (const f of fields) {
      const input = form.elements[f];
      if (input) input.value = query[f] || (f === "order" ? "1" : "");
    }
  };

  const run = async (query) => {
    const q = Object.fromEntries(fields.map((f) => [f, String(query[f] ?? "").trim()]));
    fillForm(q);
    const cold = engine === null;
    const start = performance.now();
    out.dataset.askState = "loading";
    out.setAttribute("aria-busy", "true");
    out.replaceChildren(el("p", { class: "mi-ask-note", text: "Working…" }));
    try {
      const [answer, katex] = await Promise.all([loadEngine(), loadKatex()]);
      showProgress(3, "Answering…");
      const reply = JSON.parse(answer(q.q, q.wrt, q.symbols, q.order));
      const parts = [];
      if (reply.error) {
        parts.push(renderError(reply.error));
      } else {
        // the derivation answers the question: it comes first, then the identities that apply
        if (reply.derivation) parts.push(renderDerivation(katex, reply.derivation));
        parts.push(renderMatches(katex, reply));
      }
      const ms = performance.now() - start;
      parts.push(el("p", { class: "mi-ask-timing", text: `Answered in ${ms < 1000 ? `${ms.toFixed(0)} ms` : `${(ms / 1000).toFixed(1)} s`}` +
        (cold ? " (including loading Python)." : ".") }));
      out.replaceChildren(...parts);
      out.dataset.askState = reply.error ? "error" : "done";
      window.matident.lastTiming = { ms, cold };
    } catch (e) {
      out.replaceChildren(renderError({ message: `The page could not run matident: ${e.message || e}`,
        hint: "serve the site over http (python -m http.server in the built folder), not from file://" }));
      out.dataset.askState = "error";
    } finally {
      showProgress(null);
      out.removeAttribute("aria-busy");
    }
  };

  window.matident = Object.assign(window.matident || {}, {
    /* Run a query ({q, wrt, symbols, order}); resolves once the page shows the answer. */
    ask: (query) => {
      queue = queue.then(() => run(query || {}));
      return queue;
    },
  });

  const fromForm = () => Object.fromEntries(fields.map((f) => [f, form.elements[f] ? form.elements[f].value : ""]));
  const remember = (query) => {
    const params = new URLSearchParams();
    for (const f of fields) if (query[f] && !(f === "order" && query[f] === "1")) params.set(f, query[f]);
    history.replaceState(null, "", `${location.pathname}?${params}`);
  };
  form.addEventListener("submit", (event) => {
    event.preventDefault();
    const query = fromForm();
    remember(query);
    window.matident.ask(query);
  });
  for (const a of document.querySelectorAll(".mi-ask-example")) {
    a.addEventListener("click", (event) => {
      event.preventDefault();
      const query = { q: a.dataset.q, wrt: a.dataset.wrt, symbols: a.dataset.symbols, order: a.dataset.order };
      remember(query);
      window.matident.ask(query);
    });
  }
  const params = new URLSearchParams(location.search);
  if (params.get("q")) window.matident.ask(Object.fromEntries(fields.map((f) => [f, params.get(f) || ""])));
})();
