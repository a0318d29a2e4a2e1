//! A type-level stand-in for AOSP's `rustutils` crate (`librustutils`, system/librustutils), with
//! only the items gunyah-vm-hal uses, for the off-tree Soong lint check (tests/aosp/soong.py).
//! Nothing here runs. Items mirror system/librustutils as of android-15.0.0_r23 /
//! android-16.0.0_r2, with their cfgs.

/// system_properties.rs: reading and writing Android system properties. lib.rs declares it
/// only for `target_os = "android"`: a host variant that names it does not build.
#[cfg(target_os = "android")]
pub mod system_properties {
    /// system_properties.rs: `PropertyWatcherError` and friends, folded into one error type:
    /// the callers here only print it.
    #[derive(Debug)]
    pub struct PropertyWatcherError(());

    impl std::fmt::Display for PropertyWatcherError {
        fn fmt(&self, _f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
            unreachable!("type-level stand-in for librustutils: never run")
        }
    }

    impl std::error::Error for PropertyWatcherError {}

    /// system_properties.rs: `pub type Result<T> = std::result::Result<T, PropertyWatcherError>`.
    pub type Result<T> = std::result::Result<T, PropertyWatcherError>;

    /// system_properties.rs: `read(name: &str) -> Result<Option<String>>`.
    pub fn read(_name: &str) -> Result<Option<String>> {
        unreachable!("type-level stand-in for librustutils: never run")
    }

    /// system_properties.rs: `read_bool(name: &str, default_value: bool) -> Result<bool>`.
    pub fn read_bool(_name: &str, _default_value: bool) -> Result<bool> {
        unreachable!("type-level stand-in for librustutils: never run")
    }
}
