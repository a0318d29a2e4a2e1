//! Config validation on arbitrary VmConfigs: never panics, stays fast, and whatever it accepts
//! satisfies the contract's invariants.
#![no_main]

use arbitrary::{Arbitrary, Unstructured};
use libfuzzer_sys::fuzz_target;

use gunyah_binder::aidl::{
    BootRegister::BootRegister, BootRegisterSet::BootRegisterSet, GuestRange::GuestRange,
    MemoryRegion::MemoryRegion, MemoryShareType::MemoryShareType, QtvmAuth::QtvmAuth,
    VmAuthType::VmAuthType, VmConfig::VmConfig,
};
use gunyah_contract::vm_config::{validate, Limits};

/// Mostly small, page-ish numbers, sometimes anything.
fn num(u: &mut Unstructured) -> arbitrary::Result<i64> {
    Ok(match u.int_in_range(0..=3)? {
        0 => i64::arbitrary(u)?,
        1 => i64::from(u.int_in_range(0u32..=64)?) * 4096,
        2 => 0x8000_0000 + i64::from(u.int_in_range(0u32..=64)?) * 4096,
        _ => i64::from(u16::arbitrary(u)?),
    })
}

fn range(u: &mut Unstructured) -> arbitrary::Result<GuestRange> {
    Ok(GuestRange {
        guestPhysAddr: num(u)?,
        size: num(u)?,
    })
}

fn config(u: &mut Unstructured) -> arbitrary::Result<VmConfig> {
    let regions = (0..u.int_in_range(0..=40)?)
        .map(|_| {
            Ok(MemoryRegion {
                label: i32::arbitrary(u)? % 8,
                guestPhysAddr: num(u)?,
                size: num(u)?,
                access: i32::arbitrary(u)? & 0xf,
                shareType: MemoryShareType(i32::arbitrary(u)? % 3),
                memory: None,
                memoryOffset: num(u)?,
            })
        })
        .collect::<arbitrary::Result<Vec<_>>>()?;
    let boot = (0..u.int_in_range(0..=4)?)
        .map(|_| {
            Ok(BootRegister {
                set: BootRegisterSet(i32::arbitrary(u)? % 4),
                index: i32::arbitrary(u)? % 40,
                value: i64::arbitrary(u)?,
            })
        })
        .collect::<arbitrary::Result<Vec<_>>>()?;
    Ok(VmConfig {
        name: String::arbitrary(u)?,
        authType: VmAuthType(i32::arbitrary(u)? % 4),
        memoryRegions: regions,
        dtb: range(u)?,
        firmware: if bool::arbitrary(u)? {
            Some(range(u)?)
        } else {
            None
        },
        bootContext: boot,
        vcpuCount: i32::arbitrary(u)? % 10,
        qtvmAuth: if bool::arbitrary(u)? {
            Some(QtvmAuth {
                vmId: i32::arbitrary(u)?,
                pasId: i32::arbitrary(u)?,
                image: range(u)?,
            })
        } else {
            None
        },
    })
}

fuzz_target!(|data: &[u8]| {
    let Ok(config) = config(&mut Unstructured::new(data)) else {
        return;
    };
    let limits = Limits::default();
    match validate(&config, &limits) {
        Ok(plan) => {
            assert!(!plan.name.is_empty() && plan.name.len() <= limits.max_name_length);
            assert!((1..=limits.max_vcpus_per_vm).contains(&plan.vcpu_count));
            for r in &plan.regions {
                assert!(r.range.size > 0 && r.range.size % limits.page_size == 0);
                assert!(
                    r.range.guest_phys_addr % limits.page_size == 0
                        && r.memory_offset % limits.page_size == 0
                );
            }
            for (i, a) in plan.regions.iter().enumerate() {
                for b in &plan.regions[i + 1..] {
                    assert!(!a.range.overlaps(&b.range) && a.label != b.label);
                }
            }
            assert!(plan.regions.iter().any(|r| r.range.contains(&plan.dtb)));
        }
        Err(e) => {
            // Every refusal names a field.
            let message = e.to_string();
            assert!(message.contains(": "), "{message}");
        }
    }
});
