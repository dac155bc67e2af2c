"""ASCII math in prose: where a record's title, condition or note writes math, and its LaTeX.

Records write math in their prose the way people type it: ``Gradient of
tr((X^T X)^-1)``, ``(I + AB)^-1 A = A (I + BA)^-1``, ``||A x - b||^2``,
``A (x) B``, ``X o Y``, ``n x m``.  :func:`math_runs` splits such text into
words and maximal math stretches (a token is math if it has an operator,
``^``, ``|``, a function call, or is a symbol's name; English words are
not); :func:`ascii_math_latex` writes a stretch in LaTeX.  The docs typeset
them (:mod:`matident.sphinxext`), and so does the Ask page, in the browser.
No dependencies: Pyodide imports this too.
"""
from __future__ import annotations

import re


_FUNCTION_LATEX = {"tr": r"\operatorname{tr}", "det": r"\det", "log": r"\log", "ln": r"\ln",
                   "exp": r"\exp", "tanh": r"\tanh", "logdet": r"\log\det", "max": r"\max",
                   "min": r"\min"}
_OPERATOR_NAMES = {"vec", "diag", "diagvec", "adj", "sum", "sigmoid", "softmax", "inv", "pinv", "kron",
                   "norm", "abs", "sqrt", "rank", "sign", "unvec", "hpow", "matpow", "ones", "softplus"}
_GREEK_LATEX = {"eps": r"\epsilon", "lam": r"\lambda", "lamda": r"\lambda", "lambda": r"\lambda",
                "omicron": "o", **{g: "\\" + g for g in ("alpha", "beta", "chi", "delta", "epsilon",
                                                          "eta", "gamma", "iota", "kappa", "mu", "nu",
                                                          "omega", "phi", "psi", "rho", "sigma", "tau",
                                                          "theta", "upsilon", "xi", "zeta", "pi",
                                                          "Sigma", "Lambda", "Delta", "Omega")}}
_ACRONYMS = {"PCA", "SVD", "QR", "LU", "GP", "NLL", "KL", "ML", "SPD", "PSD", "CG", "OLS", "MAP", "ICA",
             "LHS", "RHS", "API", "CLI", "YAML", "ID"}
_MATH_WORDS = set(_FUNCTION_LATEX) | _OPERATOR_NAMES | set(_GREEK_LATEX)
_LETTERS = re.compile(r"[A-Za-z]+")
_MATH_CHARS = re.compile(r"[\^|=<>_+*/@]|\.T\b|\w\(|\(x\)")


def _token_kind(token, previous):
    """'math', 'word' or 'neutral' (a number or an operator: math only between math tokens)."""
    core = token.strip("()[],.;:")
    if not core:
        return "neutral" if token.strip() in ("(", ")") else "word"
    if re.fullmatch(r"-?\d+(\.\d+)?|[-+*/=<>o]|\(x\)|<=|>=|!=|->", core):
        return "neutral"
    for run in _LETTERS.findall(core):
        if len(run) == 1 or run in _MATH_WORDS or run in ("T",):
            continue
        if re.fullmatch(r"d[A-Za-z]", run) or (run.isupper() and len(run) <= 4 and run not in _ACRONYMS):
            continue
        return "word"
    if core in ("a", "A") and not _MATH_CHARS.search(token):
        # "a" is an article; "A" starts a sentence ("A matrix ...") unless the text is math
        if core == "a" or previous is None or previous.endswith((".", ":")):
            return "word"
    return "math"


def math_runs(text):
    """Split prose into [(is_math, text)], math runs being maximal ASCII-math stretches."""
    tokens = re.findall(r"\S+|\s+", text)
    kinds, previous = [], None
    for t in tokens:
        if t.isspace():
            kinds.append("space")
            continue
        kinds.append(_token_kind(t, previous))
        previous = t
    words = [k for k in range(len(tokens)) if kinds[k] != "space"]
    for n, k in enumerate(words):
        core = tokens[k].strip("()[],.;:")
        after = kinds[words[n + 1]] if n + 1 < len(words) else None
        before = kinds[words[n - 1]] if n else None
        if core in _FUNCTION_LATEX or core in _OPERATOR_NAMES:
            # a function's name alone is a word ("the sum of"), unless math follows ("det X")
            kinds[k] = "math" if after == "math" and "(" not in tokens[k] else "word"
        elif core == "A" and kinds[k] == "word" and (after == "math" or n + 1 < len(words) and tokens[
                words[n + 1]].strip(",.;:") in ("and", "or", "is", "are", "has", "may", "must", "can")):
            kinds[k] = "math"                             # "A X != B", "A and B may be ..."
        elif core == "x" and before == "neutral" and after == "neutral":
            kinds[words[n - 1]] = kinds[words[n + 1]] = "math"      # 5 x 3
    runs, i = [], 0
    while i < len(tokens):
        if kinds[i] != "math":
            runs.append((False, tokens[i]))
            i += 1
            continue
        j = i
        end = i
        while j < len(tokens) and kinds[j] in ("math", "neutral", "space"):
            if kinds[j] == "math":
                end = j
            j += 1
        # "x^T A x > 0", "X + 2": an operator and the number after it end the run too
        while True:
            nxt = [k for k in range(end + 1, len(tokens)) if kinds[k] != "space"][:2]
            if len(nxt) == 2 and kinds[nxt[0]] == kinds[nxt[1]] == "neutral" \
                    and re.fullmatch(r"[-+*/=<>]|<=|>=|!=", tokens[nxt[0]]) \
                    and re.fullmatch(r"-?\d+(\.\d+)?[,.;:)]*", tokens[nxt[1]]):
                end = nxt[1]
            else:
                break
        runs.append((True, "".join(tokens[i:end + 1])))
        i = end + 1
    return _balance(runs)


