//! The core error type and its single mapping to a binder `Status`.
//!
//! Code space: caller mistakes are `ErrorCode::INVALID_ARGUMENT` / `INVALID_STATE` with the
//! message `<field path>: <reason>`; a driver failure is `HYPERVISOR_ERROR` naming the ioctl and
//! errno (or `INVALID_ARGUMENT` / `RESOURCE_EXHAUSTED` when the errno says the input was bad or
//! a resource ran out); a denied caller is the binder exception `EX_SECURITY`.

use crate::aidl::ErrorCode::ErrorCode;
use nix::errno::Errno;

use crate::binder::{self, BinderResult, Status};
use gunyah_contract::error::FieldError;
use gunyah_hypervisor::HypError;

/// Errors of the service core.
#[derive(Debug, thiserror::Error, Clone, PartialEq, Eq)]
pub enum Error {
    /// An input is malformed or out of range.
    #[error(transparent)]
    InvalidArgument(FieldError),
    /// The call is not valid in the object's current state.
    #[error("{0}")]
    InvalidState(String),
    /// Well formed, but not supported by this service or its driver: the field asking for
    /// it, and why.
    #[error(transparent)]
    Unsupported(FieldError),
    /// A quota or a system resource is exhausted: the quota or resource, usage and limit.
    #[error(transparent)]
    ResourceExhausted(FieldError),
    /// The hypervisor driver failed.
    #[error("{context}: {source}")]
    Hypervisor {
        /// What the service was doing, e.g. `memoryRegions[1]`.
        context: String,
        /// The failed ioctl and its errno.
        source: HypError,
    },
    /// The caller may not use the service.
    #[error("{0}")]
    AccessDenied(String),
}

/// Result of the service core.
pub type Result<T> = std::result::Result<T, Error>;

impl Error {
    /// `INVALID_ARGUMENT` for `field`.
    pub fn invalid(field: impl Into<String>, reason: impl Into<String>) -> Self {
        Error::InvalidArgument(FieldError::new(field, reason))
    }

    /// `UNSUPPORTED` for `field`.
    pub fn unsupported(field: impl Into<String>, reason: impl Into<String>) -> Self {
        Error::Unsupported(FieldError::new(field, reason))
    }

    /// The same error with `note` added to its reason.
    pub fn with_note(mut self, note: impl std::fmt::Display) -> Self {
        match &mut self {
            Error::InvalidArgument(f) | Error::Unsupported(f) | Error::ResourceExhausted(f) => {
                f.reason = format!("{}; {note}", f.reason);
            }
            Error::InvalidState(reason) | Error::AccessDenied(reason) => {
                *reason = format!("{reason}; {note}");
            }
            Error::Hypervisor { context, .. } => *context = format!("{context} ({note})"),
        }
        self
    }

    /// `RESOURCE_EXHAUSTED` for `field`.
    pub fn exhausted(field: impl Into<String>, reason: impl Into<String>) -> Self {
        Error::ResourceExhausted(FieldError::new(field, reason))
    }

    /// `INVALID_STATE`.
    pub fn state(reason: impl Into<String>) -> Self {
        Error::InvalidState(reason.into())
    }

    /// A driver failure while doing `context`.
    pub fn hypervisor(context: impl Into<String>, source: HypError) -> Self {
        Error::Hypervisor {
            context: context.into(),
            source,
        }
    }

    /// The AIDL error code this error is reported with (`None` for `EX_SECURITY`).
    pub fn code(&self) -> Option<ErrorCode> {
        Some(match self {
            Error::InvalidArgument(_) => ErrorCode::INVALID_ARGUMENT,
            Error::InvalidState(_) => ErrorCode::INVALID_STATE,
            Error::Unsupported(_) => ErrorCode::UNSUPPORTED,
            Error::ResourceExhausted(_) => ErrorCode::RESOURCE_EXHAUSTED,
            Error::Hypervisor { source, .. } => match source.errno {
                // The driver says the caller's input was bad. Validation runs first, so this
                // only happens where the driver is stricter than the service.
                Errno::EINVAL | Errno::EEXIST | Errno::EOVERFLOW | Errno::ENOENT => {
                    ErrorCode::INVALID_ARGUMENT
                }
                Errno::ENOMEM | Errno::EMFILE | Errno::ENFILE | Errno::ENOSPC => {
                    ErrorCode::RESOURCE_EXHAUSTED
                }
                _ => ErrorCode::HYPERVISOR_ERROR,
            },
            Error::AccessDenied(_) => return None,
        })
    }

    /// The binder status for this error, logged once here at the boundary. Caller mistakes are
    /// routine and logged at debug level; everything else as a warning.
    pub fn into_status(self, method: &str) -> Status {
        let message = self.to_string();
        match self.code() {
            None => {
                log::warn!("{method}: denied: {message}");
                binder::security_exception(&message)
            }
            Some(code) => {
                match code {
                    ErrorCode::INVALID_ARGUMENT | ErrorCode::INVALID_STATE => {
                        log::debug!("{method}: {message}")
                    }
                    _ => log::warn!("{method}: {message}"),
                }
                binder::service_specific(code.0, &message)
            }
        }
    }
}

/// Converts a core result at the binder boundary.
pub trait OrStatus<T> {
    /// Maps the error once, logging it with the method name.
    fn or_status(self, method: &str) -> BinderResult<T>;
}

impl<T> OrStatus<T> for Result<T> {
    fn or_status(self, method: &str) -> BinderResult<T> {
        self.map_err(|e| e.into_status(method))
    }
}

/// A config that breaks the contract is the caller's mistake: `INVALID_ARGUMENT`, naming the
/// field.
impl From<FieldError> for Error {
    fn from(e: FieldError) -> Self {
        Error::InvalidArgument(e)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use gunyah_hypervisor::DriverIoctl;

    #[test]
    fn test_display_names_the_field() {
        let e = Error::invalid(
            "memoryRegions[2].size",
            "not a multiple of the page size (4096)",
        );
        assert_eq!(
            e.to_string(),
            "memoryRegions[2].size: not a multiple of the page size (4096)"
        );
        assert_eq!(e.code(), Some(ErrorCode::INVALID_ARGUMENT));
    }

    #[test]
    fn test_code_of_driver_errno() {
        let err = |errno| {
            Error::hypervisor(
                "start",
                HypError {
                    call: DriverIoctl::Start.into(),
                    errno,
                },
            )
        };
        assert_eq!(
            err(Errno::ENOMEM).code(),
            Some(ErrorCode::RESOURCE_EXHAUSTED)
        );
        assert_eq!(err(Errno::EINVAL).code(), Some(ErrorCode::INVALID_ARGUMENT));
        assert_eq!(err(Errno::ENODEV).code(), Some(ErrorCode::HYPERVISOR_ERROR));
        assert_eq!(
            err(Errno::ENODEV).to_string(),
            "start: GH_VM_START failed: ENODEV: No such device"
        );
        assert_eq!(Error::AccessDenied("uid 5".into()).code(), None);
    }
}
