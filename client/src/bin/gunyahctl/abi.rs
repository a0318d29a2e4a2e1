//! `gunyahctl abi`: the driver ABI this build uses: each header's numbers and layouts, and
//! each driver generation's ioctls and probe answers.

use anyhow::Result;
use std::fmt::Write;

use gunyah_sys::abi;
use gunyah_sys::generation::Generation;

use crate::output::Output;

pub fn abi(out: &Output) -> Result<i32> {
    out.document(
        || {
            let mut text = String::new();
            for g in abi::headers() {
                let _ = writeln!(text, "[{}]", g.name);
                for (name, number) in &g.ioctls {
                    let _ = writeln!(text, "  {name:<32} {number:#010x}");
                }
                for s in &g.structs {
                    let fields: Vec<String> =
                        s.fields.iter().map(|(f, o)| format!("{f}@{o}")).collect();
                    let _ = writeln!(
                        text,
                        "  struct {} ({} bytes): {}",
                        s.name,
                        s.size,
                        fields.join(", ")
                    );
                }
            }
            for g in Generation::ALL {
                let _ = writeln!(text, "[generation {}] {}", g.name(), g.kernels());
                let handled: Vec<&str> = g.handled().iter().map(|i| i.name()).collect();
                let _ = writeln!(text, "  handles: {}", handled.join(" "));
                let _ = writeln!(text, "  probe:   {}", g.probe_answers());
            }
            text
        },
        abi::to_json,
    );
    Ok(crate::EXIT_OK)
}
