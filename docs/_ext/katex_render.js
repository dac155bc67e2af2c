"use strict";
// Typesets formulas for docs/_ext/matident_katex.py.
//
//   node katex_render.js /path/to/katex.min.js
//
// One JSON request per line on stdin, {"latex": "...", "options": {...}}; one
// JSON reply per line on stdout, {"html": "..."} or {"error": "..."}.  Exits
// when stdin closes -- that is, when the Python process that started it ends,
// however it ends -- so no renderer outlives a build.
const readline = require("readline");
const katex = require(process.argv[2]);

const lines = readline.createInterface({ input: process.stdin, crlfDelay: Infinity, terminal: false });
lines.on("line", (line) => {
  let reply;
  try {
    const request = JSON.parse(line);
    reply = { html: katex.renderToString(request.latex, request.options || {}) };
  } catch (e) {
    reply = { error: String((e && e.message) || e) };
  }
  process.stdout.write(JSON.stringify(reply) + "\n");
});
lines.on("close", () => process.exit(0));
