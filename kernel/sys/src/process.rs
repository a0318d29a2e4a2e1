//! Process-wide settings for command-line tools.

/// Restores the default SIGPIPE disposition (Rust ignores it), so that a CLI writing into a
/// closed pipe (`gunyahctl abi | head`) ends quietly like other Unix tools instead of failing
/// on EPIPE.
pub fn restore_default_sigpipe() {
    // SAFETY: setting a standard signal to SIG_DFL installs no handler code and has no memory
    // effects; it is done at start-up before any thread exists.
    unsafe {
        libc::signal(libc::SIGPIPE, libc::SIG_DFL);
    }
}
