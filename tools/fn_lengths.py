#!/usr/bin/env python3
"""Usage: python3 tools/fn_lengths.py DIR [LIMIT]. List Rust fns longer than LIMIT lines (fn line .. closing brace, inclusive;
doc comments/attributes above the fn are not counted). Skips tests.rs files and
#[cfg(test)] items/modules. Usage: fnlen.py DIR [LIMIT]"""
import re, sys, pathlib

def strip(src):
    # blank out comments, strings and char literals, keep newlines and braces structure
    out, i, n = [], 0, len(src)
    while i < n:
        c = src[i]
        if src.startswith('//', i):
            j = src.find('\n', i); j = n if j < 0 else j
            out.append(' ' * (j - i)); i = j
        elif src.startswith('/*', i):
            depth, j = 1, i + 2
            while j < n and depth:
                if src.startswith('/*', j): depth += 1; j += 2
                elif src.startswith('*/', j): depth -= 1; j += 2
                else: j += 1
            out.append(re.sub(r'[^\n]', ' ', src[i:j])); i = j
        elif re.match(r'b?r#*"', src[i:i+40]):
            m = re.match(r'b?r(#*)"', src[i:]); hashes = m.group(1)
            j = src.find('"' + hashes, i + m.end()); j = n if j < 0 else j + 1 + len(hashes)
            out.append(re.sub(r'[^\n]', ' ', src[i:j])); i = j
        elif c == '"':
            j = i + 1
            while j < n and src[j] != '"':
                j += 2 if src[j] == '\\' else 1
            j += 1
            out.append(re.sub(r'[^\n]', ' ', src[i:j])); i = j
        elif c == "'":
            m = re.match(r"'(\\.[^']*|[^\\'])'", src[i:])
            if m:
                out.append(' ' * m.end()); i += m.end()
            else:
                out.append(c); i += 1  # lifetime
        else:
            out.append(c); i += 1
    return ''.join(out)

def match_brace(s, k):
    depth = 0
    for j in range(k, len(s)):
        if s[j] == '{': depth += 1
        elif s[j] == '}':
            depth -= 1
            if depth == 0: return j
    return len(s) - 1

def fns(path):
    src = path.read_text()
    s = strip(src)
    line_of = lambda off: s.count('\n', 0, off) + 1
    # test regions: #[cfg(test)] followed by an item with a body
    skip = []
    for m in re.finditer(r'#\[cfg\(test\)\]', s):
        k = s.find('{', m.end()); semi = s.find(';', m.end())
        if semi != -1 and semi < k: continue
        skip.append((m.start(), match_brace(s, k)))
    res = []
    for m in re.finditer(r'\bfn\s+([A-Za-z_][A-Za-z0-9_]*)', s):
        if any(a <= m.start() <= b for a, b in skip): continue
        # body: first '{' at depth 0 of parens/brackets before a ';'
        j, par = m.end(), 0
        while j < len(s):
            ch = s[j]
            if ch in '([': par += 1
            elif ch in ')]': par -= 1
            elif ch == ';' and par == 0: j = -1; break
            elif ch == '{' and par == 0: break
            j += 1
        if j < 0 or j >= len(s): continue
        end = match_brace(s, j)
        a, b = line_of(m.start()), line_of(end)
        res.append((b - a + 1, a, m.group(1)))
    return res

root = pathlib.Path(sys.argv[1]); limit = int(sys.argv[2]) if len(sys.argv) > 2 else 60
rows = []
for p in sorted(root.rglob('*.rs')):
    if p.name == 'tests.rs' or 'tests' in p.parts: continue
    for n, a, name in fns(p):
        if n > limit: rows.append((n, f'{p}:{a}', name))
for n, loc, name in sorted(rows, reverse=True):
    print(f'{n:4} {loc} {name}')
print(f'{len(rows)} fns over {limit} lines', file=sys.stderr)
