/* Filter the table of the catalogue page (table.mi-catalogue) as you type, and
 * typeset each statement (its LaTeX in data-latex) when its row scrolls into view.
 *
 * Every word typed must occur in a row's id, title, kind, tags, operator
 * words or text (the row's text, with its hidden .mi-terms); a word of
 * digits must be one of the row's Cookbook equations.  "?q=words" in the
 * address fills the box.  Pages without the table are left alone.  No
 * dependencies, nothing loaded from elsewhere.
 */
document.addEventListener("DOMContentLoaded", () => {
  const table = document.querySelector("table.mi-catalogue");
  const box = document.querySelector(".mi-filter");
  if (!table || !box) return;
  const input = box.querySelector("input");
  const count = box.querySelector(".mi-filter-count");
  const rows = [...table.tBodies[0].rows].map((row) => {
    // the row's text: its id, statement and kind, and the hidden .mi-terms (title, tags, words)
    const text = row.textContent.toLowerCase();
    const equations = new Set((text.match(/\beq\d+\b/g) || []).map((e) => e.slice(2)));
    return { row, text, equations };
  });

  const apply = () => {
    const words = input.value.toLowerCase().split(/[\s,]+/).filter(Boolean);
    let shown = 0;
    for (const { row, text, equations } of rows) {
      const match = words.every((w) => {
        const number = w.replace(/^(eq\.?|cookbook)/, "");
        return /^\d+$/.test(number) ? equations.has(number) : text.includes(w);
      });
      row.hidden = !match;
      if (match) shown += 1;
    }
    count.textContent = `${shown} of ${rows.length} identities`;
  };

  box.hidden = false;
  input.value = new URLSearchParams(window.location.search).get("q") || "";
  input.addEventListener("input", apply);
  apply();

  // KaTeX (from this site) typesets the statements on screen; the text form shows until then.
  const root = new URL(document.documentElement.dataset.content_root || "./", document.baseURI);
  let katex = null;
  const loadKatex = () => {
    katex ??= new Promise((resolve) => {
      const s = document.createElement("script");
      s.src = new URL("_static/katex/katex.min.js", root).href;
      s.onload = () => resolve(window.katex);
      s.onerror = () => resolve(null);
      document.head.append(s);
    });
    return katex;
  };
  const typeset = async (el) => {
    const kx = await loadKatex();
    if (!kx || el.dataset.typeset) return;
    try {
      kx.render(el.dataset.latex, el, { throwOnError: true, output: "html" });
      el.dataset.typeset = "1";
    } catch (e) { /* keep the text form */ }
  };
  const seen = new IntersectionObserver((entries) => {
    for (const entry of entries) {
      if (entry.isIntersecting) { seen.unobserve(entry.target); typeset(entry.target); }
    }
  }, { rootMargin: "400px" });
  table.querySelectorAll(".mi-lazy-math").forEach((el) => seen.observe(el));
});
