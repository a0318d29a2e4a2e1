//! A type-level stand-in for AOSP's `atrace_tracing_subscriber` crate
//! (`libatrace_tracing_subscriber`, frameworks/native/libs/atrace_rust/tracing_subscriber), with
//! only the items gunyah-vm-hal uses, for the off-tree Soong lint check (tests/aosp/soong.py).
//! Nothing here runs. Upstream is a `tracing_subscriber::Layer` that turns each span into an
//! `atrace_begin`/`atrace_end` pair under its tag (the span's name and fields as the section
//! name), and each event into an instant.

use atrace::AtraceTag;
use tracing::Subscriber;
use tracing_subscriber::layer::Layer;
use tracing_subscriber::registry::LookupSpan;

/// lib.rs: `pub struct AtraceSubscriber { tag, should_record_fields, should_filter }`.
pub struct AtraceSubscriber {
    _tag: AtraceTag,
}

impl Default for AtraceSubscriber {
    /// lib.rs: `Self::new(AtraceTag::App)`.
    fn default() -> Self {
        Self::new(AtraceTag::App)
    }
}

impl AtraceSubscriber {
    /// lib.rs: `new(tag: AtraceTag) -> AtraceSubscriber`.
    pub fn new(tag: AtraceTag) -> AtraceSubscriber {
        AtraceSubscriber { _tag: tag }
    }

    /// lib.rs: `with_filter(self) -> AtraceSubscriber`: the layer's `enabled` asks atrace
    /// whether the tag is on, for every layer of the subscriber.
    pub fn with_filter(self) -> AtraceSubscriber {
        self
    }

    /// lib.rs: `without_fields(self) -> AtraceSubscriber`.
    pub fn without_fields(self) -> AtraceSubscriber {
        self
    }
}

/// lib.rs: `impl<S: Subscriber + for<'lookup> LookupSpan<'lookup>> Layer<S> for AtraceSubscriber`.
impl<S: Subscriber + for<'lookup> LookupSpan<'lookup>> Layer<S> for AtraceSubscriber {}
