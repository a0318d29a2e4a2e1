//! A type-level stand-in for AOSP's `binder` crate (libbinder_rs, `libbinder_rs` in Soong), with
//! only the items gunyah-vm-hal's AOSP-side code uses, so that code can be type-checked and
//! linted off-tree (tests/aosp/soong.py clippy). Bodies are `unreachable!`, except death
//! notifications (`DeathRecipient`, `IBinder::link_to_death` / `unlink_to_death` on a proxy):
//! those run, and behave as libbinder_ndk and libbinder's `BpBinder` do, log lines included
//! (see "death notifications" below), so `soong.py standin-runs` can run the AOSP arm's death
//! handling (tests/aosp/standin/runs/).
//!
//! Every item names the libbinder_rs file it mirrors, as of android-15.0.0_r23 and
//! android-16.0.0_r2 (`frameworks/native/libs/binder/rust/src/`), where the two agree. Written
//! for this project from the public API; keep signatures, derives, `#[non_exhaustive]` and the
//! `cfg`s on items exactly as upstream declares them: a looser stand-in would hide the errors
//! this check exists to find. `soong.py clippy` builds it with the variant's cfgs, as Soong
//! builds libbinder_rs (`android_vndk` on a vendor variant).

#![allow(clippy::missing_safety_doc, clippy::new_without_default)]

use std::ffi::CStr;
use std::fmt;
use std::io::Write;
use std::ops::Deref;
use std::os::fd::{AsRawFd, IntoRawFd, OwnedFd, RawFd};
use std::sync::Arc;

const STAND_IN: &str = "type-level stand-in for libbinder_rs: never run";

// ---- error.rs -------------------------------------------------------------------------------

/// error.rs: `pub type Result<T> = std::result::Result<T, StatusCode>;` is the crate-internal
/// alias; the crate root exports `binder::Result<T> = Result<T, Status>` (lib.rs).
pub type Result<T> = std::result::Result<T, Status>;

// The two enums below are the bindgen output of `android::c_interface::StatusCode` and
// `android::c_interface::ExceptionCode`, declared in frameworks/native
// libs/binder/rust/sys/BinderBindings.hpp (android-15.0.0_r23; the same in android-16.0.0_r2)
// from the anonymous enums of libs/binder/ndk/include_ndk/android/binder_status.h (same tags).
// libbinder_ndk_bindgen (libs/binder/rust/Android.bp) runs bindgen with `--default-enum-style
// rust_non_exhaustive`, so each is a `#[non_exhaustive]` Rust enum with exactly these variants
// and discriminants: upstream has no other variant, and a stand-in variant upstream lacks would
// let code compile here that fails there. Each variant names its binder_status.h constant and
// value (errno values are Linux's, as on Android).

/// error.rs: `StatusCode` (transport-level status, `status_t`): `pub use
/// sys::android_c_interface_StatusCode as StatusCode`. Upstream: BinderBindings.hpp `enum
/// StatusCode` / binder_status.h `STATUS_*`, android-15.0.0_r23. `#[non_exhaustive]`: a `match`
/// on it needs a `_` arm.
#[allow(non_camel_case_types, missing_docs)]
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
#[repr(i32)]
#[non_exhaustive]
pub enum StatusCode {
    OK = 0,                            // STATUS_OK = 0
    UNKNOWN_ERROR = i32::MIN,          // STATUS_UNKNOWN_ERROR = (-2147483647 - 1)
    NO_MEMORY = -12,                   // STATUS_NO_MEMORY = -ENOMEM
    INVALID_OPERATION = -38,           // STATUS_INVALID_OPERATION = -ENOSYS
    BAD_VALUE = -22,                   // STATUS_BAD_VALUE = -EINVAL
    BAD_TYPE = i32::MIN + 1,           // STATUS_BAD_TYPE = STATUS_UNKNOWN_ERROR + 1
    NAME_NOT_FOUND = -2,               // STATUS_NAME_NOT_FOUND = -ENOENT
    PERMISSION_DENIED = -1,            // STATUS_PERMISSION_DENIED = -EPERM
    NO_INIT = -19,                     // STATUS_NO_INIT = -ENODEV
    ALREADY_EXISTS = -17,              // STATUS_ALREADY_EXISTS = -EEXIST
    DEAD_OBJECT = -32,                 // STATUS_DEAD_OBJECT = -EPIPE
    FAILED_TRANSACTION = i32::MIN + 2, // STATUS_FAILED_TRANSACTION = STATUS_UNKNOWN_ERROR + 2
    BAD_INDEX = -75,                   // STATUS_BAD_INDEX = -EOVERFLOW
    NOT_ENOUGH_DATA = -61,             // STATUS_NOT_ENOUGH_DATA = -ENODATA
    WOULD_BLOCK = -11,                 // STATUS_WOULD_BLOCK = -EWOULDBLOCK (EAGAIN)
    TIMED_OUT = -110,                  // STATUS_TIMED_OUT = -ETIMEDOUT
    UNKNOWN_TRANSACTION = -74,         // STATUS_UNKNOWN_TRANSACTION = -EBADMSG
    FDS_NOT_ALLOWED = i32::MIN + 7,    // STATUS_FDS_NOT_ALLOWED = STATUS_UNKNOWN_ERROR + 7
    UNEXPECTED_NULL = i32::MIN + 8,    // STATUS_UNEXPECTED_NULL = STATUS_UNKNOWN_ERROR + 8
}

