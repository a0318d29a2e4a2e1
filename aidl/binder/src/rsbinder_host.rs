//! The host side of the facade: rsbinder, served over RPC binder on a Unix socket.

use std::path::Path;
use std::sync::{Arc, Weak};

pub use rsbinder::{
    BinderFeatures, ExceptionCode, Interface, ParcelFileDescriptor, SIBinder as SpIBinder, Status,
    StatusCode, Strong,
};

/// AOSP `binder::Result<T>`: a call's result with a full `Status`.
pub type BinderResult<T> = rsbinder::BinderResult<T>;
/// AOSP `binder::StatusCode` results (transport-level).
pub type TransportResult<T> = rsbinder::Result<T>;

use rsbinder::entry::uri::{WireProfile, WireVersion};
use rsbinder::rpc::FileDescriptorTransportMode;

/// The RPC wire used on both ends: AOSP's Android-13+ versioned wire, the only one with
/// client-side death notification.
pub fn wire() -> WireProfile {
    WireProfile::Android13Plus(WireVersion::V2)
}

#[doc(hidden)]
#[macro_export]
macro_rules! __new_binder_host {
    ($bn:ty, $obj:expr) => {
        <$bn>::new_binder($obj)
    };
}
#[doc(hidden)]
pub use crate::__new_binder_host as __new_binder;

/// A service-specific error with a message.
pub fn service_specific(code: i32, message: &str) -> Status {
    Status::new_service_specific_error(code, Some(message.to_string()))
}

/// The binder exception `EX_SECURITY`.
pub fn security_exception(message: &str) -> Status {
    Status::from((ExceptionCode::Security, message))
}

/// The binder exception `EX_ILLEGAL_ARGUMENT` (a malformed call the AIDL layer cannot express).
pub fn illegal_argument(message: &str) -> Status {
    Status::from((ExceptionCode::IllegalArgument, message))
}

/// The caller of the current incoming transaction (over RPC: the socket peer's SO_PEERCRED).
pub fn calling_identity() -> Caller {
    Caller {
        uid: rsbinder::get_calling_uid(),
        pid: rsbinder::get_calling_pid(),
    }
}

struct ClosureRecipient(Box<dyn Fn() + Send + Sync>);

impl rsbinder::DeathRecipient for ClosureRecipient {
    fn binder_died(&self, _who: &rsbinder::WIBinder) {
        (self.0)()
    }
}

/// A death notification that stays registered while this value lives.
pub struct DeathLink {
    binder: SpIBinder,
    recipient: Arc<ClosureRecipient>,
}

impl DeathLink {
    /// Calls `on_death` once when the process hosting `binder` dies.
    pub fn new(
        binder: SpIBinder,
        on_death: impl Fn() + Send + Sync + 'static,
    ) -> TransportResult<Self> {
        let recipient = Arc::new(ClosureRecipient(Box::new(on_death)));
        let weak: Weak<dyn rsbinder::DeathRecipient> =
            Arc::downgrade(&(recipient.clone() as Arc<dyn rsbinder::DeathRecipient>));
        binder.link_to_death(weak)?;
        Ok(Self { binder, recipient })
    }
}

impl Drop for DeathLink {
    fn drop(&mut self) {
        let weak: Weak<dyn rsbinder::DeathRecipient> =
            Arc::downgrade(&(self.recipient.clone() as Arc<dyn rsbinder::DeathRecipient>));
        // The binder may be dead already; then there is nothing to unlink.
        let _ = self.binder.unlink_to_death(weak);
    }
}

/// Implements `Interface` for a service object, routing binder `dump()` to its
/// `dump_text(&self, args) -> String`.
#[macro_export]
macro_rules! impl_interface_with_dump {
    ($ty:ty) => {
        impl $crate::Interface for $ty {
            fn dump(
                &self,
                writer: &mut dyn ::std::io::Write,
                args: &[String],
            ) -> $crate::TransportResult<()> {
                writer
                    .write_all(self.dump_text(args).as_bytes())
                    .map_err(|_| $crate::StatusCode::FailedTransaction)
            }
        }
    };
}

