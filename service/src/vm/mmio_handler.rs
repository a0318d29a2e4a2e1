//! Calls into a client's `IGunyahMmioHandler`, made off the vCPU thread. A binder call cannot be
//! interrupted, and a client may never answer one: so each vCPU has a caller thread of its own
//! that makes the call, and the vCPU thread waits for the answer on an eventfd that both the
//! answer and the VM's stop ring (`HandlerCalls::stop`). When the VM stops first, the vCPU
//! thread returns at once; the caller thread stays in the client's call — holding only the handler and a `ThreadCharge`, so the VM stays charged
//! to the client until the call ends — and exits when it does (the call returns, or fails when
//! the client dies). A vCPU whose caller is abandoned that way gets a new one if it runs again.

use gunyah_sys::sync::IgnorePoison;
use std::os::fd::{AsFd, OwnedFd};
use std::sync::mpsc::{self, Receiver, Sender};
use std::sync::{Arc, Mutex};

use crate::aidl::IGunyahMmioHandler::IGunyahMmioHandler;
use crate::binder::Strong;
use crate::quota::{ChargeSlot, Reservation};
use gunyah_contract::mmio_ring::Access;
use gunyah_sys::eventfd;

/// A handler's answer: a read's value (0 for a write), or why the call failed.
pub type HandlerResult = std::result::Result<u64, String>;

/// How a call ended, as the vCPU thread sees it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Called {
    /// The handler answered, or its call failed.
    Done(HandlerResult),
    /// The VM stopped first (the call may still be in progress on its caller thread).
    Stopped,
}

struct Call {
    seq: u64,
    handler: Strong<dyn IGunyahMmioHandler>,
    access: Access,
}

/// One vCPU's caller thread, from the vCPU thread's side.
struct Caller {
    calls: Sender<Call>,
    answers: Receiver<(u64, HandlerResult)>,
    /// Rung by the caller after each answer and by `HandlerCalls::stop`; the service's own.
    answered: Arc<OwnedFd>,
    seq: u64,
}

/// How a caller thread is started: `Builder::spawn`, or a failing one in tests.
type Spawner = fn(
    std::thread::Builder,
    Box<dyn FnOnce() + Send>,
) -> std::io::Result<std::thread::JoinHandle<()>>;

/// The handler calls of one VM: one caller slot per vCPU.
pub struct HandlerCalls {
    spawner: Spawner,
    vm_id: i32,
    callers: Vec<Mutex<Option<Caller>>>,
    /// What every caller thread holds while it runs; taken at teardown.
    charge: ChargeSlot,
    /// Every caller's `answered` eventfd, for `stop` to ring.
    wakers: Mutex<Vec<Arc<OwnedFd>>>,
}

fn call(handler: &Strong<dyn IGunyahMmioHandler>, access: &Access) -> HandlerResult {
    // Addresses are u64 in the guest; AIDL longs carry the same bits.
    let (addr, size) = (access.address as i64, access.size as i32);
    match access.write {
        None => handler.onRead(addr, size).map(|v| v as u64),
        Some(value) => handler.onWrite(addr, size, value as i64).map(|()| 0),
    }
    .map_err(|e| format!("{e:?}"))
}

impl HandlerCalls {
    /// Slots for `vcpus` vCPUs of VM `vm_id`.
    pub fn new(vm_id: i32, vcpus: u32) -> Self {
        Self {
            spawner: |builder, f| builder.spawn(f),
            vm_id,
            callers: (0..vcpus).map(|_| Mutex::default()).collect(),
            charge: ChargeSlot::default(),
            wakers: Mutex::default(),
        }
    }

    /// Wakes every vCPU thread waiting for an answer; the caller has made their `stopping`
    /// say so first. A caller started later checks `stopping` after it is listed here.
    pub fn stop(&self) {
        for waker in self.wakers.lock().ignore_poison().iter() {
            let _ = eventfd::ring(waker.as_fd());
        }
    }

    /// Charges caller threads started from now on to `reservation`.
    pub fn charge_to(&self, reservation: &Arc<Reservation>) {
        self.charge.set(reservation);
    }

    /// Forgets every caller (their threads end when their call does) and the reservation.
    /// Never waits: a slot still locked belongs to a vCPU thread that did not stop, whose
    /// caller goes when that thread ends.
    pub fn clear(&self) {
        for caller in &self.callers {
            if let Ok(mut caller) = caller.try_lock() {
                caller.take();
            }
        }
        self.charge.clear();
        self.wakers.lock().ignore_poison().clear();
    }

