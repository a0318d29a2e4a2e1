//! The host's route to the service's diagnostics. rsbinder's RPC client cannot send binder
//! `dump()` (it needs a raw fd in the parcel), so the service also writes the same text to
//! whoever connects to `<socket>.dump` — if the peer's uid passes the access policy. Both
//! ends of that small protocol live here: the text, or `denied: ` and the reason.

use std::io::Write;
use std::os::unix::net::{UnixListener, UnixStream};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use nix::sys::socket::{getsockopt, sockopt::PeerCredentials};

/// How the service answers a peer the access policy refuses: this, then the reason.
const DENIED: &str = "denied: ";

/// What the service answers a peer of uid: the diagnostics text, or why it is refused.
pub type Answer = dyn Fn(u32) -> Result<String, String> + Send + Sync;

/// How long one peer may take to read its whole answer; a peer that never reads is dropped
/// then (docs/THREAT_MODEL.md).
const WRITE_BOUND: Duration = Duration::from_secs(2);

/// Peers served at once, each on a thread of its own; one more is told to come back later.
const MAX_PEERS: usize = 4;

/// Writes all of `bytes` by `deadline`, or fails with `TimedOut`: the send timeout is what is
/// left of the whole answer's time, not a fresh bound per write.
fn write_by(stream: &mut UnixStream, mut bytes: &[u8], deadline: Instant) -> std::io::Result<()> {
    while !bytes.is_empty() {
        let left = deadline.saturating_duration_since(Instant::now());
        if left.is_zero() {
            return Err(std::io::ErrorKind::TimedOut.into());
        }
        stream.set_write_timeout(Some(left))?;
        match stream.write(bytes) {
            Ok(0) => return Err(std::io::ErrorKind::WriteZero.into()),
            Ok(n) => bytes = &bytes[n..],
            Err(e) if e.kind() == std::io::ErrorKind::Interrupted => {}
            Err(e) => return Err(e),
        }
    }
    Ok(())
}

fn serve_one(mut stream: UnixStream, answer: &Answer) -> std::io::Result<()> {
    let deadline = Instant::now() + WRITE_BOUND;
    let uid = getsockopt(&stream, PeerCredentials)
        .map(|c| c.uid())
        .map_err(std::io::Error::from)?;
    match answer(uid) {
        Ok(text) => write_by(&mut stream, text.as_bytes(), deadline),
        Err(reason) => {
            log::warn!("diagnostics: uid {uid} denied");
            write_by(
                &mut stream,
                format!("{DENIED}{reason}\n").as_bytes(),
                deadline,
            )
        }
    }
}

/// Binds the diagnostics route's listener at `path` (`<socket>.dump`).
pub fn bind(path: &std::path::Path) -> std::io::Result<UnixListener> {
    UnixListener::bind(path)
}

/// Serves diagnostics on `listener` from a background thread, for the life of the process:
/// each peer on a thread of its own, at most `MAX_PEERS` at once, each for at most
/// `WRITE_BOUND`; a peer beyond that is refused at once, so silent peers cannot hold the
/// route for the others for longer than the bound.
pub fn spawn(listener: UnixListener, answer: Box<Answer>) -> std::io::Result<()> {
    let answer: Arc<Answer> = Arc::from(answer);
    let peers = Arc::new(AtomicUsize::new(0));
    std::thread::Builder::new()
        .name("diagnostics".into())
        .spawn(move || {
            for stream in listener.incoming() {
                let Ok(mut stream) = stream else { continue };
                if peers.fetch_add(1, Ordering::SeqCst) >= MAX_PEERS {
                    peers.fetch_sub(1, Ordering::SeqCst);
                    // A new socket's buffer takes this line whole: the write cannot wait.
                    let _ = stream.set_nonblocking(true);
                    let _ = stream.write(
                        format!("{DENIED}{MAX_PEERS} peers are being served; try again\n")
                            .as_bytes(),
                    );
                    continue;
                }
                let (answer, done) = (answer.clone(), peers.clone());
                let served = std::thread::Builder::new()
                    .name("diagnostics-peer".into())
                    .spawn(move || {
                        if let Err(e) = serve_one(stream, &*answer) {
                            log::debug!("diagnostics: {e}");
                        }
                        done.fetch_sub(1, Ordering::SeqCst);
                    });
                if served.is_err() {
                    peers.fetch_sub(1, Ordering::SeqCst);
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
