//! The one error of the contract, and the shape of every "this input is wrong" error in the
//! repository: the field at fault and what is wrong with it. The service reports it as
//! `INVALID_ARGUMENT` (or `UNSUPPORTED` / `RESOURCE_EXHAUSTED`), the client library as
//! `Error::Invalid`; all print it as `<field>: <reason>`.

/// A field of an input (a config, the memory behind it, a builder setting) is wrong.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{field}: {reason}")]
pub struct FieldError {
    /// Path of the offending field, e.g. `memoryRegions[2].size`.
    pub field: String,
    /// What is wrong with it.
    pub reason: String,
}

impl FieldError {
    /// `field` is wrong because `reason`.
    pub fn new(field: impl Into<String>, reason: impl Into<String>) -> Self {
        Self {
            field: field.into(),
            reason: reason.into(),
        }
    }
}

/// Result of the contract's checks.
pub type Result<T> = std::result::Result<T, FieldError>;
