//! The service's half of a VM's MMIO ring (docs/MMIO_RING.md): the shared memory, the
//! "exit posted" eventfd it signals and the per-slot "answer posted" eventfds it waits on.
//! A vCPU thread posts its exit in its own slot and waits for the answer, for the VM to stop,
//! or for every process that asked for the ring to exit; it takes an answer only through
//! `mmio_ring::Ring::take_answer`, which reads each word once and checks it.

use gunyah_sys::sync::IgnorePoison;
use std::fs::File;
use std::num::NonZeroUsize;
use std::os::fd::{AsFd, OwnedFd};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use crate::aidl::MmioRing::MmioRing;
use crate::binder::pfd_from;
use gunyah_contract::mmio_ring::{self, Access, Answer, Ring, RingError};
use gunyah_sys::eventfd::{self, Shared};
use gunyah_sys::shared_words::SharedWords;

/// How long a vCPU thread polls its slot for the answer (yielding the CPU between looks) before
/// it sleeps on the eventfd: a client that answers within it costs no wake-up (KVM's halt
/// polling makes the same trade, with 200 µs). Bounded, so a slow or silent client costs this
/// much CPU per exit at most; never on a single CPU (`eventfd::poll_briefly`).
pub const SPIN: Duration = Duration::from_micros(50);

/// How an exchange ended.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Exchange {
    /// The client answered.
    Answered(Answer),
    /// The client answered with something that is not an answer.
    Refused(RingError),
    /// The VM is stopping: the vCPU thread must return.
    Stopped,
    /// Every process that asked for the ring has exited: nobody will answer.
    Orphaned,
}

/// The most processes whose lives a ring follows.
pub const MAX_USERS: usize = 16;

/// A process that asked for the ring, and its pidfd.
struct User {
    pid: i32,
    pidfd: Arc<OwnedFd>,
}

/// One VM's ring.
pub struct RingHost {
    memory: File,
    words: SharedWords,
    slots: u32,
    /// Shared with the client, like `answer_posted`: only signalled and taken, never read or
    /// written (docs/THREAT_MODEL.md).
    exit_posted: Shared,
    answer_posted: Vec<Shared>,
    /// Readable for good once the VM is stopping: every waiting vCPU polls it. The service's
    /// own: no client holds it.
    stop: OwnedFd,
    /// Each slot's last exit number; only that slot's vCPU thread posts.
    seqs: Vec<AtomicU64>,
    /// The processes that asked for the ring (`add_user`) and are alive, as far as a waiting
    /// vCPU has seen.
    users: Mutex<Vec<User>>,
}

impl RingHost {
    /// A ring of `slots` slots (the VM's vCPUs).
    pub fn new(vm_id: i32, slots: u32) -> std::io::Result<Self> {
        if !Shared::can_signal() {
            return Err(std::io::Error::new(
                std::io::ErrorKind::Unsupported,
                "this kernel has no AIO (CONFIG_AIO), which the ring needs to signal a client \
                 without ever blocking",
            ));
        }
        let size = mmio_ring::memory_size(slots);
        let memory =
            gunyah_sys::memfd::sealed(&format!("gunyah-vm{vm_id}-mmio-ring"), size as u64)?;
        let len = NonZeroUsize::new(size).ok_or(std::io::ErrorKind::InvalidInput)?;
        let words = SharedWords::map(memory.as_fd(), len)?;
        Ring::create(words.words(), slots)
            .map_err(|e| std::io::Error::new(std::io::ErrorKind::InvalidInput, e))?;
        let answer_posted = (0..slots)
            .map(|_| Shared::new())
            .collect::<nix::Result<Vec<_>>>()?;
        Ok(Self {
            memory,
            words,
            slots,
            exit_posted: Shared::new()?,
            answer_posted,
            stop: eventfd::nonblocking()?,
            seqs: (0..slots).map(|_| AtomicU64::new(0)).collect(),
            users: Mutex::default(),
        })
    }

