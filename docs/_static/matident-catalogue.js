/* Filter the table of the catalogue page (table.mi-catalogue) as you type.
 *
 * Every word typed must occur in a row's id, title, kind, tags, operator
 * words or text; a word of digits must be one of the row's Cookbook
 * equations.  "?q=words" in the address fills the box.  Pages without the
 * table are left alone.  No dependencies, nothing loaded from elsewhere.
 */
document.addEventListener("DOMContentLoaded", () => {
  const table = document.querySelector("table.mi-catalogue");
  const box = document.querySelector(".mi-filter");
  if (!table || !box) return;
  const input = box.querySelector("input");
  const count = box.querySelector(".mi-filter-count");
  const rows = [...table.tBodies[0].rows].map((row) => {
    const terms = row.querySelector(".mi-terms");
    const text = (terms ? terms.textContent : row.textContent).toLowerCase();
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
});
