//! Validation of the parcelables of `IGunyahVm`'s calls (irqfds, ioeventfds, MMIO handler
//! ranges, MMIO ring requests) into the typed model the hypervisor traits take, naming the field at fault.

use crate::aidl::{
    GuestRange::GuestRange as AidlRange, IoeventfdConfig::IoeventfdConfig,
    IrqfdConfig::IrqfdConfig, MmioRingRequest::MmioRingRequest,
};
use crate::error::{FieldError, Result};
use gunyah_sys::model::{Datamatch, GuestRange, IoEventfd, Irqfd, TriggerMode};

/// Access sizes an ioeventfd may name (0: any).
pub const IOEVENTFD_SIZES: [u32; 5] = [0, 1, 2, 4, 8];

/// Checks an `IrqfdConfig` (field paths start with `config.`).
pub fn irqfd(config: &IrqfdConfig) -> Result<Irqfd> {
    let label = u32::try_from(config.label)
        .map_err(|_| FieldError::new("config.label", format!("negative ({})", config.label)))?;
    Ok(Irqfd {
        label,
        trigger: if config.levelTriggered {
            TriggerMode::Level
        } else {
            TriggerMode::Edge
        },
    })
}

/// Checks an `IoeventfdConfig`: address, size in {0, 1, 2, 4, 8}, no data match with size 0
/// (a non-negative address plus 8 cannot overflow 64 bits).
pub fn ioeventfd(config: &IoeventfdConfig) -> Result<IoEventfd> {
    let addr = u64::try_from(config.guestPhysAddr)
        .map_err(|_| FieldError::new("config.guestPhysAddr", "negative"))?;
    let len = u32::try_from(config.size)
        .ok()
        .filter(|s| IOEVENTFD_SIZES.contains(s))
        .ok_or_else(|| {
            FieldError::new(
                "config.size",
                format!("{} is not 0, 1, 2, 4 or 8", config.size),
            )
        })?;
    if config.matchData && len == 0 {
        return Err(FieldError::new(
            "config.matchData",
            "needs a size of 1, 2, 4 or 8",
        ));
    }
    Ok(IoEventfd {
        addr,
        len,
        // AIDL longs carry the 64-bit value's bits.
        datamatch: if config.matchData {
            Datamatch::Value(config.data as u64)
        } else {
            Datamatch::Any
        },
    })
}

/// Checks the range of `setMmioHandler`: non-negative and not empty.
pub fn mmio_range(range: &AidlRange) -> Result<GuestRange> {
    let guest_phys_addr = u64::try_from(range.guestPhysAddr)
        .map_err(|_| FieldError::new("range.guestPhysAddr", "negative"))?;
    let size = u64::try_from(range.size).map_err(|_| FieldError::new("range.size", "negative"))?;
    if size == 0 {
        return Err(FieldError::new("range.size", "must not be 0"));
    }
    // Both are below 2^63, so their sum fits 64 bits.
    Ok(GuestRange {
        guest_phys_addr,
        size,
    })
}

/// `setMmioRing`'s request: its range (checked as `mmio_range`'s, named under `request.`) and
/// whether its answers may ask for a fault.
pub fn mmio_ring_request(request: &MmioRingRequest) -> Result<(GuestRange, bool)> {
    let range = mmio_range(&request.range)
        .map_err(|e| FieldError::new(format!("request.{}", e.field), e.reason))?;
    Ok((range, request.faultAnswers))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ioe(addr: i64, size: i32, match_data: bool, data: i64) -> Result<IoEventfd> {
        ioeventfd(&IoeventfdConfig {
            guestPhysAddr: addr,
            size,
            matchData: match_data,
            data,
        })
    }

    fn message<T: std::fmt::Debug>(r: Result<T>) -> String {
        r.expect_err("should be rejected").to_string()
    }

    #[test]
    fn test_irqfd() {
        let level = IrqfdConfig {
            label: 3,
            levelTriggered: true,
        };
        assert_eq!(
            irqfd(&level),
            Ok(Irqfd {
                label: 3,
                trigger: TriggerMode::Level
            })
        );
        let negative = IrqfdConfig {
            label: -1,
            levelTriggered: false,
        };
        assert_eq!(message(irqfd(&negative)), "config.label: negative (-1)");
    }

    #[test]
    fn test_ioeventfd() {
        assert_eq!(
            ioe(0x1000, 4, true, -1),
            Ok(IoEventfd {
                addr: 0x1000,
                len: 4,
                datamatch: Datamatch::Value(u64::MAX)
            })
        );
        assert_eq!(
            ioe(0x1000, 0, false, 9).map(|e| e.datamatch),
            Ok(Datamatch::Any)
        );
        assert_eq!(
            message(ioe(-1, 4, false, 0)),
            "config.guestPhysAddr: negative"
        );
        assert_eq!(
            message(ioe(0, 3, false, 0)),
            "config.size: 3 is not 0, 1, 2, 4 or 8"
        );
        assert!(message(ioe(0, 0, true, 0)).starts_with("config.matchData: "));
    }

    #[test]
    fn test_mmio_range() {
        let r = |a, s| AidlRange {
            guestPhysAddr: a,
            size: s,
        };
        assert_eq!(
            mmio_range(&r(0x9000_0000, 0x1000)).map(|g| g.end()),
            Ok(Some(0x9000_1000))
        );
        assert_eq!(
            message(mmio_range(&r(-4, 1))),
            "range.guestPhysAddr: negative"
        );
        assert_eq!(message(mmio_range(&r(0, -1))), "range.size: negative");
        assert_eq!(message(mmio_range(&r(0, 0))), "range.size: must not be 0");
    }
}