def _balance(runs):
    """Move unmatched brackets and trailing punctuation at the ends of math runs back to the text."""
    out = []
    for is_math, text in runs:
        if not is_math:
            out.append((False, text))
            continue
        lead, trail = "", ""
        while True:
            m = re.search(r"[,.;:]+$", text)
            if m and not text.endswith(".T"):
                trail = m.group() + trail
                text = text[:m.start()]
            if text.count("(") > text.count(")") and text.startswith("("):
                lead, text = lead + "(", text[1:]
            elif text.count(")") > text.count("(") and text.endswith(")"):
                trail, text = ")" + trail, text[:-1]
            else:
                break
        if lead:
            out.append((False, lead))
        if text.strip() and (text.count("(") == text.count(")")) and not text.isdigit():
            out.append((True, text))
        elif text:
            out.append((False, text))
        if trail:
            out.append((False, trail))
    return out


def _exponent(s, i):
    """The exponent after s[i] == '^': (latex, next index)."""
    j = i + 1
    if j < len(s) and s[j] == "(":
        depth, k = 0, j
        while k < len(s):
            depth += {"(": 1, ")": -1}.get(s[k], 0)
            if depth == 0:
                break
            k += 1
        return ascii_math_latex(s[j + 1:k]), k + 1
    m = re.match(r"-?[A-Za-z0-9+]+", s[j:])
    if not m:
        return "", j
    return ascii_math_latex(m.group()) if len(m.group()) > 1 and m.group() not in ("-1", "-T") \
        else m.group(), j + m.end()


def ascii_math_latex(s):
    """LaTeX for ASCII math as records write it: X^T, (A + B)^-1, ||x||_2, tr(A X), A (x) B, X o Y."""
    s = s.replace(".T", "^T")
    out, i = [], 0
    norm_open = abs_open = False
    while i < len(s):
        c = s[i]
        if s.startswith("||", i):
            out.append(r"\rVert " if norm_open else r"\lVert ")
            norm_open = not norm_open
            i += 2
        elif c == "|":
            out.append(r"\rvert " if abs_open else r"\lvert ")
            abs_open = not abs_open
            i += 1
        elif s.startswith("(x)", i):
            out.append(r" \otimes ")
            i += 3
        elif c == "^":
            exp, i = _exponent(s, i)
            out.append("^{" + exp + "}")
        elif c == "_":
            m = re.match(r"[A-Za-z0-9]+", s[i + 1:])
            out.append("_{" + m.group() + "}" if m else r"\_")
            i += 1 + (m.end() if m else 0)
        elif s.startswith(("<=", ">=", "!=", "->"), i):
            out.append({"<=": r" \le ", ">=": r" \ge ", "!=": r" \ne ", "->": r" \to "}[s[i:i + 2]])
            i += 2
        elif c in "*@":
            out.append(" ")
            i += 1
        elif c in "{}%#&$~\\":
            out.append({"{": r"\{", "}": r"\}", "~": r"\sim ", "\\": r"\backslash "}.get(c, "\\" + c))
            i += 1
        elif c.isalpha():
            m = re.match(r"[A-Za-z]+", s[i:])
            word = m.group()
            if word in _FUNCTION_LATEX:
                out.append(_FUNCTION_LATEX[word] + " ")
            elif word in _OPERATOR_NAMES:
                out.append(r"\operatorname{" + word + "}")
            elif word in _GREEK_LATEX:
                out.append(_GREEK_LATEX[word] + " ")
            elif word == "o" and out and s[i + 1:i + 2] in (" ", ""):
                out.append(r"\circ ")
            elif word == "x" and re.search(r"(?<![A-Za-z])(\d+|[kmnpqr])\s+$", s[:i]) \
                    and re.match(r"x\s+(\d+|[kmnpqr])(?![A-Za-z(^])", s[i:]):         # n x m
                out.append(r"\times ")
            elif re.fullmatch(r"d[A-Za-z]", word) or (word == "d" and s[i + 1:i + 2] == "("):
                out.append(r"\mathrm{d}" + word[1:])
            else:
                out.append(word)
            i += m.end()
        else:
            out.append(c)
            i += 1
    latex = "".join(out)
    if norm_open or abs_open:
        latex = latex.replace(r"\lVert ", r"\Vert ").replace(r"\rVert ", r"\Vert ") \
            .replace(r"\lvert ", r"\vert ").replace(r"\rvert ", r"\vert ")
    return latex