impl fmt::Display for StatusCode {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{self:?}")
    }
}

impl std::error::Error for StatusCode {}

/// error.rs: `ExceptionCode` (the AIDL exception codes): `pub use
/// sys::android_c_interface_ExceptionCode as ExceptionCode`, `#[non_exhaustive]` like
/// `StatusCode`. Upstream: BinderBindings.hpp `enum ExceptionCode` / binder_status.h `EX_*`,
/// android-15.0.0_r23. binder_status.h has no `EX_HAS_REPLY_HEADER` (-128: Java's `Parcel` and
/// libbinder's C++ `binder::Status` have it) and no `EX_JUST_PLAIN_BROKEN`, so neither is here.
#[allow(non_camel_case_types, missing_docs)]
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
#[repr(i32)]
#[non_exhaustive]
pub enum ExceptionCode {
    NONE = 0,                   // EX_NONE = 0
    SECURITY = -1,              // EX_SECURITY = -1
    BAD_PARCELABLE = -2,        // EX_BAD_PARCELABLE = -2
    ILLEGAL_ARGUMENT = -3,      // EX_ILLEGAL_ARGUMENT = -3
    NULL_POINTER = -4,          // EX_NULL_POINTER = -4
    ILLEGAL_STATE = -5,         // EX_ILLEGAL_STATE = -5
    NETWORK_MAIN_THREAD = -6,   // EX_NETWORK_MAIN_THREAD = -6
    UNSUPPORTED_OPERATION = -7, // EX_UNSUPPORTED_OPERATION = -7
    SERVICE_SPECIFIC = -8,      // EX_SERVICE_SPECIFIC = -8
    PARCELABLE = -9,            // EX_PARCELABLE = -9
    TRANSACTION_FAILED = -129,  // EX_TRANSACTION_FAILED = -129
}

/// error.rs: `Status` (an AIDL call's result: exception, service-specific error or transport
/// error, with a message).
pub struct Status(());