/// A running server; dropping a socket server closes the socket and ends every session
/// (kernel binder servers run until the process ends).
pub struct ServerHandle {
    _guard: rsbinder::ServerGuard,
}

/// Publishes `binder` under `name` on a Unix socket (RPC binder, fd passing on; the path must
/// not exist: the caller removes stale sockets). Returns once the socket is listening.
pub fn serve_on_socket(
    name: &str,
    binder: SpIBinder,
    socket: &Path,
    options: &crate::ServeOptions,
) -> TransportResult<ServerHandle> {
    let (max_threads, max_connections) = (options.max_threads, options.max_connections);
    let uri = rsbinder::Uri::new(rsbinder::Endpoint::unix(socket)).with_wire(wire());
    let guard = rsbinder::serve(uri)?
        .with(move |o| {
            o.fd_modes = Some(vec![
                FileDescriptorTransportMode::None,
                FileDescriptorTransportMode::Unix,
            ]);
            o.threads = Some(max_threads);
            o.max_connections = Some(max_connections);
            // A callback into a client that stops answering ends that client's session
            // instead of blocking a vCPU thread forever.
            o.reply_timeout = Some(std::time::Duration::from_secs(10));
        })
        .add(name, binder)?
        .spawn()?;
    Ok(ServerHandle { _guard: guard })
}

/// Publishes `binder` under `name` with the kernel binder's service manager (`rsb_hub` on a
/// Linux host) and starts the binder thread pool.
pub fn serve_with_service_manager(
    name: &str,
    binder: SpIBinder,
    _max_threads: u32,
) -> TransportResult<ServerHandle> {
    let guard = rsbinder::serve(rsbinder::Uri::kernel())?
        .add(name, binder)?
        .spawn()?;
    Ok(ServerHandle { _guard: guard })
}

/// Blocks the calling thread for the life of the process, as libbinder's does (host servers
/// run on threads of their own).
pub fn join_thread_pool() {
    loop {
        std::thread::park();
    }
}

/// Options of a host client connection.
#[derive(Clone, Debug)]
pub struct ConnectOptions {
    /// Incoming connections the service may use for callbacks and MMIO handlers; 0 for a
    /// client that registers none. Should be at least `vcpuCount + 1` of the VMs it serves.
    pub incoming_connections: u32,
}

/// A connection to the service; closes its session on drop.
pub struct Connection {
    client: rsbinder::Client,
}

impl Connection {
    /// Connects to the service socket.
    pub fn open(socket: &Path, options: &ConnectOptions) -> TransportResult<Self> {
        let uri = rsbinder::Uri::new(rsbinder::Endpoint::unix(socket)).with_wire(wire());
        let incoming = options.incoming_connections;
        let client = rsbinder::Client::open_with(uri, |o, _| {
            o.fd_mode = Some(FileDescriptorTransportMode::Unix);
            if incoming > 0 {
                o.incoming_connections = Some(incoming);
            }
            o.timeout = Some(std::time::Duration::from_secs(30));
        })?;
        Ok(Self { client })
    }

    /// Connects through kernel binder (the service manager waits for the service to register;
    /// the binder thread pool serves callbacks).
    pub fn open_kernel() -> TransportResult<Self> {
        Ok(Self {
            client: rsbinder::Client::open(rsbinder::Uri::kernel())?,
        })
    }

    /// The manager proxy.
    pub fn manager<T: rsbinder::FromIBinder + ?Sized>(&self) -> TransportResult<Strong<T>> {
        self.get::<T>(super::MANAGER_INSTANCE)
    }

    /// A service the server publishes under `name`.
    pub fn get<T: rsbinder::FromIBinder + ?Sized>(&self, name: &str) -> TransportResult<Strong<T>> {
        self.client.get::<T>(name)
    }
}

impl Drop for Connection {
    fn drop(&mut self) {
        if let Some(session) = self.client.session() {
            session.close_session();
        }
    }
}

