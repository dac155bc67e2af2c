/* Search-result summaries without raw LaTeX.
 *
 * Sphinx's search page builds each result's summary from the text of the
 * result page.  Every formula there carries KaTeX's visually hidden MathML
 * copy, whose TeX annotation would put "\operatorname{tr}\left(..." next to
 * each formula in the summary.  Drop that copy; the typeset text remains.
 * (On pages other than search.html, Search is not defined and this does
 * nothing.)
 */
document.addEventListener("DOMContentLoaded", () => {
  if (typeof Search === "undefined" || typeof Search.htmlToText !== "function") return;
  const htmlToText = Search.htmlToText;
  Search.htmlToText = (htmlString, anchor) => {
    const doc = new DOMParser().parseFromString(htmlString, "text/html");
    doc.querySelectorAll(".katex-mathml").forEach((el) => el.remove());
    return htmlToText(doc.documentElement.outerHTML, anchor);
  };
});
