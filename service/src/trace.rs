//! Trace spans of a VM's life (docs/TRACING.md): `tracing` spans, one mechanism for both
//! builds. The host binary writes them as a Chrome JSON trace (`--trace FILE`), the AOSP
//! binary hands them to atrace; with no subscriber installed a span costs one load of
//! tracing's global level filter.
//!
//! Every span carries the VM (`vm`, 0 where there is none yet: the access check of `createVm`,
//! `getCapabilities`, `listVms`), and the uid and pid of the caller the work is for (`uid`,
//! `pid`): the caller of the binder call, or, on a VM's own threads, the process that created
//! the VM.

/// Whom a span is about: a VM and the caller it works for.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Who {
    /// The VM's id; 0 where there is no VM (yet).
    pub vm: i32,
    /// The caller's uid.
    pub uid: u32,
    /// The caller's pid.
    pub pid: i32,
}

impl Who {
    /// The caller `uid`/`pid`, about VM `vm`.
    pub fn new(vm: i32, uid: u32, pid: i32) -> Self {
        Self { vm, uid, pid }
    }

    /// `caller`, about no VM yet.
    pub fn caller(caller: &crate::binder::Caller) -> Self {
        Self::new(0, caller.uid, caller.pid)
    }

    /// The same caller, about VM `vm`.
    pub fn with_vm(self, vm: i32) -> Self {
        Self { vm, ..self }
    }
}

/// A span named `$name` (a literal) at `$level`, carrying `$who`'s `vm`, `uid` and `pid`,
/// plus any further fields.
macro_rules! span {
    ($level:expr, $name:literal, $who:expr $(, $($fields:tt)+)?) => {{
        let who: $crate::trace::Who = $who;
        ::tracing::span!($level, $name, vm = who.vm, uid = who.uid, pid = who.pid $(, $($fields)+)?)
    }};
}

/// An INFO span: the phases of a VM's life (`createVm`, `start`, teardown, driver calls).
macro_rules! phase {
    ($name:literal, $who:expr $(, $($fields:tt)+)?) => {
        $crate::trace::span!(::tracing::Level::INFO, $name, $who $(, $($fields)+)?)
    };
}

/// A TRACE span: the hot path (vCPU runs, exits, MMIO waits). With no subscriber, or one that
/// does not want TRACE, it is a load and a compare.
macro_rules! hot {
    ($name:literal, $who:expr $(, $($fields:tt)+)?) => {
        $crate::trace::span!(::tracing::Level::TRACE, $name, $who $(, $($fields)+)?)
    };
}

pub(crate) use {hot, phase, span};
