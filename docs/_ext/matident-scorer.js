/* Search scoring for the matident docs (conf.py: html_search_scorer; Sphinx puts it in language_data.js).
 *
 * Sphinx's default weights, plus one tie-break: among results of equal
 * score, an identity with a shorter id comes first -- "logdet-derivative"
 * before "logdet-xtx-pinv-derivative" -- since the short ids name the basic
 * rules.  The boost is below 1, so it never reorders different scores.
 */
var Scorer = {
  objNameMatch: 11,
  objPartialMatch: 6,
  objPrio: { 0: 15, 1: 5, 2: -5 },
  objPrioDefault: 0,
  title: 15,
  partialTitle: 7,
  term: 5,
  partialTerm: 2,
  score: (result) => {
    const [, , anchor, , score] = result;
    return anchor ? score + 1 / (2 + anchor.length) : score;
  },
};