/// A session with the service: the connection its proxies use, closed on drop (drop the
/// proxies first).
pub struct Session {
    _connection: Connection,
}

/// The host's default: the service's socket (`$GUNYAH_VM_SOCKET`, else the default path).
pub fn default_target() -> Target {
    Target::Socket(crate::host::socket::default_socket_path())
}

/// Connects to the manager at `target`. `callback_threads` bounds how many calls the service
/// can make into this process at once over RPC (callbacks, MMIO handlers); 0 refuses them.
/// Kernel binder serves them from the thread pool instead. The error is the reason, in words.
pub fn connect<T: rsbinder::FromIBinder + ?Sized>(
    target: &Target,
    callback_threads: u32,
) -> Result<(Strong<T>, Session), String> {
    let connection = match target {
        Target::Socket(path) => Connection::open(
            path,
            &ConnectOptions {
                incoming_connections: callback_threads,
            },
        ),
        Target::ServiceManager | Target::Instance(_) => Connection::open_kernel(),
    }
    .map_err(|e| format!("{e:?}"))?;
    let manager = match target {
        Target::Instance(_) => connection.get::<T>(&target.to_string()),
        _ => connection.manager::<T>(),
    }
    .map_err(|e| format!("no IGunyahVmManager there: {e:?}"))?;
    Ok((
        manager,
        Session {
            _connection: connection,
        },
    ))
}

/// The service's diagnostics through the socket beside `target`'s (an RPC client cannot pass
/// binder `dump()` its fd); `None` where the target has no such socket: use [`dump`] there.
pub fn read_diagnostics(target: &Target) -> Option<std::io::Result<String>> {
    match target {
        Target::Socket(socket) => Some(crate::host::diagnostics::read(
            &crate::host::socket::diagnostics_path(socket),
        )),
        _ => None,
    }
}

/// The IGunyahVmManager instances registered with the kernel binder service manager (what a
/// device's VINTF declaration is on Android). A host without kernel binder has none.
pub fn declared_instances() -> TransportResult<Vec<String>> {
    // Opening a kernel client sets up the process's binder state the lookup needs.
    let _kernel = rsbinder::Client::open(rsbinder::Uri::kernel())?;
    let prefix = format!("{}/", super::MANAGER_DESCRIPTOR);
    Ok(
        rsbinder::hub::list_services(rsbinder::hub::DUMP_FLAG_PRIORITY_ALL)
            .into_iter()
            .filter_map(|name| name.strip_prefix(&prefix).map(str::to_string))
            .collect(),
    )
}

/// Asks a kernel-binder proxy's service to write its `dump()` to `out` (not possible over
/// RPC: the host's diagnostics socket serves that case).
pub fn dump(binder: SpIBinder, out: std::os::fd::OwnedFd, args: &[String]) -> TransportResult<()> {
    match binder.as_proxy() {
        Some(proxy) => proxy.dump(out, args),
        None => Err(StatusCode::InvalidOperation),
    }
}

/// The fd of a `ParcelFileDescriptor`.
pub fn pfd_as_fd(pfd: &ParcelFileDescriptor) -> std::os::fd::BorrowedFd<'_> {
    use std::os::fd::AsFd;
    pfd.as_fd()
}

/// Wraps an owned fd for sending.
pub fn pfd_from(fd: std::os::fd::OwnedFd) -> ParcelFileDescriptor {
    ParcelFileDescriptor::new(fd)
}

use super::{CallError, Caller, Target};

/// Classifies a failed call's status.
pub fn classify(status: &Status) -> CallError {
    let message = status.message().unwrap_or_default().to_string();
    match status.exception_code() {
        ExceptionCode::Security => CallError::Security(message),
        ExceptionCode::ServiceSpecific => CallError::ServiceSpecific {
            code: status.service_specific_error(),
            message,
        },
        ExceptionCode::TransactionFailed
            if status.transaction_error() == rsbinder::StatusCode::DeadObject =>
        {
            CallError::DeadObject
        }
        _ => CallError::Other(status.to_string()),
    }
}
