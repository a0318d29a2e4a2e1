//! The assembler of the scripted guest's text form (docs/GUEST_ISA.md). Two passes: label
//! addresses first (every instruction is 16 bytes), then encoding. Labels are absolute guest
//! addresses: the program is assembled for the address it is loaded at.

use std::collections::HashMap;

use super::isa::{valid_size, Insn, Op, INSN_SIZE, MAGIC, NO_REG, NUM_REGS};

/// An assembly error at a source line (1-based).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("line {line}: {message}")]
pub struct AsmError {
    /// 1-based line number.
    pub line: usize,
    /// What is wrong.
    pub message: String,
}

/// The largest program image (magic, code and data) the assembler produces.
pub const MAX_IMAGE: u64 = 16 << 20;
/// The largest `.align`.
const MAX_ALIGN: u64 = 1 << 20;

/// Exit type names usable as `exit` operands (the driver's `gh_vm_exit_info.type`).
pub const EXIT_TYPES: &[(&str, u32)] = &[
    ("VM_EXIT", 0),
    ("PSCI_POWER_OFF", 1),
    ("PSCI_SYSTEM_RESET", 2),
    ("PSCI_SYSTEM_RESET2", 3),
    ("WDT_BITE", 4),
    ("HYP_ERROR", 5),
    ("ASYNC_EXT_ABORT", 6),
    ("VM_FORCE_STOPPED", 7),
];

enum Item<'a> {
    Insn {
        mnemonic: &'a str,
        operands: Vec<&'a str>,
    },
    Data(Vec<u8>),
    Align(u64),
}

struct Line<'a> {
    number: usize,
    item: Item<'a>,
}

fn strip_comment(line: &str) -> &str {
    let mut in_string = false;
    let mut escaped = false;
    for (i, ch) in line.char_indices() {
        match ch {
            _ if escaped => escaped = false,
            '\\' if in_string => escaped = true,
            '"' => in_string = !in_string,
            ';' | '#' if !in_string => return &line[..i],
            _ => {}
        }
    }
    line
}

/// Splits operands at commas outside strings and brackets.
fn split_operands(s: &str) -> Vec<&str> {
    let mut out = Vec::new();
    let (mut start, mut depth, mut in_string, mut escaped) = (0, 0, false, false);
    for (i, ch) in s.char_indices() {
        match ch {
            _ if escaped => escaped = false,
            '\\' if in_string => escaped = true,
            '"' => in_string = !in_string,
            '[' if !in_string => depth += 1,
            ']' if !in_string => depth -= 1,
            ',' if !in_string && depth == 0 => {
                out.push(s[start..i].trim());
                start = i + 1;
            }
            _ => {}
        }
    }
    let last = s[start..].trim();
    if !last.is_empty() || !out.is_empty() {
        out.push(last);
    }
    out
}

fn parse_string(s: &str) -> Result<Vec<u8>, String> {
    let inner = s
        .strip_prefix('"')
        .and_then(|s| s.strip_suffix('"'))
        .ok_or_else(|| format!("expected a string in double quotes, got {s:?}"))?;
    let mut out = Vec::new();
    let mut chars = inner.chars();
    while let Some(ch) = chars.next() {
        if ch != '\\' {
            let mut buf = [0u8; 4];
            out.extend_from_slice(ch.encode_utf8(&mut buf).as_bytes());
            continue;
        }
        match chars.next() {
            Some('n') => out.push(b'\n'),
            Some('r') => out.push(b'\r'),
            Some('t') => out.push(b'\t'),
            Some('0') => out.push(0),
            Some('\\') => out.push(b'\\'),
            Some('"') => out.push(b'"'),
            Some('x') => {
                let hex: String = chars.by_ref().take(2).collect();
                out.push(u8::from_str_radix(&hex, 16).map_err(|_| format!("bad escape \\x{hex}"))?);
            }
            other => {
                return Err(format!(
                    "unknown escape \\{}",
                    other.map_or(String::new(), String::from)
                ))
            }
        }
    }
    Ok(out)
}

