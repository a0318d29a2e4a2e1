//! MMIO handlers as a Rust trait: the guest's loads and stores in a range the client serves.

use std::sync::Arc;

use gunyah_binder::aidl::IGunyahMmioHandler::IGunyahMmioHandler;
use gunyah_binder::{BinderResult, Interface};

/// Serves guest MMIO in a range given to [`Vm::set_mmio_handler`](crate::Vm::set_mmio_handler).
/// Calls arrive on the VM's MMIO ring thread (V3 services: one thread for all the VM's vCPUs)
/// or on binder threads (one per vCPU that exits), so keep them short: the vCPU waits for the
/// answer.
pub trait MmioHandler: Send + Sync + 'static {
    /// The guest reads `size` bytes (1, 2, 4 or 8) at `address`; the value it sees.
    fn read(&self, address: u64, size: u32) -> u64;
    /// The guest writes `value` (`size` bytes) at `address`.
    fn write(&self, address: u64, size: u32, value: u64);
}

/// A handler shared with the rest of the program (to read back what the guest did).
impl<T: MmioHandler> MmioHandler for Arc<T> {
    fn read(&self, address: u64, size: u32) -> u64 {
        (**self).read(address, size)
    }

    fn write(&self, address: u64, size: u32, value: u64) {
        (**self).write(address, size, value)
    }
}

/// The AIDL object around a [`MmioHandler`].
pub(crate) struct Adapter(pub(crate) Arc<dyn MmioHandler>);

impl Interface for Adapter {}

impl IGunyahMmioHandler for Adapter {
    fn onRead(&self, address: i64, size: i32) -> BinderResult<i64> {
        Ok(self.0.read(address as u64, size as u32) as i64)
    }

    fn onWrite(&self, address: i64, size: i32, value: i64) -> BinderResult<()> {
        self.0.write(address as u64, size as u32, value as u64);
        Ok(())
    }
}
