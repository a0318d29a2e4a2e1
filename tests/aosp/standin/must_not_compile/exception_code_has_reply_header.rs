//! expect: E0599
//! libbinder_rs has no ExceptionCode::HAS_REPLY_HEADER: binder_status.h has no EX_HAS_REPLY_HEADER
//! (BinderBindings.hpp's ExceptionCode mirrors it).
pub fn code() -> binder::ExceptionCode {
    binder::ExceptionCode::HAS_REPLY_HEADER
}
