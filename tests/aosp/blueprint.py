"""A reader for the Blueprint (Android.bp) subset this repository writes: modules
`type { name: value, ... }` whose values are strings, booleans, integers, lists and maps, with
`//` and `/* */` comments. Used by the off-tree AOSP checks (tests/aosp/); bpfmt keeps the files
in the one layout this reads.
"""

import re
from pathlib import Path

TOKEN = re.compile(r'\s+|//[^\n]*|/\*.*?\*/|"(?:\\.|[^"\\])*"|[A-Za-z_][A-Za-z0-9_]*|-?\d+|[{}\[\]:,=+]', re.S)


def tokens(text, where):
    pos = 0
    out = []
    while pos < len(text):
        m = TOKEN.match(text, pos)
        if not m:
            raise ValueError(f"{where}: cannot read at offset {pos}: {text[pos:pos + 20]!r}")
        tok = m.group(0)
        pos = m.end()
        if tok.isspace() or tok.startswith("//") or tok.startswith("/*"):
            continue
        out.append(tok)
    return out


class Parser:
    def __init__(self, toks, where):
        self.toks, self.i, self.where = toks, 0, where

    def peek(self):
        return self.toks[self.i] if self.i < len(self.toks) else None

    def take(self, expected=None):
        tok = self.peek()
        if tok is None or (expected is not None and tok != expected):
            raise ValueError(f"{self.where}: expected {expected!r}, found {tok!r}")
        self.i += 1
        return tok

    def value(self):
        tok = self.take()
        if tok.startswith('"'):
            return bytes(tok[1:-1], "utf-8").decode("unicode_escape")
        if tok in ("true", "false"):
            return tok == "true"
        if tok == "[":
            items = []
            while self.peek() != "]":
                items.append(self.value())
                if self.peek() == ",":
                    self.take(",")
            self.take("]")
            return items
        if tok == "{":
            return self.properties()
        if re.fullmatch(r"-?\d+", tok):
            return int(tok)
        raise ValueError(f"{self.where}: unexpected {tok!r}")

    def properties(self):
        props = {}
        while self.peek() != "}":
            key = self.take()
            self.take(":")
            props[key] = self.value()
            if self.peek() == ",":
                self.take(",")
        self.take("}")
        return props

    def modules(self):
        mods = []
        while self.peek() is not None:
            kind = self.take()
            self.take("{")
            props = self.properties()
            props["__type__"] = kind
            mods.append(props)
        return mods


def read(path: Path) -> list:
    """The modules of one Android.bp, each a dict of its properties plus `__type__`."""
    return Parser(tokens(path.read_text(), str(path)), str(path)).modules()


def resolve_defaults(modules: list) -> list:
    """Each module with its `defaults` merged in as Soong merges them (lists appended, scalars
    taken from the module when it sets them)."""
    by_name = {m.get("name"): m for m in modules if m["__type__"].endswith("_defaults")}

    def merged(m, seen=()):
        out = {}
        for d in m.get("defaults", []):
            if d in seen:
                raise ValueError(f"defaults cycle at {d}")
            base = merged(by_name[d], seen + (d,)) if d in by_name else {}
            for k, v in base.items():
                out[k] = out.get(k, []) + v if isinstance(v, list) and isinstance(out.get(k), list) else v
        for k, v in m.items():
            if k == "defaults":
                continue
            if isinstance(v, list) and isinstance(out.get(k), list):
                out[k] = out[k] + v
            else:
                out[k] = v
        return out

    return [merged(m) for m in modules if not m["__type__"].endswith("_defaults")]
