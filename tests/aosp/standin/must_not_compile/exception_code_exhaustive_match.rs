//! expect: E0004
//! ExceptionCode is `#[non_exhaustive]` upstream, like StatusCode: a match naming every variant
//! upstream has (binder_status.h's EX_* codes, BinderBindings.hpp) still needs a `_` arm.
pub fn code(e: binder::ExceptionCode) -> i32 {
    use binder::ExceptionCode::*;
    match e {
        NONE => 0,
        SECURITY
        | BAD_PARCELABLE
        | ILLEGAL_ARGUMENT
        | NULL_POINTER
        | ILLEGAL_STATE
        | NETWORK_MAIN_THREAD
        | UNSUPPORTED_OPERATION
        | SERVICE_SPECIFIC
        | PARCELABLE
        | TRANSACTION_FAILED => 1,
    }
}
