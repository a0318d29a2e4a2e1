//! A framework client in miniature: connect, build a VM from a kernel image and a DTB, serve
//! its console, start it, wait for it to stop, and report how. Built by `cargo test` (so it
//! never rots) and runnable against the mock:
//!
//! ```sh
//! cargo run -p gunyah-vm-client --example boot_vm -- --program examples/guests/hello.s
//! cargo run -p gunyah-vm-client --example boot_vm -- --kernel Image --dtb guest.dtb
//! ```

use std::sync::Arc;
use std::time::Duration;

use gunyah_vm_client::{names, Client, Error, Image, MmioHandler, Target, VmBuilder, VmEvent};

const RAM: u64 = 0x8000_0000;
const UART: u64 = 0x9000_0000;

/// The guest's console: a UART transmit register; whole lines go to stdout.
#[derive(Default)]
struct Uart(std::sync::Mutex<Vec<u8>>);

impl MmioHandler for Uart {
    fn read(&self, _address: u64, _size: u32) -> u64 {
        0
    }

    fn write(&self, _address: u64, _size: u32, value: u64) {
        let mut line = self.0.lock().unwrap();
        if value as u8 == b'\n' {
            println!("guest: {}", String::from_utf8_lossy(&line));
            line.clear();
        } else {
            line.push(value as u8);
        }
    }
}

fn builder(args: &[String]) -> Result<VmBuilder, Box<dyn std::error::Error>> {
    let vm = VmBuilder::new("example").vcpus(1).memory(RAM, 64 << 20);
    match args {
        [flag, path] if flag == "--program" => {
            Ok(vm.program(&std::fs::read_to_string(path)?, RAM)?)
        }
        [k, kernel, d, dtb] if k == "--kernel" && d == "--dtb" => Ok(vm
            .kernel(Image::file(kernel, RAM))
            .dtb(Image::file(dtb, RAM + (48 << 20)))),
        _ => Err("usage: boot_vm --program FILE.s | --kernel Image --dtb guest.dtb".into()),
    }
}

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let client = Client::connect(&Target::from_env())?;
    let vm = client.create_vm(&builder(&args)?)?;
    vm.on_event(|event| {
        if let VmEvent::State(state) = event {
            eprintln!("state: {}", names::vm_state(*state));
        }
    });
    vm.set_mmio_handler(UART, 4096, Arc::new(Uart::default()))?;
    vm.start()?;
    match vm.wait_for_exit(Some(Duration::from_secs(30))) {
        Ok(exit) if exit.is_clean() => println!("clean exit: {exit}"),
        Ok(exit) => println!("the guest stopped: {exit}"),
        Err(Error::Timeout(_)) => {
            println!("still running after 30 s; destroying it");
            vm.destroy()?;
        }
        Err(Error::ServiceDied) => println!("the service died; the VM is gone"),
        Err(e) => return Err(e.into()),
    }
    // Dropping `vm` releases this process's reference: the service tears the VM down once no
    // process holds it.
    Ok(())
}