    /// Follows the life of process `pid`, which asked for the ring (see `gunyah_sys::pidfd`
    /// for how far a caller's pid is its own): while one such process lives, exits wait for
    /// answers. Users that have exited are forgotten first, so dead ones never fill the list.
    /// Whether `pid` is new (a caller that fails later takes it back with `remove_user`).
    pub fn add_user(&self, pid: i32) -> std::io::Result<bool> {
        let mut users = self.users.lock().ignore_poison();
        users.retain(|u| {
            let alive = eventfd::wait_readable(&[u.pidfd.as_fd()], Some(Duration::ZERO))
                .map_or(true, |ready| ready == 0);
            if !alive {
                log::info!(
                    "MMIO ring: process {}, which asked for it, has exited",
                    u.pid
                );
            }
            alive
        });
        if users.iter().any(|u| u.pid == pid) {
            return Ok(false);
        }
        if users.len() >= MAX_USERS {
            return Err(std::io::Error::other(format!(
                "{MAX_USERS} processes use this ring already"
            )));
        }
        let pidfd = Arc::new(gunyah_sys::pidfd::open(pid)?);
        users.push(User { pid, pidfd });
        Ok(true)
    }

    /// Stops following `pid` (the call that added it failed).
    pub fn remove_user(&self, pid: i32) {
        self.users.lock().ignore_poison().retain(|u| u.pid != pid);
    }

    /// Forgets the users whose pidfd `exited` names; whether none is left.
    fn forget_exited(&self, exited: &[i32]) -> bool {
        let mut users = self.users.lock().ignore_poison();
        users.retain(|u| !exited.contains(&u.pid));
        for pid in exited {
            log::info!("MMIO ring: process {pid}, which asked for it, has exited");
        }
        users.is_empty()
    }

    /// The parcelable for a client: new fds for the ring's memory and eventfds. The
    /// descriptions are shared: `Shared` is why that is harmless.
    pub fn descriptor(&self) -> std::io::Result<MmioRing> {
        let share = |fd: &Shared| fd.share().map(pfd_from);
        Ok(MmioRing {
            layout: mmio_ring::LAYOUT,
            memory: Some(pfd_from(self.memory.as_fd().try_clone_to_owned()?)),
            memorySize: mmio_ring::memory_size(self.slots) as i64,
            slotCount: self.slots as i32,
            exitPosted: Some(share(&self.exit_posted)?),
            answerPosted: self
                .answer_posted
                .iter()
                .map(share)
                .collect::<std::io::Result<_>>()?,
        })
    }

    /// Ends every wait, now and from now on (the caller also makes `stopping` say so).
    pub fn stop(&self) {
        // An eventfd write fails only when the counter is full, which leaves it readable.
        let _ = eventfd::ring(self.stop.as_fd());
    }

