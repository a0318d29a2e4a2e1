//! The scripted guest: the assembler on arbitrary text, and the interpreter on arbitrary
//! program bytes (bounded steps). Neither may panic.
#![no_main]

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    if let Ok(text) = std::str::from_utf8(data) {
        if let Ok(image) = gunyah_guest::asm::assemble(text, 0x8000_0000) {
            assert!(image.starts_with(&gunyah_guest::isa::MAGIC));
            gunyah_mock::fuzz_run_guest(&image[8..], 10_000);
        }
    }
    gunyah_mock::fuzz_run_guest(data, 10_000);
});
