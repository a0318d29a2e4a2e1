//! The mock's irqfd and ioeventfd functions, with the a14 checks and errno.

use std::os::fd::{AsRawFd, BorrowedFd, RawFd};
use std::sync::Arc;

use nix::errno::Errno;

use gunyah_hypervisor::{Datamatch, Function, IoEventfd};
use gunyah_sys::eventfd::Shared;

/// A doorbell the guest can wait for.
#[derive(Debug)]
pub(super) struct Irqfd {
    /// The arguments it was added with (fd number included), for REMOVE_FUNCTION.
    pub arg: (RawFd, Function),
    pub label: u32,
    pub eventfd: Arc<Shared>,
}

/// A guest-write notifier.
#[derive(Debug)]
pub(super) struct Ioeventfd {
    /// The arguments it was added with (fd number included), for REMOVE_FUNCTION.
    pub arg: (RawFd, Function),
    pub addr: u64,
    pub len: u32,
    pub datamatch: Option<u64>,
    pub eventfd: Shared,
}

/// The functions bound to one VM.
#[derive(Debug, Default)]
pub(super) struct Functions {
    pub irqfds: Vec<Irqfd>,
    /// Every generation binds and matches them alike (docs/GENERATIONS.md, "ioeventfds"): one
    /// without datamatch keeps no length, so it takes a write of any width at its address and
    /// collides with every other ioeventfd there.
    pub ioeventfds: Vec<Ioeventfd>,
}

/// What REMOVE_FUNCTION compares to find an ioeventfd (docs/DRIVER_ABI.md §9).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum IoeventfdKey {
    /// The address alone (late a14): every ioeventfd there goes.
    Address,
    /// Address, length, flags and, with a data match, the value (ack66-early and later).
    Full,
}

/// The driver takes its own reference to an eventfd (here: a dup), after checking that the fd
/// is one. The description stays the VMM's to change: the mock, like the driver's
/// `eventfd_signal` and `eventfd_ctx_do_read`, only signals and takes it, never sleeping on it.
fn take_eventfd(fd: BorrowedFd<'_>) -> Result<Shared, Errno> {
    let dup = fd
        .try_clone_to_owned()
        .map_err(|e| Errno::from_raw(e.raw_os_error().unwrap_or(0)))?;
    Shared::from_client(dup)
}

impl Functions {
    /// GH_FN_IRQFD.
    pub fn add_irqfd(
        &mut self,
        fd: BorrowedFd<'_>,
        irqfd: gunyah_hypervisor::Irqfd,
    ) -> Result<(), Errno> {
        let label = irqfd.label;
        let eventfd = take_eventfd(fd)?;
        if self.irqfds.iter().any(|i| i.label == label) {
            return Err(Errno::EEXIST);
        }
        let arg = (fd.as_raw_fd(), Function::Irqfd(irqfd));
        self.irqfds.push(Irqfd {
            arg,
            label,
            eventfd: Arc::new(eventfd),
        });
        Ok(())
    }

    /// GH_FN_IOEVENTFD.
    pub fn add_ioeventfd(&mut self, fd: BorrowedFd<'_>, ioeventfd: IoEventfd) -> Result<(), Errno> {
        let IoEventfd { addr, len, .. } = ioeventfd;
        if !matches!(len, 0 | 1 | 2 | 4 | 8) {
            return Err(Errno::EINVAL);
        }
        if addr.checked_add(u64::from(len)).is_none() {
            return Err(Errno::EINVAL);
        }
        let datamatch = match ioeventfd.datamatch {
            Datamatch::Value(value) => Some(value),
            Datamatch::Any => None,
        };
        if datamatch.is_some() && len == 0 {
            return Err(Errno::EINVAL);
        }
        let eventfd = take_eventfd(fd)?;
        let arg = (fd.as_raw_fd(), Function::Ioeventfd(ioeventfd));
        // The driver's rb-tree compare: at one address, a handler without datamatch equals
        // every other; two with datamatch are equal when length and data are.
        let collides = |e: &Ioeventfd| {
            e.addr == addr
                && (e.datamatch.is_none()
                    || datamatch.is_none()
                    || (e.len == len && e.datamatch == datamatch))
        };
        if self.ioeventfds.iter().any(collides) {
            return Err(Errno::EEXIST);
        }
        // A length is kept only with datamatch: without, any width matches.
        let len = if datamatch.is_none() { 0 } else { len };
        self.ioeventfds.push(Ioeventfd {
            arg,
            addr,
            len,
            datamatch,
            eventfd,
        });
        Ok(())
    }

    /// Early a14 GH_VM_REMOVE_FUNCTION: drops every function added with exactly these
    /// arguments, the fd number included (the driver compares the argument bytes); 0 whether or
    /// not one matched.
    pub fn remove_exact(&mut self, fd: RawFd, arg: Function) -> Result<(), Errno> {
        let key = (fd, arg);
        self.irqfds.retain(|i| i.arg != key);
        self.ioeventfds.retain(|e| e.arg != key);
        Ok(())
    }

    /// Late a14 and later GH_VM_REMOVE_FUNCTION: drops what matches by key, whatever the fd —
    /// an irqfd by its label, an ioeventfd as `key` says; ENOENT when nothing matched. (vCPUs
    /// are the VM's: `MockVm::remove_function`.)
    pub fn remove_by_key(&mut self, function: Function, key: IoeventfdKey) -> Result<(), Errno> {
        let before = self.irqfds.len() + self.ioeventfds.len();
        match function {
            Function::Vcpu(_) => return Err(Errno::ENOENT),
            Function::Irqfd(irqfd) => self.irqfds.retain(|i| i.label != irqfd.label),
            Function::Ioeventfd(ioeventfd) => self.ioeventfds.retain(|e| match key {
                IoeventfdKey::Address => e.addr != ioeventfd.addr,
                IoeventfdKey::Full => e.arg.1 != Function::Ioeventfd(ioeventfd),
            }),
        }
        if self.irqfds.len() + self.ioeventfds.len() == before {
            Err(Errno::ENOENT)
        } else {
            Ok(())
        }
    }

    /// The doorbell `label`, if bound.
    pub fn irqfd(&self, label: u32) -> Option<Arc<Shared>> {
        self.irqfds
            .iter()
            .find(|i| i.label == label)
            .map(|i| i.eventfd.clone())
    }

    /// Signals the ioeventfd matching a guest write, if any; returns whether one matched. The
    /// signal never sleeps, as the driver's `eventfd_signal` does not, whatever the VMM did to
    /// the eventfd (a full counter stays full).
    pub fn signal_write(&self, addr: u64, len: u32, value: u64) -> bool {
        let hit = self.ioeventfds.iter().find(|e| {
            e.addr == addr
                && (e.len == 0 || e.len == len)
                && e.datamatch.map_or(true, |d| d == value)
        });
        match hit {
            Some(e) => {
                if let Err(err) = e.eventfd.signal() {
                    log::warn!("mock: signalling an ioeventfd failed: {err}");
                }
                true
            }
            None => false,
        }
    }
}
