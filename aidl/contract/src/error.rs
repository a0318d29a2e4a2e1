//! The one error of the contract: an input that breaks its rules, naming the field.

/// A field of a config (or of the memory behind it) breaks the contract.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{field}: {reason}")]
pub struct ConfigError {
    /// Path of the offending field, e.g. `memoryRegions[2].size`.
    pub field: String,
    /// What is wrong with it.
    pub reason: String,
}

impl ConfigError {
    /// `field` is wrong because `reason`.
    pub fn invalid(field: impl Into<String>, reason: impl Into<String>) -> Self {
        Self {
            field: field.into(),
            reason: reason.into(),
        }
    }
}

/// Result of the contract's checks.
pub type Result<T> = std::result::Result<T, ConfigError>;