    fn start_caller(&self, vcpu: u32) -> std::io::Result<Caller> {
        let charge = self.charge.thread_charge();
        let (calls, incoming) = mpsc::channel::<Call>();
        let (reply, answers) = mpsc::channel();
        let answered = Arc::new(eventfd::nonblocking()?);
        let ring = answered.clone();
        (self.spawner)(
            std::thread::Builder::new().name(format!("vm{}-mmio{vcpu}", self.vm_id)),
            Box::new(move || {
                let _charge = charge;
                for Call {
                    seq,
                    handler,
                    access,
                } in incoming
                {
                    let result = call(&handler, &access);
                    drop(handler);
                    if reply.send((seq, result)).is_err() {
                        return;
                    }
                    // The service's own eventfd, non-blocking: never sleeps.
                    let _ = eventfd::ring(ring.as_fd());
                }
            }),
        )?;
        // Listed only once the thread runs: a failed spawn leaves nothing behind.
        self.wakers.lock().ignore_poison().push(answered.clone());
        Ok(Caller {
            calls,
            answers,
            answered,
            seq: 0,
        })
    }

    /// Calls `handler` for vCPU `vcpu`'s `access` on the vCPU's caller thread, and waits for
    /// the answer or for the VM to stop (`stopping`, then `stop`), whichever comes first.
    pub fn call(
        &self,
        vcpu: u32,
        handler: Strong<dyn IGunyahMmioHandler>,
        access: &Access,
        stopping: &dyn Fn() -> bool,
    ) -> Called {
        let Some(slot) = self.callers.get(vcpu as usize) else {
            return Called::Done(Err(format!("no vCPU {vcpu}")));
        };
        let mut slot = slot.lock().ignore_poison();
        if stopping() {
            return Called::Stopped;
        }
        if slot.is_none() {
            match self.start_caller(vcpu) {
                Ok(caller) => *slot = Some(caller),
                Err(e) => return Called::Done(Err(format!("no thread for the call: {e}"))),
            }
        }
        let Some(caller) = slot.as_mut() else {
            return Called::Stopped;
        };
        caller.seq += 1;
        let seq = caller.seq;
        if caller
            .calls
            .send(Call {
                seq,
                handler,
                access: *access,
            })
            .is_err()
        {
            slot.take();
            return Called::Done(Err("the caller thread has ended".into()));
        }
        loop {
            while let Ok((answered, result)) = caller.answers.try_recv() {
                if answered == seq {
                    return Called::Done(result);
                }
            }
            if stopping() {
                // Abandoned: the thread stays in the client's call until it ends; a later run
                // of this vCPU gets a new caller.
                log::warn!(
                    "vm {} vcpu {vcpu}: the VM stopped while its MMIO handler had not answered; \
                     the call is left to end on its own",
                    self.vm_id
                );
                if let Some(abandoned) = slot.take() {
                    self.wakers
                        .lock()
                        .ignore_poison()
                        .retain(|w| !Arc::ptr_eq(w, &abandoned.answered));
                }
                return Called::Stopped;
            }
            // Level-triggered: an answer or a stop since the look above leaves it readable.
            // EINTR (a kick) loops to the look.
            let _ = eventfd::wait_readable(&[caller.answered.as_fd()], None);
            let _ = eventfd::drain(caller.answered.as_fd());
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::aidl::IGunyahMmioHandler::BnGunyahMmioHandler;
    use crate::binder::{BinderResult, Interface};

    struct Answers;
    impl Interface for Answers {}
    impl IGunyahMmioHandler for Answers {
        fn onRead(&self, address: i64, _size: i32) -> BinderResult<i64> {
            Ok(address + 1)
        }
        fn onWrite(&self, _address: i64, _size: i32, _value: i64) -> BinderResult<()> {
            Ok(())
        }
    }

    fn read() -> Access {
        Access {
            address: 0x9000_0000,
            size: 4,
            write: None,
        }
    }

    #[test]
    fn a_call_is_answered_on_the_callers_thread() {
        let calls = HandlerCalls::new(1, 1);
        let handler = gunyah_binder::new_binder!(BnGunyahMmioHandler, Answers);
        for _ in 0..3 {
            assert_eq!(
                calls.call(0, handler.clone(), &read(), &|| false),
                Called::Done(Ok(0x9000_0001))
            );
        }
        assert_eq!(calls.wakers.lock().unwrap().len(), 1, "one caller, kept");
    }

    /// No thread can be started: every exit is answered as failed, and leaves nothing behind
    /// (each used to leave its eventfd among the wakers: one fd per exit).
    #[test]
    fn a_caller_that_cannot_start_leaves_nothing() {
        let mut calls = HandlerCalls::new(1, 1);
        calls.spawner = |_, _| Err(std::io::Error::from_raw_os_error(libc::EAGAIN));
        let handler = gunyah_binder::new_binder!(BnGunyahMmioHandler, Answers);
        for _ in 0..100 {
            assert!(matches!(
                calls.call(0, handler.clone(), &read(), &|| false),
                Called::Done(Err(_))
            ));
        }
        assert_eq!(calls.wakers.lock().unwrap().len(), 0);
    }
}
