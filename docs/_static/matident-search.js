/* Identity search for the matident docs, and "Ask matident" links for expressions.
 *
 * On search.html the identities come first: ranked by this file from
 * _static/matident-identities.json (written by matident.sphinxext when the site
 * is built: id, title, kind, statement, Cookbook equations, words), each result
 * an <li data-record-id> with its typeset statement, updated as you type.
 * Sphinx's page search follows, without the identities it would repeat and
 * without downloading result pages (html_show_search_summary = False).
 *
 * Ranking: every query word is looked up in a record's title and id (weight 10),
 * tags, kind and left-hand-side operators (6), and notes, conditions, symbols and
 * erratum (2), weighted by rarity; records matching more of the words come first,
 * a phrase found whole in the title or notes ranks higher, basic rules (short ids)
 * break ties.  A number is a Cookbook equation, matched exactly ("cookbook 57" is
 * not 157).  An expression (tr(A @ X @ B), x.T @ A @ x) is also compared with each
 * left-hand side up to the names of its symbols.
 *
 * On every page, a query in the sidebar's box that reads as an expression gets a
 * link to ask.html?q=... under the box.  The ranking (MatidentSearch) has no DOM
 * dependency: under node, require() returns it (the tests rank with it).
 */
"use strict";
const MatidentSearch = (() => {
  const SYNONYMS = {
    ln: "log", logarithm: "log", logarithmic: "log", natural: "log",
    determinant: "det", determinants: "det", jacobi: "det",
    inverse: "inv", inverses: "inv", inversion: "inv", invert: "inv", inverted: "inv", inverting: "inv",
    trace: "tr", traces: "tr", transposed: "transpose", kron: "kronecker", gradients: "derivative", grad: "derivative",
    gradient: "derivative", derivatives: "derivative", differentiate: "derivative", differentiation: "derivative",
    partial: "derivative",
    differentials: "differential", hessians: "hessian", jacobians: "jacobian", norms: "norm",
    eigenvalues: "eigenvalue", squares: "square", squared: "square", matrices: "matrix",
    exponential: "exp", exponent: "exp", sqrt: "root", elementwise: "hadamard", entrywise: "hadamard",
    frob: "frobenius", pinv: "pseudo inv", logdet: "log det", adjugate: "adj", vectorization: "vec",
    cookbook: "cookbook", eq: "cookbook", equation: "cookbook",
  };
  const STOP = new Set(["of", "the", "a", "an", "and", "or", "for", "with", "by", "to", "in", "on", "is",
    "as", "at", "its", "wrt", "respect", "what", "how", "do", "i", "be", "are", "from", "into"]);
  const FUNCTIONS = new Set(["tr", "det", "logdet", "inv", "adj", "pinv", "matpow", "hpow", "kron", "vec",
    "unvec", "norm", "diag", "diagvec", "sum", "exp", "log", "sqrt", "tanh", "sigmoid", "abs", "ones", "I", "pi",
    "expm", "logm", "sqrtm", "cosm", "sinm", "cos", "sin", "commutation", "eye", "block", "expect",
    "max", "min", "eigvalsh", "inf", "toeplitz_mean", "toeplitz_sum"]);

  const stem = (w) => {
    let s = w.replace(/'s$/, "").replace(/'/g, "");
    if (SYNONYMS[s]) return SYNONYMS[s];
    if (s.length > 4 && s.endsWith("ies")) s = s.slice(0, -3) + "y";
    else if (s.length > 3 && s.endsWith("s") && !s.endsWith("ss") && !s.endsWith("us")) s = s.slice(0, -1);
    return SYNONYMS[s] || s;
  };

  const words = (text) => {
    const out = [];
    for (const raw of String(text).toLowerCase().replace(/[’‘]/g, "'").split(/[^a-z0-9']+/)) {
      const w = raw.replace(/^'+|'+$/g, "");
      if (!w || STOP.has(w)) continue;
      for (const part of stem(w).split(" ")) out.push(part);
    }
    return out;
  };

  // An expression up to the names of its symbols: "x.T @ A @ x" and "x.T @ B @ x" agree.
  const shapeKey = (text) => {
    let t = String(text).replace(/\b(?:trace|Tr)\(/g, "tr(").replace(/\s+/g, " ").replace(/\^T\b|'/g, ".T").replace(/\^-1\b/g, "**-1");
    const names = new Map();
    const canon = (name) => {
      if (FUNCTIONS.has(name)) return name;
      if (!names.has(name)) {
        const k = /^[A-Z]/.test(name) ? "M" : name.length === 1 ? "v" : "s";
        names.set(name, `${k}${names.size}`);
      }
      return names.get(name);
    };
    t = t.replace(/[A-Za-z_][A-Za-z0-9_]*/g, (name) => {
      if (!FUNCTIONS.has(name) && /^[A-Z]{2,4}$/.test(name)) return [...name].map(canon).join(" ");
      return canon(name);
    });
    return t.replace(/\s*@\s*|\s*\*\s*(?!\*)|\s+/g, "").replace(/\*\*/g, "^");
  };

  const looksLikeExpression = (q) =>
    (/[@()^*\/+]|\.T\b|\|\||[A-Za-z0-9)]'(?![a-z])/.test(q)) && /[A-Za-z]/.test(q)
    && !/^\s*(cookbook|eq)\b/i.test(q);

  /* The expression to ask for a query that reads as one: {q, wrt} or null.
   * "d/dX tr(A X B)" -> {q: "tr(A @ X @ B)", wrt: "X"}; juxtaposed operands become @. */
  const askable = (query) => {
    let q = String(query).trim();
    if (!looksLikeExpression(q)) return null;
    let wrt = "";
    const d = q.match(/^(?:d\s*\/\s*d|∂\s*\/\s*∂)\s*([A-Za-z_][A-Za-z0-9_]*)\s*(.*)$/);
    if (d) { wrt = d[1]; q = d[2]; }
    // other tools' notations, rewritten where the link shows them: trace( -> tr(, X^T / X' -> X.T
    q = q.replace(/\b(?:trace|Tr)\(/g, "tr(").replace(/\^T\b|\^\{T\}|'/g, ".T").replace(/\^\{?-1\}?/g, " ** -1");
    q = q.replace(/\b(?![a-z]{2,})([A-Z]{2,4})\b/g, (m) => (FUNCTIONS.has(m) ? m : [...m].join(" @ ")));
    q = q.replace(/([A-Za-z0-9_)]|\.T)\s+(?=[A-Za-z_(])/g, (m, a, off, s) => {
      const before = s.slice(0, off + a.length);
      return /\b(tr|det|logdet|inv|norm|exp|log)$/.test(before) ? m : `${a} @ `;
    });
    q = q.replace(/\s+/g, " ").trim();
    if (!q) return null;
    return { q, wrt };
  };

  const buildIndex = (data) => {
    const records = data.records.map(([id, title, kind, url, latex, cookbook, strong, weak, lhs, status], order) => {
      const fields = new Map();     // word -> the sum of the weights of the fields holding it
      const add = (text, weight) => {
        for (const w of new Set(words(text))) fields.set(w, (fields.get(w) || 0) + weight);
      };
      add(weak, 2);
      add(strong, 6);
      add(id.replace(/-/g, " "), 4);
      add(title, 10);
      return { id, title, kind, url, latex, cookbook, status, order, fields,
        titleText: words(title).join(" "), titleLength: words(title).length, notesText: words(weak).join(" "), lhsKey: shapeKey(lhs), lhsText: lhs.replace(/[\s@]+/g, "") };
    });
    const df = new Map();
    for (const r of records) for (const w of r.fields.keys()) df.set(w, (df.get(w) || 0) + 1);
    return { records, df, n: records.length };
  };

  const search = (index, query, limit = 50) => {
    const q = String(query || "").trim();
    if (!q) return [];
    const expr = askable(q);
    // a number is a Cookbook equation, except in an expression (x ** 2)
    const numbers = expr ? [] : [...q.matchAll(/\b\d+\b/g)].map((m) => Number(m[0]));
    // the words of a query; of an expression only its functions' names (not its symbols)
    const terms = [...new Set(expr
      ? [...q.matchAll(/([A-Za-z]+)\s*\(/g)].flatMap((m) => words(m[1]))
      : words(q.replace(/\b\d+\b/g, " ")).filter((w) => w !== "cookbook"))];
    const key = expr ? shapeKey(expr.q) : null;
    const literal = expr ? expr.q.replace(/[\s@]+/g, "") : null;
    const idf = (w) => Math.log(1 + index.n / (index.df.get(w) || 0.5));
    const phrase = terms.join(" ");
    const scored = [];
    for (const r of index.records) {
      let score = 0, matched = 0;
      for (const w of terms) {
        let best = r.fields.get(w) || 0;
        if (!best && w.length >= 4) {
          for (const [f, weight] of r.fields) if (f.startsWith(w)) best = Math.max(best, weight / 2);
        }
        if (best) { matched += 1; score += best * idf(w) * (w.length === 1 ? 0.3 : 1); }
      }
      // a phrase found whole, in the title or as a name in the notes ("matrix inversion lemma")
      const all = terms.reduce((sum, w) => sum + idf(w), 0);
      if (terms.length > 1 && r.titleText.includes(phrase)) score += 10 * all;
      else if (terms.length > 1 && r.notesText.includes(phrase)) score += 8 * all;
      if (numbers.length) {
        const hits = numbers.filter((n) => r.cookbook.includes(n)).length;
        if (!hits) continue;                     // an equation number is exact
        score += 100 * hits;
      }
      if (key) {
        if (r.lhsKey === key) score += r.lhsText === literal ? 250 : 200;   // the same names: first
        else if (key.length >= 4 && (r.lhsKey.includes(key) || key.includes(r.lhsKey))) score += 20;
      }
      if (!score) continue;
      score /= 1 + 0.03 * r.titleLength;         // of two titles saying it, the shorter is more to the point
      if ((r.fields.get("basic") || 0) >= 6) score *= 1.05;
      scored.push({ r, score, matched });
    }
    scored.sort((a, b) => b.matched - a.matched || b.score - a.score
      || a.r.id.length - b.r.id.length || a.r.order - b.r.order);
    return scored.slice(0, limit).map(({ r, score }) => ({ ...r, score }));
  };

  return { words, shapeKey, looksLikeExpression, askable, buildIndex, search };
})();

if (typeof module !== "undefined" && module.exports) {
  module.exports = MatidentSearch;
} else {
  (() => {
    const root = new URL(document.documentElement.dataset.content_root || "./", document.baseURI);
    const askHref = ({ q, wrt }) => {
      const p = new URLSearchParams({ q });
      if (wrt) p.set("wrt", wrt);
      return new URL(`ask.html?${p}`, root).href;
    };
    const askLink = (query) => {
      const a = MatidentSearch.askable(query);
      if (!a) return null;
      const link = document.createElement("a");
      link.href = askHref(a);
      link.className = "mi-ask-link";
      link.append("Ask matident: ");
      const code = document.createElement("code");
      code.textContent = a.q + (a.wrt ? `, with respect to ${a.wrt}` : "");
      link.append(code);
      return link;
    };

    // The sidebar's search box: an expression gets a link to the Ask page as you type.
    const sidebar = () => {
      for (const form of document.querySelectorAll("form.sidebar-search-container")) {
        const input = form.querySelector("input[name=q]");
        if (!input) continue;
        const slot = document.createElement("p");
        slot.className = "mi-sidebar-ask";
        slot.hidden = true;
        form.after(slot);
        const update = () => {
          const link = askLink(input.value);
          slot.replaceChildren(...(link ? [link] : []));
          slot.hidden = !link;
        };
        input.addEventListener("input", update);
        update();
      }
    };

    let katex = null;
    const loadKatex = () => {
      katex ??= new Promise((resolve) => {
        const s = document.createElement("script");
        s.src = new URL("_static/katex/katex.min.js", root).href;
        s.onload = () => resolve(window.katex);
        s.onerror = () => resolve(null);            // the titles still show; statements as text
        document.head.append(s);
      });
      return katex;
    };

    // Sphinx's highlighter (?highlight=x) wraps a match inside an SVG in a <tspan> and calls
    // getBBox() on its parent, which the theme's hidden icon <title>s lack: "TypeError:
    // parent.getBBox is not a function" for nearly every matrix query.  It skips elements of
    // class "nohighlight"; this runs before it (this file loads first, priority 150 in conf.py).
    const guardHighlight = () => {
      for (const el of document.querySelectorAll("svg *")) {
        if (typeof el.getBBox !== "function") el.classList.add("nohighlight");
      }
    };

    const searchPage = async () => {
      const results = document.getElementById("search-results");
      if (!results || typeof Search === "undefined") return;
      // Sphinx's page results without the identities shown above (sections of the topic
      // pages, anchored by id); installed now, before Sphinx's search runs.
      const perform = Search._performSearch;
      Search._performSearch = (...args) => perform(...args)
        .filter(([docname, , anchor]) => !(docname.startsWith("identities/") && anchor));
      const box = document.createElement("section");
      box.id = "mi-identity-results";
      box.setAttribute("aria-label", "Identities");
      results.before(box);
      const input = document.querySelector("#mi-search-form input[name=q]");
      const [data, kx] = await Promise.all([
        fetch(new URL("_static/matident-identities.json", root)).then((r) => r.json()),
        loadKatex(),
      ]);
      const index = MatidentSearch.buildIndex(data);

      let shown = 10;
      const render = (query) => {
        const start = performance.now();
        const found = MatidentSearch.search(index, query, 200);
        const parts = [];
        const ask = askLink(query);
        if (ask) {
          const p = document.createElement("p");
          p.className = "mi-search-ask";
          p.append(ask, " — the identities that apply to it, and its derivative step by step.");
          parts.push(p);
        }
        const h = document.createElement("h2");
        h.textContent = found.length ? `Identities (${found.length}${found.length === 200 ? "+" : ""})` : "No identity found";
        parts.push(h);
        const list = document.createElement("ol");
        list.className = "mi-search-identities";
        for (const r of found.slice(0, shown)) {
          const li = document.createElement("li");
          li.dataset.recordId = r.id;
          const a = document.createElement("a");
          a.href = new URL(r.url, root).href;
          a.textContent = r.title;
          const meta = document.createElement("span");
          meta.className = "mi-search-meta";
          meta.textContent = ` ${r.kind}${r.cookbook.length ? ` · Cookbook eq. ${r.cookbook.join(", ")}` : ""} · ${r.id}`;
          const math = document.createElement("div");
          math.className = "mi-search-statement";
          if (kx) {
            try { kx.render(r.latex, math, { displayMode: false, throwOnError: true, output: "html" }); }
            catch { math.textContent = r.latex; }
          } else math.textContent = r.latex;
          li.append(a, meta, math);
          list.append(li);
        }
        parts.push(list);
        if (found.length > shown) {
          const more = document.createElement("button");
          more.type = "button";
          more.className = "mi-search-more";
          more.textContent = `Show ${Math.min(found.length, 50) - shown} more`;
          more.addEventListener("click", () => { shown = 50; render(query); });
          if (shown < 50) parts.push(more);
        }
        box.replaceChildren(...parts);
        box.dataset.query = query;
        box.dataset.searchMs = (performance.now() - start).toFixed(1);
        box.dataset.searchState = "done";
      };
      const query = new URLSearchParams(location.search).get("q") || "";
      if (input) {
        input.value = query;
        let timer = null;
        input.addEventListener("input", () => {
          clearTimeout(timer);
          timer = setTimeout(() => {
            shown = 10;
            history.replaceState(null, "", `?${new URLSearchParams({ q: input.value })}`);
            render(input.value);
          }, 60);
        });
      }
      render(query);
    };

    // Keyboard users scroll a wide code block or formula with the arrow keys once it can take
    // the focus (axe: scrollable-region-focusable); the theme's two <aside>s get names.
    const accessible = () => {
      const scrollers = "pre, .table-wrapper, .katex-display, .mi-row-statement, .mi-search-statement, .mi-ask-display";
      for (const el of document.querySelectorAll(scrollers)) {
        if (el.scrollWidth > el.clientWidth + 1 && !el.hasAttribute("tabindex")) el.setAttribute("tabindex", "0");
      }
      // a link that is all formula (a typeset title in the page's contents) is named by its TeX
      for (const a of document.querySelectorAll("a:not([aria-label])")) {
        if (!a.querySelector(".katex")) continue;
        const words = a.cloneNode(true);
        words.querySelectorAll(".katex").forEach((k) => k.remove());
        if (words.textContent.trim()) continue;
        const tex = [...a.querySelectorAll(".katex annotation")].map((n) => n.textContent).join(" ");
        if (tex) a.setAttribute("aria-label", tex);
      }
      document.querySelector("aside.sidebar-drawer")?.setAttribute("aria-label", "Site navigation");
      document.querySelector("aside.toc-drawer")?.setAttribute("aria-label", "On this page");
    };

    document.addEventListener("DOMContentLoaded", () => {
      guardHighlight();
      accessible();
      window.addEventListener("load", accessible);        // after the fonts: widths are final
      sidebar();
      searchPage();
    });
  })();
}
