//! Who may call the manager. One policy answers for every manager method; VM objects are
//! capabilities and are not checked again.
//!
//! Host: the caller's kernel-vouched uid (SO_PEERCRED) against an allowlist. Android: SELinux
//! decides who can find the service (`hal_client_domain`); the same uid allowlist applies when
//! configured.

use std::collections::BTreeSet;

use crate::binder::Caller;
use crate::error::{Error, Result};

/// The access policy of the manager.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AccessPolicy {
    /// `None`: every caller that reached the service (Android, where SELinux decides who may
    /// find and call it).
    allowed_uids: Option<BTreeSet<u32>>,
}

impl AccessPolicy {
    /// Only these uids may call.
    pub fn allow_uids(uids: impl IntoIterator<Item = u32>) -> Self {
        Self {
            allowed_uids: Some(uids.into_iter().collect()),
        }
    }

    /// Android: SELinux (`hal_client_domain(<client>, hal_gunyah)`) already decides who can find
    /// and call the service; no uid allowlist on top.
    pub fn selinux_only() -> Self {
        Self { allowed_uids: None }
    }

    /// The host default: the service's own uid and root.
    pub fn host_default() -> Self {
        Self::allow_uids([nix::unistd::geteuid().as_raw(), 0])
    }

    /// Whether `uid` may connect at all (the transport's connection gate).
    pub fn allows_uid(&self, uid: u32) -> bool {
        self.allowed_uids
            .as_ref()
            .map_or(true, |uids| uids.contains(&uid))
    }

    /// Checks one manager call.
    pub fn check(&self, caller: &Caller, method: &str) -> Result<()> {
        if self.allows_uid(caller.uid) {
            Ok(())
        } else {
            Err(Error::AccessDenied(format!(
                "{method}: uid {} (pid {}) may not use the Gunyah VM service",
                caller.uid, caller.pid
            )))
        }
    }

    /// The allowed uids (diagnostics): `None` when SELinux alone decides.
    pub fn allowed_uids(&self) -> Option<&BTreeSet<u32>> {
        self.allowed_uids.as_ref()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn test_check_denies_unlisted_uid() {
        let policy = AccessPolicy::allow_uids([1000]);
        let caller = |uid| Caller { uid, pid: 42 };
        assert!(policy.check(&caller(1000), "createVm").is_ok());
        let err = policy.check(&caller(1001), "createVm").unwrap_err();
        assert_eq!(err.code(), None);
        assert!(err.to_string().contains("uid 1001"));
        assert!(AccessPolicy::selinux_only()
            .check(&caller(1001), "createVm")
            .is_ok());
    }
}
