//! The AOSP side of the facade: libbinder_rs (`binder` crate) on kernel binder, with the
//! service registered at the service manager. Compiled only by Soong (`cfgs: ["aosp"]`).

// `link_to_death`, `unlink_to_death` (IBinder) and `dump` (IBinderInternal) are trait methods.
use binder::binder_impl::IBinderInternal;
use binder::IBinder;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;

pub use binder::{
    BinderFeatures, ExceptionCode, Interface, ParcelFileDescriptor, SpIBinder, Status, StatusCode,
    Strong,
};

/// A call's result with a full `Status` (rsbinder's `BinderResult`).
pub type BinderResult<T> = binder::Result<T>;
/// Transport-level results.
pub type TransportResult<T> = std::result::Result<T, StatusCode>;

// No `set_requesting_sid`: the vendor (`android_vndk`) build of libbinder_rs has no such
// feature, and no decision here needs the caller's context — SELinux has already decided who
// may find and call the service (`hal_client_domain`, `binder_call`).
#[doc(hidden)]
#[macro_export]
macro_rules! __new_binder_aosp {
    ($bn:ty, $obj:expr) => {
        <$bn>::new_binder($obj, $crate::BinderFeatures::default())
    };
}
#[doc(hidden)]
pub use crate::__new_binder_aosp as __new_binder;

/// A service-specific error with a message.
pub fn service_specific(code: i32, message: &str) -> Status {
    Status::new_service_specific_error_str(code, Some(message))
}

/// The binder exception `EX_SECURITY`.
pub fn security_exception(message: &str) -> Status {
    Status::new_exception_str(ExceptionCode::SECURITY, Some(message))
}

/// The binder exception `EX_ILLEGAL_ARGUMENT`.
pub fn illegal_argument(message: &str) -> Status {
    Status::new_exception_str(ExceptionCode::ILLEGAL_ARGUMENT, Some(message))
}

/// The caller of the current incoming transaction.
pub fn calling_identity() -> Caller {
    Caller {
        uid: binder::ThreadState::get_calling_uid(),
        pid: binder::ThreadState::get_calling_pid(),
    }
}

/// A death notification that stays registered while this value lives.
pub struct DeathLink {
    binder: SpIBinder,
    recipient: binder::DeathRecipient,
    // Set before `on_death` runs: the death has been delivered, and libbinder has dropped the
    // link itself.
    delivered: Arc<AtomicBool>,
}

impl DeathLink {
    /// Calls `on_death` once when the process hosting `binder` dies.
    pub fn new(
        mut binder: SpIBinder,
        on_death: impl Fn() + Send + Sync + 'static,
    ) -> TransportResult<Self> {
        let delivered = Arc::new(AtomicBool::new(false));
        let seen = Arc::clone(&delivered);
        let mut recipient = binder::DeathRecipient::new(move || {
            seen.store(true, Ordering::SeqCst);
            on_death();
        });
        binder.link_to_death(&mut recipient)?;
        Ok(Self {
            binder,
            recipient,
            delivered,
        })
    }
}

impl Drop for DeathLink {
    fn drop(&mut self) {
        // Once the death was delivered there is nothing to unlink: libbinder has sent the
        // obituaries (BpBinder::unlinkToDeath would answer DEAD_OBJECT) and libbinder_ndk
        // removes its own entry after the callback, and an unlink before that — from the
        // callback itself, as when the service drops a dead client's registration — would make
        // libbinder_ndk log "unlinkToDeath: removed reference to death recipient but unlink
        // failed: DEAD_OBJECT" at error level, once per dead client. (A death delivered on
        // another thread while this runs can still meet the unlink; that costs one such line.)
        if !self.delivered.load(Ordering::SeqCst) {
            let _ = self.binder.unlink_to_death(&mut self.recipient);
        }
    }
}

/// Implements `Interface` for a service object, routing binder `dump()` (dumpsys) to its
/// `dump_text(&self, args) -> String`.
#[macro_export]
macro_rules! impl_interface_with_dump {
    ($ty:ty) => {
        impl $crate::Interface for $ty {
            fn dump(
                &self,
                writer: &mut dyn ::std::io::Write,
                args: &[&::std::ffi::CStr],
            ) -> $crate::TransportResult<()> {
                let args: Vec<String> = args
                    .iter()
                    .map(|a| a.to_string_lossy().into_owned())
                    .collect();
                writer
                    .write_all(self.dump_text(&args).as_bytes())
                    .map_err(|_| $crate::StatusCode::FAILED_TRANSACTION)
            }
        }
    };
}