fn parse_number(s: &str) -> Option<u64> {
    let s = s.replace('_', "");
    let (neg, digits) = match s.strip_prefix('-') {
        Some(rest) => (true, rest.to_string()),
        None => (false, s),
    };
    let v = if let Some(hex) = digits
        .strip_prefix("0x")
        .or_else(|| digits.strip_prefix("0X"))
    {
        u64::from_str_radix(hex, 16).ok()?
    } else {
        digits.parse::<u64>().ok()?
    };
    Some(if neg { v.wrapping_neg() } else { v })
}

fn is_label(s: &str) -> bool {
    let mut chars = s.chars();
    chars
        .next()
        .is_some_and(|c| c.is_ascii_alphabetic() || c == '_')
        && chars.all(|c| c.is_ascii_alphanumeric() || c == '_' || c == '.')
}

struct Assembler<'a> {
    labels: HashMap<&'a str, u64>,
}

impl Assembler<'_> {
    fn reg(&self, s: &str) -> Result<u8, String> {
        s.strip_prefix('r')
            .and_then(|n| n.parse::<u8>().ok())
            .filter(|n| *n < NUM_REGS)
            .ok_or_else(|| format!("expected a register r0..r{}, got {s:?}", NUM_REGS - 1))
    }

    fn value(&self, s: &str) -> Result<u64, String> {
        if let Some(v) = parse_number(s) {
            return Ok(v);
        }
        if let Some((_, v)) = EXIT_TYPES.iter().find(|(name, _)| *name == s) {
            return Ok(u64::from(*v));
        }
        if is_label(s) {
            return self
                .labels
                .get(s)
                .copied()
                .ok_or_else(|| format!("unknown label {s:?}"));
        }
        Err(format!("expected a number or a label, got {s:?}"))
    }

    fn imm32(&self, s: &str) -> Result<u32, String> {
        let v = self.value(s)?;
        u32::try_from(v)
            .or_else(|_| i32::try_from(v as i64).map(|x| x as u32))
            .map_err(|_| format!("{s} does not fit in 32 bits"))
    }

    /// `[rN]`, `[rN + off]`, `[rN - off]`, `[addr]` → (base register, offset).
    fn address(&self, s: &str) -> Result<(u8, u64), String> {
        let inner = s
            .strip_prefix('[')
            .and_then(|s| s.strip_suffix(']'))
            .ok_or_else(|| format!("expected an address in brackets, got {s:?}"))?
            .trim();
        let (base, rest) = match inner.find(['+', '-']) {
            Some(i) if inner.starts_with('r') => (
                inner[..i].trim(),
                Some((&inner[i..i + 1], inner[i + 1..].trim())),
            ),
            _ => (inner, None),
        };
        if base.starts_with('r') && self.reg(base).is_ok() {
            let offset = match rest {
                None => 0,
                Some(("+", off)) => self.value(off)?,
                Some((_, off)) => self.value(off)?.wrapping_neg(),
            };
            Ok((self.reg(base)?, offset))
        } else {
            Ok((NO_REG, self.value(inner)?))
        }
    }

    fn expect_operands(&self, mnemonic: &str, ops: &[&str], n: usize) -> Result<(), String> {
        if ops.len() == n {
            Ok(())
        } else {
            Err(format!(
                "{mnemonic} takes {n} operand(s), got {}",
                ops.len()
            ))
        }
    }

    fn insn(&self, mnemonic: &str, ops: &[&str]) -> Result<Insn, String> {
        let sized = |prefix: &str| -> Option<u8> {
            mnemonic
                .strip_prefix(prefix)
                .and_then(|n| n.parse::<u8>().ok())
                .filter(|n| valid_size(*n))
        };
        let mut insn;
        match mnemonic {
            "mov" | "add" | "sub" => {
                self.expect_operands(mnemonic, ops, 2)?;
                let rd = self.reg(ops[0])?;
                if mnemonic == "mov" && ops[1].starts_with('r') && self.reg(ops[1]).is_ok() {
                    insn = Insn::new(Op::MovR);
                    insn.b = self.reg(ops[1])?;
                } else {
                    insn = Insn::new(match mnemonic {
                        "mov" => Op::Mov,
                        "add" => Op::Add,
                        _ => Op::Sub,
                    });
                    insn.imm64 = self.value(ops[1])?;
                }
                insn.a = rd;
            }
            m if sized("load").is_some() && m.starts_with("load") => {
                self.expect_operands(mnemonic, ops, 2)?;
                insn = Insn::new(Op::Load);
                insn.a = self.reg(ops[0])?;
                (insn.b, insn.imm64) = self.address(ops[1])?;
                insn.c = sized("load").unwrap_or(8);
            }
            m if sized("store").is_some() && m.starts_with("store") => {
                self.expect_operands(mnemonic, ops, 2)?;
                let size = sized("store").unwrap_or(8);
                let (base, offset) = self.address(ops[0])?;
                if ops[1].starts_with('r') && self.reg(ops[1]).is_ok() {
                    insn = Insn::new(Op::Store);
                    insn.a = self.reg(ops[1])?;
                } else {
                    insn = Insn::new(Op::StoreI);
                    insn.imm32 = self.imm32(ops[1])?;
                }
                insn.b = base;
                insn.imm64 = offset;
                insn.c = size;
            }
            "jmp" => {
                self.expect_operands(mnemonic, ops, 1)?;
                insn = Insn::new(Op::Jmp);
                insn.imm64 = self.value(ops[0])?;
            }
            "jz" | "jnz" => {
                self.expect_operands(mnemonic, ops, 2)?;
                insn = Insn::new(if mnemonic == "jz" { Op::Jz } else { Op::Jnz });
                insn.a = self.reg(ops[0])?;
                insn.imm64 = self.value(ops[1])?;
            }
            "jeq" | "jne" => {
                self.expect_operands(mnemonic, ops, 3)?;
                insn = Insn::new(if mnemonic == "jeq" { Op::Jeq } else { Op::Jne });
                insn.a = self.reg(ops[0])?;
                insn.imm32 = self.imm32(ops[1])?;
                insn.imm64 = self.value(ops[2])?;
            }
            "wait" | "sleep" => {
                self.expect_operands(mnemonic, ops, 1)?;
                insn = Insn::new(if mnemonic == "wait" {
                    Op::Wait
                } else {
                    Op::Sleep
                });
                insn.imm32 = self.imm32(ops[0])?;
            }
            "idle" | "crash" => {
                self.expect_operands(mnemonic, ops, 0)?;
                insn = Insn::new(if mnemonic == "idle" {
                    Op::Idle
                } else {
                    Op::Crash
                });
            }
            "exit" => {
                if ops.is_empty() || ops.len() > 2 {
                    return Err("exit takes an exit type and an optional reason string".into());
                }
                insn = Insn::new(Op::Exit);
                insn.imm32 = self.imm32(ops[0])?;
                if let Some(reason) = ops.get(1) {
                    let bytes = parse_string(reason)?;
                    if bytes.len() > 8 {
                        return Err(format!(
                            "the exit reason is {} bytes, at most 8",
                            bytes.len()
                        ));
                    }
                    let mut padded = [0u8; 8];
                    padded[..bytes.len()].copy_from_slice(&bytes);
                    insn.a = bytes.len() as u8;
                    insn.imm64 = u64::from_le_bytes(padded);
                }
            }
            other => return Err(format!("unknown mnemonic {other:?}")),
        }
        Ok(insn)
    }
}

