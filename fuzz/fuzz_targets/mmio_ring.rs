//! The MMIO ring against a hostile client: arbitrary writes to any word of the shared memory
//! (the header and the service's own words included) between the service's posts, takes and
//! exchanges. Never panics; whatever the service takes is a known action with data cut to the
//! access's size; a client view never reports a size the service cannot post; the service's
//! exchange ends once the VM is stopping, whatever the memory holds.
#![no_main]

use std::sync::atomic::{AtomicU64, Ordering};

use arbitrary::{Arbitrary, Unstructured};
use libfuzzer_sys::fuzz_target;

use gunyah_contract::mmio_ring::{memory_size, Access, Ring};
use gunyah_vm::vm::mmio_ring::{Exchange, RingHost};

const SLOTS: u32 = 3;

#[derive(Arbitrary, Debug)]
enum Step {
    /// The client writes `value` to word `index` (modulo the ring's words).
    Scribble { index: u16, value: u64 },
    /// The service posts the next exit of a slot.
    Post { slot: u8, size: u8, write: Option<u64> },
    /// The service looks for the answer to a slot's last exit.
    Take { slot: u8 },
    /// The client looks for an exit.
    Peek { slot: u8, answered: u64 },
}

fn size_of(n: u8) -> u32 {
    1 << (n % 4)
}

fuzz_target!(|data: &[u8]| {
    let mut u = Unstructured::new(data);
    let words: Vec<AtomicU64> = (0..memory_size(SLOTS) / 8).map(|_| AtomicU64::new(0)).collect();
    let ring = Ring::create(&words, SLOTS).expect("sized");
    let mut last = [(0u64, 1u32); SLOTS as usize];
    while !u.is_empty() {
        let Ok(step) = Step::arbitrary(&mut u) else {
            break;
        };
        match step {
            Step::Scribble { index, value } => {
                words[usize::from(index) % words.len()].store(value, Ordering::Relaxed)
            }
            Step::Post { slot, size, write } => {
                let slot = u32::from(slot) % SLOTS;
                let (seq, _) = last[slot as usize];
                let access = Access {
                    address: 0x9000_0000,
                    size: size_of(size),
                    write,
                };
                ring.post_exit(slot, seq + 1, &access).expect("a slot");
                last[slot as usize] = (seq + 1, access.size);
            }
            Step::Take { slot } => {
                let slot = u32::from(slot) % SLOTS;
                let (seq, size) = last[slot as usize];
                if let Ok(Some(answer)) = ring.take_answer(slot, seq, size) {
                    let bits = 8 * size;
                    assert!(bits == 64 || answer.read_data >> bits == 0, "{answer:?}");
                }
            }
            Step::Peek { slot, answered } => {
                if let Some((_, access)) = ring.pending_exit(u32::from(slot) % SLOTS, answered) {
                    assert!(matches!(access.size, 1 | 2 | 4 | 8), "{access:?}");
                }
            }
        }
    }
    // The service's own ring, with every word the input left, and a VM already stopping.
    let host = RingHost::new(1, SLOTS).expect("a ring");
    host.add_user(std::process::id() as i32).expect("this process");
    host.stop();
    let access = Access {
        address: 0x9000_0000,
        size: 8,
        write: None,
    };
    let ended = host.exchange(0, &access, &|| true);
    assert!(matches!(
        ended,
        Exchange::Stopped | Exchange::Answered(_) | Exchange::Refused(_) | Exchange::Orphaned
    ));
});
