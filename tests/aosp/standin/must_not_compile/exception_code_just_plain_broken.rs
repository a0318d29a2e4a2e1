//! expect: E0599
//! libbinder_rs has no ExceptionCode::JUST_PLAIN_BROKEN (binder_status.h has no such EX_ code).
pub fn code() -> binder::ExceptionCode {
    binder::ExceptionCode::JUST_PLAIN_BROKEN
}