    /// Posts `access` in `slot` and waits for its answer, or until the VM is stopping: `stop`
    /// was called and `stopping` says so.
    pub fn exchange(&self, slot: u32, access: &Access, stopping: &dyn Fn() -> bool) -> Exchange {
        let ring = match Ring::with_slots(self.words.words(), self.slots) {
            Ok(ring) => ring,
            Err(e) => return Exchange::Refused(e),
        };
        let Some(answer_posted) = self.answer_posted.get(slot as usize) else {
            return Exchange::Refused(RingError::NoSuchSlot {
                slot,
                slots: self.slots,
            });
        };
        if self.users.lock().ignore_poison().is_empty() {
            return Exchange::Orphaned;
        }
        let seq = self.seqs[slot as usize].fetch_add(1, Ordering::Relaxed) + 1;
        if let Err(e) = ring.post_exit(slot, seq, access) {
            return Exchange::Refused(e);
        }
        // Never sleeps, whatever the client did to the eventfd. A failure to signal (none is
        // known) would only delay the client; the wait below still ends with an answer or a
        // stop.
        let _ = self.exit_posted.signal();
        let outcome = || match ring.take_answer(slot, seq, access.size) {
            Ok(Some(answer)) => Some(Exchange::Answered(answer)),
            Ok(None) if stopping() => Some(Exchange::Stopped),
            Ok(None) => None,
            Err(e) => Some(Exchange::Refused(e)),
        };
        if let Some(done) = eventfd::poll_briefly(SPIN, outcome) {
            return done;
        }
        loop {
            let users: Vec<(i32, Arc<OwnedFd>)> = self
                .users
                .lock()
                .ignore_poison()
                .iter()
                .map(|u| (u.pid, u.pidfd.clone()))
                .collect();
            let mut fds = vec![answer_posted.as_fd(), self.stop.as_fd()];
            fds.extend(users.iter().map(|(_, fd)| fd.as_fd()));
            // Level-triggered: an answer, a stop or an exit that came since the last look
            // leaves its fd readable, so nothing is missed. EINTR (a kick) loops to the look.
            let ready = eventfd::wait_readable(&fds, None).unwrap_or(0);
            // `take`, not a read: the client may have made the description blocking and
            // drained it first.
            let _ = answer_posted.take();
            if let Some(done) = outcome() {
                return done;
            }
            let exited: Vec<i32> = users
                .iter()
                .enumerate()
                .filter(|(i, _)| ready & (1 << (2 + i)) != 0)
                .map(|(_, (pid, _))| *pid)
                .collect();
            if !exited.is_empty() && self.forget_exited(&exited) {
                return Exchange::Orphaned;
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use std::time::Instant;

    use super::*;

    fn read() -> Access {
        Access {
            address: 0x9000_0000,
            size: 4,
            write: None,
        }
    }

    /// The process that asked for the ring dies while a vCPU waits for its answer (another
    /// process may still hold the VM): the wait ends, and later exits do not wait at all.
    #[test]
    fn a_wait_ends_when_every_user_of_the_ring_has_exited() {
        let host = Arc::new(RingHost::new(1, 1).unwrap());
        let mut user = std::process::Command::new("sleep")
            .arg("30")
            .spawn()
            .unwrap();
        host.add_user(user.id() as i32).unwrap();
        let waiting = host.clone();
        let (done, ended) = std::sync::mpsc::channel();
        std::thread::spawn(move || {
            let _ = done.send(waiting.exchange(0, &read(), &|| false));
        });
        let early = ended.recv_timeout(Duration::from_millis(100));
        assert!(
            early.is_err(),
            "waiting for the user's answer, not {early:?}"
        );
        let killed = Instant::now();
        user.kill().unwrap();
        user.wait().unwrap();
        let ended = ended.recv_timeout(Duration::from_secs(10));
        assert_eq!(
            ended,
            Ok(Exchange::Orphaned),
            "{:?} after the kill",
            killed.elapsed()
        );
        assert_eq!(host.exchange(0, &read(), &|| false), Exchange::Orphaned);
    }

    /// Users that have exited are forgotten when another asks, not only during a wait: 16
    /// dead users and no vCPU waiting used to refuse the 17th caller.
    #[test]
    fn dead_users_never_fill_the_list() {
        let host = RingHost::new(1, 1).unwrap();
        for _ in 0..MAX_USERS {
            let mut child = std::process::Command::new("sleep")
                .arg("30")
                .spawn()
                .unwrap();
            host.add_user(child.id() as i32).unwrap();
            child.kill().unwrap();
            child.wait().unwrap();
        }
        assert!(
            host.add_user(std::process::id() as i32).unwrap(),
            "a new user"
        );
        assert_eq!(host.users.lock().unwrap().len(), 1);
    }

    #[test]
    fn a_ring_follows_each_process_once() {
        let host = RingHost::new(1, 1).unwrap();
        let me = std::process::id() as i32;
        host.add_user(me).unwrap();
        host.add_user(me).unwrap();
        assert_eq!(host.users.lock().unwrap().len(), 1);
        assert!(host.add_user(-1).is_err(), "no such process");
    }
}
