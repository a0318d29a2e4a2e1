//! The service socket: its default path, stale-socket handling and permissions.

use std::io;
use std::os::unix::fs::{FileTypeExt, PermissionsExt};
use std::os::unix::net::UnixStream;
use std::path::{Path, PathBuf};

/// Environment variable naming the socket, for the service and its clients.
pub const SOCKET_ENV: &str = "GUNYAH_VM_SOCKET";

/// The default socket: `$GUNYAH_VM_SOCKET`, else `$XDG_RUNTIME_DIR/gunyah-vm.sock`, else
/// `/run/gunyah-vm.sock` for root, else `/tmp/gunyah-vm-$UID.sock`.
pub fn default_socket_path() -> PathBuf {
    if let Some(p) = std::env::var_os(SOCKET_ENV).filter(|p| !p.is_empty()) {
        return PathBuf::from(p);
    }
    if let Some(dir) = std::env::var_os("XDG_RUNTIME_DIR").filter(|p| !p.is_empty()) {
        return Path::new(&dir).join("gunyah-vm.sock");
    }
    let uid = nix::unistd::geteuid();
    if uid.is_root() {
        PathBuf::from("/run/gunyah-vm.sock")
    } else {
        PathBuf::from(format!("/tmp/gunyah-vm-{uid}.sock"))
    }
}

/// The diagnostics socket beside `socket` (`<socket>.dump`).
pub fn diagnostics_path(socket: &Path) -> PathBuf {
    let mut p = socket.as_os_str().to_owned();
    p.push(".dump");
    PathBuf::from(p)
}

/// Makes `path` free for a new listener: removes a stale socket nobody listens on; refuses
/// when a live service answers there or when the path is not a socket.
pub fn clear_stale(path: &Path) -> io::Result<()> {
    let meta = match std::fs::symlink_metadata(path) {
        Ok(m) => m,
        Err(e) if e.kind() == io::ErrorKind::NotFound => return Ok(()),
        Err(e) => return Err(e),
    };
    if !meta.file_type().is_socket() {
        return Err(io::Error::new(
            io::ErrorKind::AlreadyExists,
            format!(
                "{} exists and is not a socket; not removing it",
                path.display()
            ),
        ));
    }
    match UnixStream::connect(path) {
        Ok(_) => Err(io::Error::new(
            io::ErrorKind::AddrInUse,
            format!("a service is already listening on {}", path.display()),
        )),
        Err(_) => {
            log::info!("removing stale socket {}", path.display());
            std::fs::remove_file(path)
        }
    }
}

/// Sets the socket's permission bits (e.g. 0o660).
pub fn set_mode(path: &Path, mode: u32) -> io::Result<()> {
    std::fs::set_permissions(path, std::fs::Permissions::from_mode(mode))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn test_clear_stale_removes_dead_socket_and_keeps_live_one() -> io::Result<()> {
        let dir = std::env::temp_dir().join(format!("gunyah-sock-test-{}", std::process::id()));
        std::fs::create_dir_all(&dir)?;
        let path = dir.join("s.sock");
        let _ = std::fs::remove_file(&path);
        let live = std::os::unix::net::UnixListener::bind(&path)?;
        assert_eq!(
            clear_stale(&path).unwrap_err().kind(),
            io::ErrorKind::AddrInUse
        );
        drop(live);
        clear_stale(&path)?;
        assert!(!path.exists());
        std::fs::write(&path, b"not a socket")?;
        assert_eq!(
            clear_stale(&path).unwrap_err().kind(),
            io::ErrorKind::AlreadyExists
        );
        std::fs::remove_dir_all(&dir)
    }

    #[test]
    fn test_diagnostics_path_is_beside_socket() {
        assert_eq!(
            diagnostics_path(Path::new("/run/x.sock")),
            PathBuf::from("/run/x.sock.dump")
        );
    }
}