impl Status {
    /// error.rs: `Status::ok()`.
    pub fn ok() -> Self {
        unreachable!("{STAND_IN}")
    }
    /// error.rs: `new_service_specific_error(err: i32, message: Option<&CStr>)`.
    pub fn new_service_specific_error(_err: i32, _message: Option<&CStr>) -> Status {
        unreachable!("{STAND_IN}")
    }
    /// error.rs: `new_service_specific_error_str<T: AsRef<str>>(err, message: Option<T>)`.
    pub fn new_service_specific_error_str<T: AsRef<str>>(_err: i32, _message: Option<T>) -> Status {
        unreachable!("{STAND_IN}")
    }
    /// error.rs: `new_exception(exception: ExceptionCode, message: Option<&CStr>)`.
    pub fn new_exception(_exception: ExceptionCode, _message: Option<&CStr>) -> Status {
        unreachable!("{STAND_IN}")
    }
    /// error.rs: `new_exception_str<T: AsRef<str>>(exception, message: Option<T>)`.
    pub fn new_exception_str<T: AsRef<str>>(
        _exception: ExceptionCode,
        _message: Option<T>,
    ) -> Status {
        unreachable!("{STAND_IN}")
    }
    /// error.rs: `is_ok(&self) -> bool`.
    pub fn is_ok(&self) -> bool {
        unreachable!("{STAND_IN}")
    }
    /// error.rs: `exception_code(&self) -> ExceptionCode`.
    pub fn exception_code(&self) -> ExceptionCode {
        unreachable!("{STAND_IN}")
    }
    /// error.rs: `transaction_error(&self) -> StatusCode`.
    pub fn transaction_error(&self) -> StatusCode {
        unreachable!("{STAND_IN}")
    }
    /// error.rs: `service_specific_error(&self) -> i32`.
    pub fn service_specific_error(&self) -> i32 {
        unreachable!("{STAND_IN}")
    }
    /// error.rs: `get_description(&self) -> String`.
    pub fn get_description(&self) -> String {
        unreachable!("{STAND_IN}")
    }
}

impl fmt::Debug for Status {
    fn fmt(&self, _f: &mut fmt::Formatter<'_>) -> fmt::Result {
        unreachable!("{STAND_IN}")
    }
}

impl fmt::Display for Status {
    fn fmt(&self, _f: &mut fmt::Formatter<'_>) -> fmt::Result {
        unreachable!("{STAND_IN}")
    }
}

impl std::error::Error for Status {}

/// error.rs: `impl From<StatusCode> for Status`.
impl From<StatusCode> for Status {
    fn from(_status: StatusCode) -> Status {
        unreachable!("{STAND_IN}")
    }
}

/// error.rs: `impl From<ExceptionCode> for Status`.
impl From<ExceptionCode> for Status {
    fn from(_code: ExceptionCode) -> Status {
        unreachable!("{STAND_IN}")
    }
}

// ---- binder.rs ------------------------------------------------------------------------------

/// binder.rs: `BinderFeatures`. `set_requesting_sid` is absent from vendor and NDK builds
/// (`#[cfg(not(any(android_vndk, android_ndk)))]`); the hidden `_non_exhaustive` field makes a
/// struct literal need `..BinderFeatures::default()`.
#[derive(Clone, Debug, Default, Eq, PartialEq)]
pub struct BinderFeatures {
    /// binder.rs: `set_requesting_sid` (absent from the vendor build).
    #[cfg(not(any(android_vndk, android_ndk)))]
    pub set_requesting_sid: bool,
    #[doc(hidden)]
    pub _non_exhaustive: (),
}

/// binder.rs: `trait Interface: Send + Sync + DowncastSync`, with `dump` taking
/// `&mut dyn Write` (Android 15 and later).
pub trait Interface: Send + Sync {
    /// binder.rs: `as_binder`.
    fn as_binder(&self) -> SpIBinder {
        unreachable!("{STAND_IN}")
    }
    /// binder.rs: `dump(&self, writer: &mut dyn Write, args: &[&CStr]) -> Result<(), StatusCode>`.
    fn dump(
        &self,
        _writer: &mut dyn Write,
        _args: &[&CStr],
    ) -> std::result::Result<(), StatusCode> {
        Ok(())
    }
}

/// binder.rs: `trait FromIBinder: Interface`.
pub trait FromIBinder: Interface {
    /// binder.rs: `try_from(ibinder: SpIBinder) -> Result<Strong<Self>, StatusCode>`.
    fn try_from(ibinder: SpIBinder) -> std::result::Result<Strong<Self>, StatusCode>;
}

/// binder.rs: `Strong<I: FromIBinder + ?Sized>`, a strong reference to a binder interface.
pub struct Strong<I: FromIBinder + ?Sized>(Box<I>);

impl<I: FromIBinder + ?Sized> Strong<I> {
    /// binder.rs: `Strong::new(binder: Box<I>)`.
    pub fn new(binder: Box<I>) -> Self {
        Self(binder)
    }
}

impl<I: FromIBinder + ?Sized> Clone for Strong<I> {
    fn clone(&self) -> Self {
        unreachable!("{STAND_IN}")
    }
}