fn parse_data(directive: &str, args: &str) -> Result<Item<'static>, String> {
    let ops = split_operands(args);
    let number = |s: &str| parse_number(s).ok_or_else(|| format!("expected a number, got {s:?}"));
    Ok(match directive {
        ".ascii" | ".asciz" => {
            let mut bytes = parse_string(args.trim())?;
            if directive == ".asciz" {
                bytes.push(0);
            }
            Item::Data(bytes)
        }
        ".byte" => Item::Data(
            ops.iter()
                .map(|o| {
                    number(o).and_then(|v| {
                        u8::try_from(v).map_err(|_| format!("{o} does not fit in a byte"))
                    })
                })
                .collect::<Result<_, _>>()?,
        ),
        ".quad" => Item::Data(
            ops.iter()
                .map(|o| number(o).map(u64::to_le_bytes))
                .collect::<Result<Vec<_>, _>>()?
                .concat(),
        ),
        ".zero" => {
            let n = number(args.trim())?;
            if n > MAX_IMAGE {
                return Err(format!(
                    ".zero {n}: larger than a program may be ({MAX_IMAGE} bytes)"
                ));
            }
            Item::Data(vec![0; n as usize])
        }
        ".align" => {
            let n = number(args.trim())?;
            if !n.is_power_of_two() || n > MAX_ALIGN {
                return Err(format!(".align {n}: not a power of two up to {MAX_ALIGN}"));
            }
            Item::Align(n)
        }
        other => return Err(format!("unknown directive {other:?}")),
    })
}

