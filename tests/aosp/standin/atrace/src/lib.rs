//! A type-level stand-in for AOSP's `atrace` crate (`libatrace_rust`,
//! frameworks/native/libs/atrace_rust), with only the items gunyah-vm-hal uses, for the off-tree
//! Soong lint check (tests/aosp/soong.py). Nothing here runs. Upstream wraps libcutils'
//! `atrace_*` calls; its tags are a `bitflags!` type over cutils/trace.h's `ATRACE_TAG_*`.

pub use self::tags::*;

/// lib.rs: `pub mod tags`, where `bitflags!` declares `AtraceTag`.
pub mod tags {
    /// lib.rs: `bitflags! { pub struct AtraceTag: u64 { ... } }` (derives Clone, Copy, Debug,
    /// PartialEq, Eq, Hash); the constants carry cutils/trace.h's bits.
    #[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
    pub struct AtraceTag(u64);

    #[allow(non_upper_case_globals, missing_docs)]
    impl AtraceTag {
        pub const Never: AtraceTag = AtraceTag(0);
        pub const Always: AtraceTag = AtraceTag(1 << 0);
        pub const Hal: AtraceTag = AtraceTag(1 << 11);
        pub const App: AtraceTag = AtraceTag(1 << 12);

        /// bitflags: the raw bits.
        pub const fn bits(&self) -> u64 {
            self.0
        }
    }

    impl std::ops::BitOr for AtraceTag {
        type Output = AtraceTag;
        fn bitor(self, other: AtraceTag) -> AtraceTag {
            AtraceTag(self.0 | other.0)
        }
    }
}

/// lib.rs: `atrace_is_tag_enabled(tag: AtraceTag) -> bool`.
pub fn atrace_is_tag_enabled(_tag: AtraceTag) -> bool {
    unreachable!("type-level stand-in for libatrace_rust: never run")
}

/// lib.rs: `atrace_begin(tag: AtraceTag, name: &str)`.
pub fn atrace_begin(_tag: AtraceTag, _name: &str) {
    unreachable!("type-level stand-in for libatrace_rust: never run")
}

/// lib.rs: `atrace_end(tag: AtraceTag)`.
pub fn atrace_end(_tag: AtraceTag) {
    unreachable!("type-level stand-in for libatrace_rust: never run")
}