impl<I: FromIBinder + ?Sized> Deref for Strong<I> {
    type Target = I;
    fn deref(&self) -> &I {
        &self.0
    }
}

impl<I: FromIBinder + fmt::Debug + ?Sized> fmt::Debug for Strong<I> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Debug::fmt(&**self, f)
    }
}

impl<I: FromIBinder + ?Sized> PartialEq for Strong<I> {
    fn eq(&self, _other: &Self) -> bool {
        unreachable!("{STAND_IN}")
    }
}

impl<I: FromIBinder + ?Sized> Eq for Strong<I> {}

/// binder.rs: `trait IBinder` (methods on `SpIBinder`).
pub trait IBinder {
    /// binder.rs: `link_to_death(&mut self, recipient: &mut DeathRecipient) -> Result<()>`.
    fn link_to_death(
        &mut self,
        recipient: &mut DeathRecipient,
    ) -> std::result::Result<(), StatusCode>;
    /// binder.rs: `unlink_to_death(&mut self, recipient: &mut DeathRecipient) -> Result<()>`.
    fn unlink_to_death(
        &mut self,
        recipient: &mut DeathRecipient,
    ) -> std::result::Result<(), StatusCode>;
    /// binder.rs: `ping_binder(&mut self) -> Result<()>`.
    fn ping_binder(&mut self) -> std::result::Result<(), StatusCode>;
}

/// Internal binder traits (binder.rs `binder_impl`, exported as `binder::binder_impl`).
pub mod binder_impl {
    use std::os::fd::AsRawFd;

    use super::StatusCode;

    /// binder.rs: `trait IBinderInternal: IBinder`.
    pub trait IBinderInternal: super::IBinder {
        /// binder.rs: `dump<F: AsRawFd>(&mut self, fp: &F, args: &[&str]) -> Result<()>`.
        fn dump<F: AsRawFd>(
            &mut self,
            fp: &F,
            args: &[&str],
        ) -> std::result::Result<(), StatusCode>;
    }
}

// ---- proxy.rs -------------------------------------------------------------------------------

/// proxy.rs: `SpIBinder`, a strong reference to any binder object. Here always a proxy of a
/// remote object (libbinder's `BpBinder`, wrapped by libbinder_ndk's `ABpBinder`): see
/// [`death`].
#[derive(Clone)]
pub struct SpIBinder(Arc<death::Proxy>);

impl fmt::Debug for SpIBinder {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.pad("SpIBinder")
    }
}

impl PartialEq for SpIBinder {
    fn eq(&self, other: &Self) -> bool {
        Arc::ptr_eq(&self.0, &other.0)
    }
}

impl Eq for SpIBinder {}

impl IBinder for SpIBinder {
    fn link_to_death(
        &mut self,
        recipient: &mut DeathRecipient,
    ) -> std::result::Result<(), StatusCode> {
        recipient.0.link_to_death(&self.0)
    }
    fn unlink_to_death(
        &mut self,
        recipient: &mut DeathRecipient,
    ) -> std::result::Result<(), StatusCode> {
        recipient.0.unlink_to_death(&self.0)
    }
    fn ping_binder(&mut self) -> std::result::Result<(), StatusCode> {
        unreachable!("{STAND_IN}")
    }
}

impl binder_impl::IBinderInternal for SpIBinder {
    fn dump<F: AsRawFd>(&mut self, _fp: &F, _args: &[&str]) -> std::result::Result<(), StatusCode> {
        unreachable!("{STAND_IN}")
    }
}

/// proxy.rs: `WpIBinder`, a weak reference to a binder object.
#[derive(Clone, Debug)]
pub struct WpIBinder(());

/// proxy.rs: `DeathRecipient`, registered with `IBinder::link_to_death`. It owns one reference
/// to libbinder_ndk's `AIBinder_DeathRecipient` (`AIBinder_DeathRecipient_new`; dropping it is
/// `AIBinder_DeathRecipient_delete`), modelled by [`death::Recipient`].
pub struct DeathRecipient(Arc<death::Recipient>);

