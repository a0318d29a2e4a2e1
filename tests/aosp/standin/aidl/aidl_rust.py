#!/usr/bin/env python3
"""Writes a type-level stand-in for the Rust crate AOSP's `aidl --lang=rust` generates from the
interface (`<package>-V<N>-rust`), from the same .aidl sources, for the off-tree Soong lint check
(tests/aosp/soong_clippy.py). Debian's aidl (Android 10) has no Rust backend, so the shapes are
written here, after system/tools/aidl `generate_rust.cpp` and `aidl_to_rust.cpp` (android-15 /
android-16), for the subset of AIDL this interface uses:

- parcelable -> `pub struct X { pub field: T }` deriving `Debug` plus the `@RustDerive` traits,
  with `Default`; fields of types without a default (ParcelFileDescriptor, interfaces) are
  `Option<T>`; its constants are `pub const NAME: T` in the type's module.
- enum -> `pub struct X(pub i32)` (declare_binder_enum!) with associated constants.
- interface -> `pub trait IX: binder::Interface + Send` whose methods return `binder::Result<T>`,
  `BnX::new_binder(inner, BinderFeatures)`, `BpX`, `FromIBinder for dyn IX`, `VERSION`, `HASH`.
- in-arguments: primitives and enums by value, `String` as `&str`, arrays as `&[T]`, the rest by
  reference; `@nullable` as `Option<..>`.

Nothing it writes runs: method bodies are `unreachable!`.

  aidl_rust.py AIDL_ROOT PACKAGE VERSION HASH OUT.rs
"""

import re
import sys
from pathlib import Path

PRIMITIVES = {"int": "i32", "long": "i64", "boolean": "bool", "byte": "i8", "char": "u16",
              "float": "f32", "double": "f64", "void": "()"}
KEYWORDS = {"type", "match", "ref", "self", "fn", "impl", "mod", "move", "use", "where", "loop",
            "box", "in", "struct", "enum", "trait", "const", "static", "async", "await"}


def strip_comments(text):
    return re.sub(r"/\*.*?\*/|//[^\n]*", "", text, flags=re.S)


def ident(name):
    return f"r#{name}" if name in KEYWORDS else name


class Decl:
    def __init__(self, kind, name, annotations, body, oneway):
        self.kind, self.name, self.annotations, self.body, self.oneway = kind, name, annotations, body, oneway


def parse(path):
    text = strip_comments(path.read_text())
    m = re.search(r"((?:@\w+(?:\([^)]*\))?\s*)*)(oneway\s+)?(parcelable|enum|interface)\s+(\w+)\s*\{(.*)\}", text, re.S)
    if not m:
        sys.exit(f"aidl_rust: {path}: no parcelable, enum or interface")
    return Decl(m.group(3), m.group(4), m.group(1), m.group(5), bool(m.group(2)))


