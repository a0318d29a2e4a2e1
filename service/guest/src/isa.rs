//! Encoding of the scripted guest (docs/GUEST_ISA.md). A program starts with the 8-byte
//! [`MAGIC`] at the boot PC, followed by 16-byte little-endian instructions:
//!
//! | bytes | field | meaning |
//! |---|---|---|
//! | 0 | `op` | opcode |
//! | 1 | `a` | register (r0..r7), or the reason length of EXIT |
//! | 2 | `b` | base register of an address, or [`NO_REG`] |
//! | 3 | `c` | access size of LOAD/STORE (1, 2, 4, 8) |
//! | 4..8 | `imm32` | label, value, milliseconds or exit type |
//! | 8..16 | `imm64` | address, offset, value or branch target |

/// "GHGUEST" + version 1: what the boot PC must point at.
pub const MAGIC: [u8; 8] = *b"GHGUEST\x01";
/// Size of one instruction.
pub const INSN_SIZE: u64 = 16;
/// Number of registers.
pub const NUM_REGS: u8 = 8;
/// `b` when an address has no base register.
pub const NO_REG: u8 = 0xff;

/// Opcodes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[repr(u8)]
pub enum Op {
    /// `rA = imm64`.
    Mov = 0x01,
    /// `rA += imm64` (wrapping).
    Add = 0x02,
    /// `rA -= imm64` (wrapping).
    Sub = 0x03,
    /// `rA = rB`.
    MovR = 0x04,
    /// `rA = [rB + imm64]`, `c` bytes, zero-extended: guest memory, else an MMIO read exit.
    Load = 0x10,
    /// `[rB + imm64] = rA`, `c` bytes: guest memory, else a matching ioeventfd, else an MMIO
    /// write exit.
    Store = 0x11,
    /// `[rB + imm64] = imm32`, `c` bytes, as STORE.
    StoreI = 0x12,
    /// Jump to imm64.
    Jmp = 0x20,
    /// Jump to imm64 if `rA == 0`.
    Jz = 0x21,
    /// Jump to imm64 if `rA != 0`.
    Jnz = 0x22,
    /// Jump to imm64 if `rA == imm32`.
    Jeq = 0x23,
    /// Jump to imm64 if `rA != imm32`.
    Jne = 0x24,
    /// Wait until doorbell imm32 rings (consumes the ring).
    Wait = 0x30,
    /// Sleep imm32 milliseconds.
    Sleep = 0x31,
    /// Wait forever (until the VM is stopped).
    Idle = 0x32,
    /// Stop the VM: EXITED with exit type imm32 and the first `a` (<= 8) bytes of imm64 as
    /// the reason.
    Exit = 0x40,
    /// Stop the VM: CRASHED.
    Crash = 0x41,
}

impl Op {
    /// Decodes an opcode byte.
    pub fn from_byte(b: u8) -> Option<Op> {
        use Op::*;
        Some(match b {
            0x01 => Mov,
            0x02 => Add,
            0x03 => Sub,
            0x04 => MovR,
            0x10 => Load,
            0x11 => Store,
            0x12 => StoreI,
            0x20 => Jmp,
            0x21 => Jz,
            0x22 => Jnz,
            0x23 => Jeq,
            0x24 => Jne,
            0x30 => Wait,
            0x31 => Sleep,
            0x32 => Idle,
            0x40 => Exit,
            0x41 => Crash,
            _ => return None,
        })
    }
}

/// One decoded instruction.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Insn {
    /// Opcode byte.
    pub op: u8,
    /// Field a.
    pub a: u8,
    /// Field b.
    pub b: u8,
    /// Field c.
    pub c: u8,
    /// 32-bit immediate.
    pub imm32: u32,
    /// 64-bit immediate.
    pub imm64: u64,
}

impl Insn {
    /// An instruction with zeroed fields but `op`, and no base register.
    pub fn new(op: Op) -> Self {
        Insn {
            op: op as u8,
            a: 0,
            b: NO_REG,
            c: 0,
            imm32: 0,
            imm64: 0,
        }
    }

    /// The 16-byte encoding.
    pub fn encode(&self) -> [u8; 16] {
        let mut out = [0u8; 16];
        out[0] = self.op;
        out[1] = self.a;
        out[2] = self.b;
        out[3] = self.c;
        out[4..8].copy_from_slice(&self.imm32.to_le_bytes());
        out[8..16].copy_from_slice(&self.imm64.to_le_bytes());
        out
    }

    /// Decodes 16 bytes.
    pub fn decode(bytes: &[u8; 16]) -> Self {
        Insn {
            op: bytes[0],
            a: bytes[1],
            b: bytes[2],
            c: bytes[3],
            imm32: u32::from_le_bytes([bytes[4], bytes[5], bytes[6], bytes[7]]),
            imm64: u64::from_le_bytes([
                bytes[8], bytes[9], bytes[10], bytes[11], bytes[12], bytes[13], bytes[14],
                bytes[15],
            ]),
        }
    }
}

/// Whether `size` is a valid access size.
pub fn valid_size(size: u8) -> bool {
    matches!(size, 1 | 2 | 4 | 8)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn test_encode_decode_roundtrip() {
        let insn = Insn {
            op: Op::Store as u8,
            a: 3,
            b: NO_REG,
            c: 4,
            imm32: 0xdead_beef,
            imm64: 0x9000_0000,
        };
        let bytes = insn.encode();
        assert_eq!(bytes[..4], [0x11, 3, 0xff, 4]);
        assert_eq!(Insn::decode(&bytes), insn);
        assert_eq!(Op::from_byte(0x41), Some(Op::Crash));
        assert_eq!(Op::from_byte(0x00), None);
    }
}