impl DeathRecipient {
    /// proxy.rs: `DeathRecipient::new<F: Fn() + Send + Sync + 'static>(callback: F)`.
    pub fn new<F>(callback: F) -> DeathRecipient
    where
        F: Fn() + Send + Sync + 'static,
    {
        DeathRecipient(Arc::new(death::Recipient::new(Arc::new(callback))))
    }
}

/// Death notifications as libbinder_ndk (`ndk/ibinder.cpp`, `AIBinder_DeathRecipient` and its
/// `TransferDeathRecipient`s) and libbinder (`BpBinder.cpp`: `linkToDeath`, `unlinkToDeath`,
/// `sendObituary`) implement them, android-15.0.0_r23 (the same in android-16.0.0_r2), written
/// here from their behaviour:
///
/// - `AIBinder_linkToDeath` makes a transfer entry (the binder it watches, the recipient's
///   cookie, a weak reference to the recipient) and registers it with the proxy
///   (`BpBinder::linkToDeath`: `DEAD_OBJECT` once the obituaries were sent); the recipient keeps
///   it in its list.
/// - When the remote process dies, `BpBinder::sendObituary` takes the proxy's obituaries, marks
///   them sent (`mObitsSent = 1`) and only then calls each entry's `binderDied`: the user's
///   callback first; then, if the recipient still exists, its own `unlinkToDeath` of that entry
///   (a `WARNING` "Unlinking to dead binder resulted in: <status>" unless that answers
///   `DEAD_OBJECT`); then the entry forgets its binder.
/// - `AIBinder_unlinkToDeath` (`AIBinder_DeathRecipient::unlinkToDeath`) finds the entry for that
///   binder and cookie (`NAME_NOT_FOUND` if none), removes it, and unlinks it from the proxy.
///   `BpBinder::unlinkToDeath` answers `DEAD_OBJECT` once the obituaries were sent, and then
///   libbinder_ndk logs, at error level: "unlinkToDeath: removed reference to death recipient
///   but unlink failed: DEAD_OBJECT".
///
/// So an unlink after the death was delivered fails with `DEAD_OBJECT` and logs that error
/// whenever it reaches an entry libbinder_ndk has not removed itself: from inside the death
/// callback, before `binderDied` unlinks.
// Only `runtime` (a `standin_runtime` build) delivers a death.
#[cfg_attr(not(standin_runtime), allow(dead_code))]
pub mod death {
    use super::StatusCode;
    use std::sync::{Arc, Mutex, Weak};

    type Callback = Arc<dyn Fn() + Send + Sync>;

    /// libbinder_ndk's logcat lines (here: kept for the tests, and printed to stderr).
    static LOG: Mutex<Vec<String>> = Mutex::new(Vec::new());

    fn log(priority: char, message: String) {
        let line = format!("{priority} libbinder_ndk: {message}");
        eprintln!("{line}");
        LOG.lock().unwrap_or_else(|e| e.into_inner()).push(line);
    }

    /// libbinder's `BpBinder`: the proxy of a remote object, with its obituaries.
    pub struct Proxy {
        state: Mutex<ProxyState>,
    }

    #[derive(Default)]
    struct ProxyState {
        obituaries: Vec<Weak<Transfer>>,
        obits_sent: bool,
    }

    impl Proxy {
        /// `BpBinder::linkToDeath`.
        fn link(&self, entry: &Arc<Transfer>) -> Result<(), StatusCode> {
            let mut state = self.state.lock().unwrap();
            if state.obits_sent {
                return Err(StatusCode::DEAD_OBJECT);
            }
            state.obituaries.push(Arc::downgrade(entry));
            Ok(())
        }

        /// `BpBinder::unlinkToDeath`.
        fn unlink(&self, entry: &Arc<Transfer>) -> Result<(), StatusCode> {
            let mut state = self.state.lock().unwrap();
            if state.obits_sent {
                return Err(StatusCode::DEAD_OBJECT);
            }
            let at = state
                .obituaries
                .iter()
                .position(|o| std::ptr::eq(o.as_ptr(), Arc::as_ptr(entry)))
                .ok_or(StatusCode::NAME_NOT_FOUND)?;
            state.obituaries.remove(at);
            Ok(())
        }