class Generator:
    def __init__(self, decls):
        self.decls = {d.name: d for d in decls}

    def is_enum(self, name):
        return name in self.decls and self.decls[name].kind == "enum"

    def is_interface(self, name):
        return name in self.decls and self.decls[name].kind == "interface"

    def owned(self, t):
        """The Rust type of a field or a return value."""
        nullable = "@nullable" in t
        t = t.replace("@nullable", "").strip()
        if t.endswith("[]"):
            inner = t[:-2].strip()
            rust = "Vec<u8>" if inner == "byte" else f"Vec<{self.owned(inner)}>"
        elif t in PRIMITIVES:
            rust = PRIMITIVES[t]
        elif t == "String":
            rust = "String"
        elif t == "ParcelFileDescriptor":
            rust = "binder::ParcelFileDescriptor"
        elif self.is_interface(t):
            rust = f"binder::Strong<dyn super::{t}::{t}>"
        elif t in self.decls:
            rust = f"super::{t}::{t}"
        else:
            sys.exit(f"aidl_rust: unknown type {t}")
        return f"Option<{rust}>" if nullable else rust

    def argument(self, t):
        """The Rust type of an `in` argument."""
        nullable = "@nullable" in t
        t = re.sub(r"@nullable|\bin\b", "", t).strip()
        if t in PRIMITIVES or self.is_enum(t):
            rust, by_ref = self.owned(t), False
        elif t == "String":
            rust, by_ref = "str", True
        elif t.endswith("[]"):
            inner = t[:-2].strip()
            rust, by_ref = ("[u8]" if inner == "byte" else f"[{self.owned(inner)}]"), True
        else:
            rust, by_ref = self.owned(t), True
        if nullable:
            return f"Option<&{rust}>" if by_ref else f"Option<{rust}>"
        return f"&{rust}" if by_ref else rust

    def derives(self, d):
        derives = ["Debug"]
        m = re.search(r"@RustDerive\(([^)]*)\)", d.annotations)
        if m:
            for part in m.group(1).split(","):
                key, _, value = part.partition("=")
                if value.strip() == "true":
                    derives.append(key.strip())
        return derives

    def parcelable(self, d):
        out = [f"pub mod {d.name} {{", "    #![allow(non_upper_case_globals, non_snake_case, dead_code)]"]
        fields = []
        for stmt in d.body.split(";"):
            stmt = " ".join(stmt.split())
            if not stmt:
                continue
            if stmt.startswith("const "):
                m = re.match(r"const (\S+) (\w+) = (.+)", stmt)
                out.append(f"    pub const {m.group(2)}: {self.owned(m.group(1))} = {m.group(3)};")
                continue
            decl = stmt.split("=")[0].strip()
            m = re.match(r"((?:@\w+\s+)*)(\S+(?:\s*\[\])?)\s+(\w+)$", decl)
            if not m:
                sys.exit(f"aidl_rust: {d.name}: cannot read field {stmt!r}")
            ftype = m.group(2).strip()
            rust = self.owned(f"{m.group(1)} {ftype}")
            # Types without a default value (fds, binders) are always optional in a parcelable
            # (aidl_to_rust.cpp: a non-nullable field of such a type still reads as Option).
            if (ftype == "ParcelFileDescriptor" or self.is_interface(ftype)) and not rust.startswith("Option<"):
                rust = f"Option<{rust}>"
            fields.append((m.group(3), rust))
        out.append(f"    #[derive({', '.join(self.derives(d))})]")
        out.append(f"    pub struct {d.name} {{")
        out += [f"        pub {ident(n)}: {t}," for n, t in fields]
        out.append("    }")
        out.append(f"    impl Default for {d.name} {{")
        out.append("        fn default() -> Self {")
        out.append("            unreachable!(\"type-level stand-in\")")
        out.append("        }")
        out.append("    }")
        out.append("}")
        return out

    def enum(self, d):
        out = [f"pub mod {d.name} {{", "    #![allow(non_upper_case_globals, non_snake_case)]",
               "    #[derive(Debug, Default, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]",
               f"    pub struct {d.name}(pub i32);", f"    impl {d.name} {{"]
        for item in d.body.split(","):
            item = item.strip()
            if item:
                name, _, value = item.partition("=")
                out.append(f"        pub const {name.strip()}: {d.name} = {d.name}({value.strip()});")
        out.append("    }")
        out.append("}")
        return out

    def interface(self, d, version, hash_):
        n = d.name
        bn, bp = "Bn" + n[1:], "Bp" + n[1:]
        out = [f"pub mod {n} {{", "    #![allow(non_upper_case_globals, non_snake_case, dead_code)]",
               f"    pub const VERSION: i32 = {version};", f"    pub const HASH: &str = \"{hash_}\";",
               f"    pub trait {n}: binder::Interface + Send {{",
               f"        fn get_descriptor() -> &'static str where Self: Sized {{ \"{PACKAGE}.{n}\" }}"]
        for stmt in d.body.split(";"):
            stmt = " ".join(stmt.split())
            if not stmt:
                continue
            m = re.match(r"(?:oneway\s+)?((?:@\w+\s+)*\S+(?:\s*\[\])?)\s+(\w+)\s*\((.*)\)$", stmt)
            if not m:
                sys.exit(f"aidl_rust: {n}: cannot read method {stmt!r}")
            ret = self.owned(m.group(1))
            args = ["&self"]
            for arg in filter(None, (a.strip() for a in m.group(3).split(","))):
                am = re.match(r"(.*\S)\s+(\w+)$", arg)
                args.append(f"_arg_{am.group(2)}: {self.argument(am.group(1))}")
            out.append(f"        fn {ident(m.group(2))}({', '.join(args)}) -> binder::Result<{ret}>;")
        out += ["        fn getInterfaceVersion(&self) -> binder::Result<i32> { Ok(VERSION) }",
                "        fn getInterfaceHash(&self) -> binder::Result<String> { Ok(HASH.into()) }",
                "    }",
                f"    pub struct {bn}(());",
                f"    impl {bn} {{",
                f"        pub fn new_binder<T: {n} + binder::Interface + Send + Sync + 'static>(",
                "            _inner: T,",
                "            _features: binder::BinderFeatures,",
                f"        ) -> binder::Strong<dyn {n}> {{",
                "            unreachable!(\"type-level stand-in\")",
                "        }",
                "    }",
                f"    pub struct {bp}(());",
                f"    impl binder::FromIBinder for dyn {n} {{",
                f"        fn try_from(_ibinder: binder::SpIBinder) -> Result<binder::Strong<dyn {n}>, binder::StatusCode> {{",
                "            unreachable!(\"type-level stand-in\")",
                "        }",
                "    }",
                "}"]
        return out


def main(argv):
    global PACKAGE
    if len(argv) != 6:
        sys.exit(__doc__)
    root, PACKAGE, version, hash_, out = Path(argv[1]), argv[2], argv[3], argv[4], Path(argv[5])
    pkg_dir = root.joinpath(*PACKAGE.split("."))
    decls = [parse(p) for p in sorted(pkg_dir.glob("*.aidl"))]
    gen = Generator(decls)
    lines = ["// @generated by tests/aosp/standin/aidl/aidl_rust.py: a type-level stand-in."]
    parts = PACKAGE.split(".")
    for p in parts:
        lines.append(f"pub mod {p} {{")
    for d in decls:
        if d.kind == "parcelable":
            lines += gen.parcelable(d)
        elif d.kind == "enum":
            lines += gen.enum(d)
        else:
            lines += gen.interface(d, version, hash_)
    lines += ["}"] * len(parts)
    out.write_text("\n".join(lines) + "\n")


if __name__ == "__main__":
    main(sys.argv)