/// Assembles `source` for loading at guest address `base`: the magic, then the program.
pub fn assemble(source: &str, base: u64) -> Result<Vec<u8>, AsmError> {
    let mut lines = Vec::new();
    let mut labels = HashMap::new();
    let mut offset = MAGIC.len() as u64;
    for (i, raw) in source.lines().enumerate() {
        let number = i + 1;
        let err = |message: String| AsmError {
            line: number,
            message,
        };
        let mut text = strip_comment(raw).trim();
        while let Some(colon) = text.find(':').filter(|c| is_label(text[..*c].trim())) {
            let label = text[..colon].trim();
            if labels.insert(label, base + offset).is_some() {
                return Err(err(format!("label {label:?} defined twice")));
            }
            text = text[colon + 1..].trim();
        }
        if text.is_empty() {
            continue;
        }
        let (head, rest) = text.split_once(char::is_whitespace).unwrap_or((text, ""));
        let item = if head.starts_with('.') {
            parse_data(head, rest).map_err(err)?
        } else {
            Item::Insn {
                mnemonic: head,
                operands: split_operands(rest),
            }
        };
        offset += match &item {
            Item::Insn { .. } => INSN_SIZE,
            Item::Data(bytes) => bytes.len() as u64,
            Item::Align(n) => (n - offset % n) % n,
        };
        if offset > MAX_IMAGE {
            return Err(err(format!("the program is larger than {MAX_IMAGE} bytes")));
        }
        lines.push(Line { number, item });
    }

    let asm = Assembler { labels };
    let mut out = MAGIC.to_vec();
    for line in lines {
        match line.item {
            Item::Insn { mnemonic, operands } => {
                let insn = asm
                    .insn(&mnemonic.to_ascii_lowercase(), &operands)
                    .map_err(|message| AsmError {
                        line: line.number,
                        message,
                    })?;
                out.extend_from_slice(&insn.encode());
            }
            Item::Data(bytes) => out.extend_from_slice(&bytes),
            Item::Align(n) => out.resize(out.len() + ((n - out.len() as u64 % n) % n) as usize, 0),
        }
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn insn_at(bytes: &[u8], index: usize) -> Insn {
        let start = MAGIC.len() + index * INSN_SIZE as usize;
        Insn::decode(bytes[start..start + 16].try_into().unwrap())
    }

    #[test]
    fn test_assemble_hello_shape() {
        let src = r#"
            ; print a string to a UART
            start:  mov r1, msg
            loop:   load1 r0, [r1]
                    jz r0, done
                    store1 [0x9000000], r0      # transmit register
                    add r1, 1
                    jmp loop
            done:   exit PSCI_POWER_OFF, "bye"
            msg:    .asciz "hi; there"
        "#;
        let bytes = assemble(src, 0x8000_0000).expect("assembles");
        assert_eq!(&bytes[..8], &MAGIC);
        let msg = 0x8000_0000 + 8 + 7 * 16;
        assert_eq!(
            insn_at(&bytes, 0),
            Insn {
                op: Op::Mov as u8,
                a: 1,
                b: NO_REG,
                c: 0,
                imm32: 0,
                imm64: msg
            }
        );
        assert_eq!(
            insn_at(&bytes, 1),
            Insn {
                op: Op::Load as u8,
                a: 0,
                b: 1,
                c: 1,
                imm32: 0,
                imm64: 0
            }
        );
        assert_eq!(insn_at(&bytes, 3).imm64, 0x900_0000);
        assert_eq!(insn_at(&bytes, 5).imm64, 0x8000_0000 + 8 + 16, "jmp loop");
        let exit = insn_at(&bytes, 6);
        assert_eq!((exit.op, exit.imm32, exit.a), (Op::Exit as u8, 1, 3));
        assert_eq!(&exit.imm64.to_le_bytes()[..3], b"bye");
        assert_eq!(&bytes[msg as usize - 0x8000_0000..], b"hi; there\0");
    }

    #[test]
    fn test_assemble_operands() {
        let bytes = assemble("store4 [r2 + 0x10], 7\nstore8 [r3 - 8], r4\nmov r0, r5\njne r1, -1, 0x100\n.align 32\n.quad 5", 0).unwrap();
        let storei = insn_at(&bytes, 0);
        assert_eq!(
            (storei.op, storei.b, storei.c, storei.imm32, storei.imm64),
            (Op::StoreI as u8, 2, 4, 7, 0x10)
        );
        let store = insn_at(&bytes, 1);
        assert_eq!(
            (store.op, store.a, store.b, store.imm64),
            (Op::Store as u8, 4, 3, 8u64.wrapping_neg())
        );
        assert_eq!(
            (insn_at(&bytes, 2).op, insn_at(&bytes, 2).b),
            (Op::MovR as u8, 5)
        );
        assert_eq!(insn_at(&bytes, 3).imm32, u32::MAX);
        assert_eq!(
            bytes.len(),
            96 + 8,
            "8 + 4*16 = 72, aligned to 96, then a quad"
        );
    }

    #[test]
    fn test_assemble_errors_name_the_line() {
        let cases = [
            ("nop", "line 1: unknown mnemonic \"nop\""),
            (
                "\nmov r9, 1",
                "line 2: expected a register r0..r7, got \"r9\"",
            ),
            ("jmp nowhere", "line 1: unknown label \"nowhere\""),
            ("load3 r0, [0]", "line 1: unknown mnemonic \"load3\""),
            (
                "exit 0, \"way too long\"",
                "line 1: the exit reason is 12 bytes, at most 8",
            ),
            ("a:\na:", "line 2: label \"a\" defined twice"),
            (
                "store4 [0], 0x100000000",
                "line 1: 0x100000000 does not fit in 32 bits",
            ),
            ("mov r0", "line 1: mov takes 2 operand(s), got 1"),
            (
                ".align 3",
                "line 1: .align 3: not a power of two up to 1048576",
            ),
            // Found by fuzzing: a huge .zero aborted on allocation.
            (
                ".zero 0xffffffffffff",
                "line 1: .zero 281474976710655: larger than a program may be (16777216 bytes)",
            ),
            (
                ".zero 0x800000\n.zero 0x800000",
                "line 2: the program is larger than 16777216 bytes",
            ),
            (
                ".align 0x100000000",
                "line 1: .align 4294967296: not a power of two up to 1048576",
            ),
        ];
        for (src, expected) in cases {
            assert_eq!(assemble(src, 0).unwrap_err().to_string(), expected, "{src}");
        }
    }
}