        /// `BpBinder::sendObituary`: the remote process died.
        fn send_obituary(self: &Arc<Self>) {
            let obits = {
                let mut state = self.state.lock().unwrap();
                if state.obits_sent {
                    return;
                }
                state.obits_sent = true;
                std::mem::take(&mut state.obituaries)
            };
            for entry in obits.iter().filter_map(Weak::upgrade) {
                entry.binder_died(self);
            }
        }
    }

    /// libbinder_ndk's `AIBinder_DeathRecipient::TransferDeathRecipient`: one link of a
    /// recipient to one binder.
    struct Transfer {
        who: Mutex<Option<Weak<Proxy>>>,
        parent: Weak<Recipient>,
        on_died: Callback,
    }

    impl Transfer {
        fn watches(&self, proxy: &Arc<Proxy>) -> bool {
            let who = self.who.lock().unwrap();
            who.as_ref()
                .is_some_and(|w| std::ptr::eq(w.as_ptr(), Arc::as_ptr(proxy)))
        }

        /// `TransferDeathRecipient::binderDied`.
        fn binder_died(&self, who: &Arc<Proxy>) {
            (self.on_died)();
            if let Some(recipient) = self.parent.upgrade() {
                let result = recipient.unlink_to_death(who);
                if result != Err(StatusCode::DEAD_OBJECT) {
                    log(
                        'W',
                        format!("Unlinking to dead binder resulted in: {result:?}"),
                    );
                }
            }
            *self.who.lock().unwrap() = None;
        }
    }

    /// libbinder_ndk's `AIBinder_DeathRecipient`: the callback (its cookie) and its links.
    pub struct Recipient {
        on_died: Callback,
        links: Mutex<Vec<Arc<Transfer>>>,
    }

    impl Recipient {
        pub(super) fn new(on_died: Callback) -> Self {
            Self {
                on_died,
                links: Mutex::new(Vec::new()),
            }
        }

        /// `AIBinder_DeathRecipient::linkToDeath`.
        pub(super) fn link_to_death(
            self: &Arc<Self>,
            proxy: &Arc<Proxy>,
        ) -> Result<(), StatusCode> {
            let mut links = self.links.lock().unwrap();
            let entry = Arc::new(Transfer {
                who: Mutex::new(Some(Arc::downgrade(proxy))),
                parent: Arc::downgrade(self),
                on_died: Arc::clone(&self.on_died),
            });
            proxy.link(&entry)?;
            links.push(entry);
            links.retain(|l| l.who.lock().unwrap().is_some());
            Ok(())
        }

        /// `AIBinder_DeathRecipient::unlinkToDeath`.
        pub(super) fn unlink_to_death(&self, proxy: &Arc<Proxy>) -> Result<(), StatusCode> {
            let mut links = self.links.lock().unwrap();
            let at = links
                .iter()
                .rposition(|l| l.watches(proxy))
                .ok_or(StatusCode::NAME_NOT_FOUND)?;
            let entry = links.remove(at);
            let status = proxy.unlink(&entry);
            if let Err(e) = status {
                log(
                    'E',
                    format!("unlinkToDeath: removed reference to death recipient but unlink failed: {e:?}"),
                );
            }
            status
        }
    }

    /// What the AOSP arm's tests drive: not libbinder_rs API, so only a build with `--cfg
    /// standin_runtime` (soong.py standin-runs) has it, and code that named it would fail the
    /// clippy check.
    #[cfg(standin_runtime)]
    pub mod runtime {
        use super::{Proxy, LOG};
        use std::sync::Arc;

        /// A proxy of an object in another process that is alive.
        pub fn remote_binder() -> crate::SpIBinder {
            crate::SpIBinder(Arc::new(Proxy {
                state: Default::default(),
            }))
        }

        /// The process hosting `binder`'s object dies: libbinder delivers its obituaries, on
        /// this thread.
        pub fn kill(binder: &crate::SpIBinder) {
            binder.0.send_obituary();
        }

        /// The lines libbinder_ndk logged so far, taken.
        pub fn take_log() -> Vec<String> {
            std::mem::take(&mut *LOG.lock().unwrap_or_else(|e| e.into_inner()))
        }
    }
}

/// proxy.rs: `get_declared_instances(interface: &str) -> Result<Vec<String>>`.
pub fn get_declared_instances(_interface: &str) -> std::result::Result<Vec<String>, StatusCode> {
    unreachable!("{STAND_IN}")
}

