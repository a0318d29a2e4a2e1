//! expect: E0004
//! StatusCode is `#[non_exhaustive]` upstream (a bindgen enum): a match needs a `_` arm.
pub fn code(s: binder::StatusCode) -> i32 {
    use binder::StatusCode::*;
    match s {
        OK => 0,
        UNKNOWN_ERROR | NO_MEMORY | INVALID_OPERATION | BAD_VALUE | BAD_TYPE | NAME_NOT_FOUND
        | PERMISSION_DENIED | NO_INIT | ALREADY_EXISTS | DEAD_OBJECT | FAILED_TRANSACTION
        | BAD_INDEX | NOT_ENOUGH_DATA | WOULD_BLOCK | TIMED_OUT | UNKNOWN_TRANSACTION
        | FDS_NOT_ALLOWED | UNEXPECTED_NULL => 1,
    }
}
