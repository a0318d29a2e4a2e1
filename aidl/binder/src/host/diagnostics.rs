//! The host's route to the service's diagnostics. rsbinder's RPC client cannot send binder
//! `dump()` (it needs a raw fd in the parcel), so the service also writes the same text to
//! whoever connects to `<socket>.dump` — if the peer's uid passes the access policy. Both
//! ends of that small protocol live here: the text, or `denied: ` and the reason.

use std::io::Write;
use std::os::unix::net::{UnixListener, UnixStream};

use nix::sys::socket::{getsockopt, sockopt::PeerCredentials};

/// How the service answers a peer the access policy refuses: this, then the reason.
const DENIED: &str = "denied: ";

/// What the service answers a peer of uid: the diagnostics text, or why it is refused.
pub type Answer = dyn Fn(u32) -> Result<String, String> + Send + Sync;

/// How long one peer may take to read its answer: the one diagnostics thread serves peers in
/// turn, so a peer that never reads must not hold it (docs/THREAT_MODEL.md).
const WRITE_BOUND: std::time::Duration = std::time::Duration::from_secs(2);

fn serve_one(mut stream: UnixStream, answer: &Answer) -> std::io::Result<()> {
    stream.set_write_timeout(Some(WRITE_BOUND))?;
    let uid = getsockopt(&stream, PeerCredentials)
        .map(|c| c.uid())
        .map_err(std::io::Error::from)?;
    match answer(uid) {
        Ok(text) => stream.write_all(text.as_bytes()),
        Err(reason) => {
            log::warn!("diagnostics: uid {uid} denied");
            stream.write_all(format!("{DENIED}{reason}\n").as_bytes())
        }
    }
}

/// Binds the diagnostics route's listener at `path` (`<socket>.dump`).
pub fn bind(path: &std::path::Path) -> std::io::Result<UnixListener> {
    UnixListener::bind(path)
}

/// Serves diagnostics on `listener` from a background thread, for the life of the process.
pub fn spawn(listener: UnixListener, answer: Box<Answer>) -> std::io::Result<()> {
    std::thread::Builder::new()
        .name("diagnostics".into())
        .spawn(move || {
            for stream in listener.incoming() {
                match stream.and_then(|s| serve_one(s, &*answer)) {
                    Ok(()) => {}
                    Err(e) => log::debug!("diagnostics: {e}"),
                }
            }
        })?;
    Ok(())
}

/// Reads the diagnostics text from the socket at `path` (client side). A refusal is an error
/// of kind `PermissionDenied` carrying the service's reason.
pub fn read(path: &std::path::Path) -> std::io::Result<String> {
    use std::io::Read;
    let mut stream = UnixStream::connect(path)?;
    let mut text = String::new();
    stream.read_to_string(&mut text)?;
    match text.strip_prefix(DENIED) {
        Some(reason) => Err(std::io::Error::new(
            std::io::ErrorKind::PermissionDenied,
            reason.trim_end().to_string(),
        )),
        None => Ok(text),
    }
}