/// proxy.rs: `get_interface<T: FromIBinder + ?Sized>(name: &str) -> Result<Strong<T>>`.
pub fn get_interface<T: FromIBinder + ?Sized>(
    _name: &str,
) -> std::result::Result<Strong<T>, StatusCode> {
    unreachable!("{STAND_IN}")
}

/// proxy.rs: `wait_for_interface<T: FromIBinder + ?Sized>(name: &str) -> Result<Strong<T>>`.
pub fn wait_for_interface<T: FromIBinder + ?Sized>(
    _name: &str,
) -> std::result::Result<Strong<T>, StatusCode> {
    unreachable!("{STAND_IN}")
}

/// proxy.rs: `is_declared(interface: &str) -> Result<bool>`.
pub fn is_declared(_interface: &str) -> std::result::Result<bool, StatusCode> {
    unreachable!("{STAND_IN}")
}

// ---- service.rs -----------------------------------------------------------------------------

/// service.rs: `add_service(identifier: &str, binder: SpIBinder) -> Result<()>`.
pub fn add_service(_identifier: &str, _binder: SpIBinder) -> std::result::Result<(), StatusCode> {
    unreachable!("{STAND_IN}")
}

// ---- state.rs -------------------------------------------------------------------------------

/// state.rs: `ProcessState` (the process's binder thread pool).
pub struct ProcessState;

impl ProcessState {
    /// state.rs: `start_thread_pool()`.
    pub fn start_thread_pool() {
        unreachable!("{STAND_IN}")
    }
    /// state.rs: `join_thread_pool()`.
    pub fn join_thread_pool() {
        unreachable!("{STAND_IN}")
    }
    /// state.rs: `set_thread_pool_max_thread_count(num_threads: u32)`.
    pub fn set_thread_pool_max_thread_count(_num_threads: u32) {
        unreachable!("{STAND_IN}")
    }
}

/// state.rs: `ThreadState` (the calling identity of the current transaction).
pub struct ThreadState;

impl ThreadState {
    /// state.rs: `get_calling_uid() -> uid_t`.
    pub fn get_calling_uid() -> libc::uid_t {
        unreachable!("{STAND_IN}")
    }
    /// state.rs: `get_calling_pid() -> pid_t`.
    pub fn get_calling_pid() -> libc::pid_t {
        unreachable!("{STAND_IN}")
    }
    /// state.rs: `with_calling_sid(check_permission: impl FnOnce(Option<&CStr>) -> T) -> T`.
    pub fn with_calling_sid<T, F>(_check_permission: F) -> T
    where
        for<'a> F: FnOnce(Option<&'a CStr>) -> T,
    {
        unreachable!("{STAND_IN}")
    }
}

// ---- parcel/file_descriptor.rs --------------------------------------------------------------

/// parcel/file_descriptor.rs: `ParcelFileDescriptor(OwnedFd)`.
#[derive(Debug)]
pub struct ParcelFileDescriptor(OwnedFd);

impl ParcelFileDescriptor {
    /// parcel/file_descriptor.rs: `new<F: Into<OwnedFd>>(fd: F)`.
    pub fn new<F: Into<OwnedFd>>(fd: F) -> Self {
        Self(fd.into())
    }
}

impl AsRef<OwnedFd> for ParcelFileDescriptor {
    fn as_ref(&self) -> &OwnedFd {
        &self.0
    }
}

impl From<ParcelFileDescriptor> for OwnedFd {
    fn from(fd: ParcelFileDescriptor) -> OwnedFd {
        fd.0
    }
}

impl AsRawFd for ParcelFileDescriptor {
    fn as_raw_fd(&self) -> RawFd {
        self.0.as_raw_fd()
    }
}

impl IntoRawFd for ParcelFileDescriptor {
    fn into_raw_fd(self) -> RawFd {
        self.0.into_raw_fd()
    }
}

impl PartialEq for ParcelFileDescriptor {
    fn eq(&self, other: &Self) -> bool {
        self.0.as_raw_fd() == other.0.as_raw_fd()
    }
}

impl Eq for ParcelFileDescriptor {}