/// A registration with the service manager. Kernel binder services stay registered until the
/// process ends, so dropping it does nothing.
pub struct ServerHandle(());

/// Registers `binder` as `name` with the service manager and starts the binder thread pool
/// (at most `max_threads` threads); the caller then joins it with [`join_thread_pool`].
pub fn serve_with_service_manager(
    name: &str,
    binder: SpIBinder,
    max_threads: u32,
) -> TransportResult<ServerHandle> {
    binder::ProcessState::set_thread_pool_max_thread_count(max_threads);
    binder::ProcessState::start_thread_pool();
    binder::add_service(name, binder)?;
    Ok(ServerHandle(()))
}

/// RPC sockets are a host-only transport: INVALID_OPERATION.
pub fn serve_on_socket(
    _name: &str,
    _binder: SpIBinder,
    _socket: &std::path::Path,
    _options: &crate::ServeOptions,
) -> TransportResult<ServerHandle> {
    Err(StatusCode::INVALID_OPERATION)
}

/// Asks `binder`'s service to write its `dump()` to `out` (what dumpsys does).
pub fn dump(
    mut binder: SpIBinder,
    out: std::os::fd::OwnedFd,
    args: &[String],
) -> TransportResult<()> {
    let args: Vec<&str> = args.iter().map(String::as_str).collect();
    binder.dump(&out, &args)
}

/// Serves binder calls on this thread until the process exits.
pub fn join_thread_pool() {
    binder::ProcessState::join_thread_pool()
}

/// The instances of IGunyahVmManager the device declares in its VINTF manifest.
pub fn declared_instances() -> TransportResult<Vec<String>> {
    binder::get_declared_instances(super::MANAGER_DESCRIPTOR)
}

/// A session with the service: nothing to keep on kernel binder (the thread pool serves
/// callbacks).
pub struct Session(());

/// Android's default: the service manager.
pub fn default_target() -> Target {
    Target::ServiceManager
}

/// Connects to the manager at `target` (the declared `default` instance unless
/// [`Target::Instance`]), starting the binder thread pool, which serves callbacks;
/// `callback_threads` applies to RPC only. The error is the reason, in words.
pub fn connect<T: binder::FromIBinder + ?Sized>(
    target: &Target,
    _callback_threads: u32,
) -> Result<(Strong<T>, Session), String> {
    if let Target::Socket(path) = target {
        return Err(format!(
            "{}: RPC sockets are a host-only transport; Android uses the service manager",
            path.display()
        ));
    }
    binder::ProcessState::start_thread_pool();
    let manager = binder::wait_for_interface::<T>(&target.to_string())
        .map_err(|e| format!("{target}: {e:?}"))?;
    Ok((manager, Session(())))
}

/// The service's diagnostics through a socket: none on Android, where binder `dump()` (see
/// [`dump`]) carries them.
pub fn read_diagnostics(_target: &Target) -> Option<std::io::Result<String>> {
    None
}

/// The fd of a `ParcelFileDescriptor`.
pub fn pfd_as_fd(pfd: &ParcelFileDescriptor) -> std::os::fd::BorrowedFd<'_> {
    use std::os::fd::AsFd;
    pfd.as_ref().as_fd()
}

/// Wraps an owned fd for sending.
pub fn pfd_from(fd: std::os::fd::OwnedFd) -> ParcelFileDescriptor {
    ParcelFileDescriptor::new(std::fs::File::from(fd))
}

use super::{CallError, Caller, Target};

/// Classifies a failed call's status. libbinder_rs exposes the message only inside its
/// description, which is used as the message here.
pub fn classify(status: &Status) -> CallError {
    let message = status.get_description();
    match status.exception_code() {
        ExceptionCode::SECURITY => CallError::Security(message),
        ExceptionCode::SERVICE_SPECIFIC => CallError::ServiceSpecific {
            code: status.service_specific_error(),
            message,
        },
        ExceptionCode::TRANSACTION_FAILED
            if status.transaction_error() == binder::StatusCode::DEAD_OBJECT =>
        {
            CallError::DeadObject
        }
        _ => CallError::Other(message),
    }
}
