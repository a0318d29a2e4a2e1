//! Errors of the client library: one type, each variant saying whose fault it is.

use std::time::Duration;

use gunyah_binder::aidl::ErrorCode::ErrorCode;
use gunyah_binder::{classify, CallError, Status};
use gunyah_contract::error::FieldError;
use gunyah_contract::names;

/// What went wrong.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// The service could not be reached.
    #[error("cannot connect to the Gunyah VM service at {target}: {reason}")]
    Connect {
        /// The socket path or service name.
        target: String,
        /// Why.
        reason: String,
    },
    /// The service refused a call with an `ErrorCode`, or the library refused the request
    /// before the call by applying the service's own validation rules.
    #[error("{call}: {}: {message}", names::error_code(*code))]
    Rejected {
        /// The AIDL method, e.g. `createVm`.
        call: &'static str,
        /// The `ErrorCode`.
        code: i32,
        /// `<field path>: <reason>`.
        message: String,
    },
    /// The caller may not use the service (`EX_SECURITY`).
    #[error("{call}: permission denied: {message}")]
    PermissionDenied {
        /// The AIDL method.
        call: &'static str,
        /// The service's message.
        message: String,
    },
    /// The service process died; every VM it held is gone.
    #[error("the Gunyah VM service died")]
    ServiceDied,
    /// Any other binder failure.
    #[error("{call}: {message}")]
    Transport {
        /// The AIDL method.
        call: &'static str,
        /// The binder status.
        message: String,
    },
    /// A request that cannot be built: names the builder setting or config key at fault.
    /// Its `field` is the setting, e.g. `kernel` or `memory[1].size`.
    #[error(transparent)]
    Invalid(FieldError),
    /// A local file or memfd operation failed.
    #[error("{what}: {error}")]
    Io {
        /// What was being done, naming the file.
        what: String,
        /// The error (in the message; not a `source()`, so that chains print it once).
        error: std::io::Error,
    },
    /// The guest did not exit in time.
    #[error("the guest did not exit within {0:?}")]
    Timeout(Duration),
}

/// Result of the client library.
pub type Result<T> = std::result::Result<T, Error>;

impl Error {
    /// A failed call of `call`.
    pub fn call(call: &'static str, status: &Status) -> Self {
        match classify(status) {
            CallError::Security(message) => Error::PermissionDenied { call, message },
            CallError::ServiceSpecific { code, message } => Error::Rejected {
                call,
                code,
                message,
            },
            CallError::DeadObject => Error::ServiceDied,
            CallError::Other(message) => Error::Transport { call, message },
        }
    }

    /// The service's rules applied locally: the same code and message the service would
    /// answer `call` with.
    pub(crate) fn checked_locally(call: &'static str, e: FieldError) -> Self {
        // The contract's errors are the service's INVALID_ARGUMENT.
        Error::Rejected {
            call,
            code: ErrorCode::INVALID_ARGUMENT.0,
            message: e.to_string(),
        }
    }

    /// A bad setting.
    pub(crate) fn invalid(key: impl Into<String>, reason: impl Into<String>) -> Self {
        Error::Invalid(FieldError::new(key, reason))
    }

    /// An I/O failure while doing `what`.
    pub(crate) fn io(what: impl Into<String>, error: std::io::Error) -> Self {
        Error::Io {
            what: what.into(),
            error,
        }
    }

    /// The `ErrorCode` of a rejected call.
    pub fn code(&self) -> Option<ErrorCode> {
        match self {
            Error::Rejected { code, .. } => Some(ErrorCode(*code)),
            _ => None,
        }
    }
}
