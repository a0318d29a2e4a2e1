//! The driver ABI as data: every ioctl number (by kernel name) and every struct's size and
//! field offsets, per generation, taken from the constants and types the code uses. Printed
//! by `gunyahctl abi --json` so anyone can diff it against a kernel header.

#![forbid(unsafe_code)]

use std::mem::{offset_of, size_of};

use serde_json::{json, Map, Value};

use super::a14::*;
use super::android::*;
use super::generation::{Generation, Probe};
use super::upstream::*;
use super::Ioctl;

/// One struct's layout: kernel name, size, (kernel field name, offset).
pub struct StructLayout {
    /// Kernel struct name.
    pub name: &'static str,
    /// `sizeof`.
    pub size: usize,
    /// Field offsets.
    pub fields: Vec<(&'static str, usize)>,
}

/// One header family's numbers and layouts: the a14 header, the Android additions of the
/// later ACK headers (`ack-ext`), or the upstream series' header. Which generation handles
/// which of them is in `generation`.
pub struct Header {
    /// `a14`, `ack-ext` or `upstream`.
    pub name: &'static str,
    /// (kernel name, number).
    pub ioctls: Vec<(&'static str, Ioctl)>,
    /// Struct layouts.
    pub structs: Vec<StructLayout>,
}

macro_rules! ioctls {
    ($($name:ident),* $(,)?) => { vec![$((stringify!($name), $name)),*] };
}

// Rust field names that clash with keywords carry a trailing `_` (`type_`); the kernel name
// is without it.
macro_rules! layout {
    ($ty:ident { $($field:ident),* $(,)? }) => {
        StructLayout {
            name: stringify!($ty),
            size: size_of::<$ty>(),
            fields: vec![$((stringify!($field).trim_end_matches('_'), offset_of!($ty, $field))),*],
        }
    };
}

// Fields of a member of `gh_vcpu_run`'s union, named `member.field`, at their page offsets.
macro_rules! run_member {
    ($member:literal, $ty:ident { $($field:ident),* $(,)? }) => {
        vec![$((
            concat!($member, ".", stringify!($field)),
            offset_of!(gh_vcpu_run, exit) + offset_of!($ty, $field),
        )),*]
    };
}

fn vcpu_run_layout() -> StructLayout {
    let mut fields = vec![
        ("immediate_exit", offset_of!(gh_vcpu_run, immediate_exit)),
        ("padding", offset_of!(gh_vcpu_run, padding)),
        ("exit_reason", offset_of!(gh_vcpu_run, exit_reason)),
    ];
    fields.extend(run_member!(
        "mmio",
        gh_vcpu_run_mmio {
            phys_addr,
            data,
            len,
            is_write
        }
    ));
    fields.extend(run_member!(
        "status",
        gh_vcpu_run_status { status, exit_info }
    ));
    StructLayout {
        name: "gh_vcpu_run",
        size: size_of::<gh_vcpu_run>(),
        fields,
    }
}

/// The later generations' `gunyah_vcpu_run`: the a14 page plus the PAGE_FAULT member and
/// `mmio.resume_action`.
fn page_fault_run_layout() -> StructLayout {
    let mut fields = run_member!(
        "page_fault",
        gunyah_vcpu_run_page_fault {
            phys_addr,
            attempt,
            resume_action
        }
    );
    fields.extend(run_member!("mmio", gunyah_vcpu_run_mmio { resume_action }));
    StructLayout {
        name: "gunyah_vcpu_run",
        size: size_of::<gh_vcpu_run>(),
        fields,
    }
}

/// Every header family the code knows.
pub fn headers() -> Vec<Header> {
    vec![
        Header {
            name: "a14",
            ioctls: ioctls![
                GH_CREATE_VM,
                GH_VM_SET_USER_MEM_REGION,
                GH_VM_SET_DTB_CONFIG,
                GH_VM_START,
                GH_VM_ADD_FUNCTION,
                GH_VCPU_RUN,
                GH_VCPU_MMAP_SIZE,
                GH_VM_REMOVE_FUNCTION,
            ],
            structs: vec![
                layout!(gh_userspace_memory_region {
                    label,
                    flags,
                    guest_phys_addr,
                    memory_size,
                    userspace_addr
                }),
                layout!(gh_vm_dtb_config {
                    guest_phys_addr,
                    size
                }),
                layout!(gh_fn_desc {
                    type_,
                    arg_size,
                    arg
                }),
                layout!(gh_fn_vcpu_arg { id }),
                layout!(gh_fn_irqfd_arg {
                    fd,
                    label,
                    flags,
                    padding
                }),
                layout!(gh_fn_ioeventfd_arg {
                    datamatch,
                    addr,
                    len,
                    fd,
                    flags,
                    padding
                }),
                layout!(gh_vm_exit_info {
                    type_,
                    padding,
                    reason_size,
                    reason
                }),
                vcpu_run_layout(),
            ],
        },
        Header {
            name: "ack-ext",
            ioctls: ioctls![
                GH_VM_SET_BOOT_CONTEXT,
                GH_ANDROID_TENTATIVE_UAPI,
                GH_VM_ANDROID_LEND_USER_MEM,
                GH_VM_ANDROID_SET_FW_CONFIG,
                GH_VM_RECLAIM_REGION,
                GH_ANDROID_CREATE_CMA_MEM_FD,
                GH_VM_ANDROID_MAP_CMA_MEM,
                GH_VM_ANDROID_SET_AUTH_TYPE,
                GH_VM_CHECK_EXTENSION,
            ],
            structs: vec![
                layout!(gh_vm_boot_context {
                    reg,
                    reserved,
                    value
                }),
                layout!(gh_vm_firmware_config {
                    guest_phys_addr,
                    size
                }),
                layout!(gunyah_address_range {
                    guest_phys_addr,
                    size
                }),
                layout!(gunyah_map_cma_mem_args {
                    label,
                    guest_addr,
                    flags,
                    guest_mem_fd,
                    offset,
                    size
                }),
                layout!(gunyah_auth_desc {
                    type_,
                    arg_size,
                    arg
                }),
                layout!(gunyah_qtvm_auth_arg {
                    vm_id,
                    pas_id,
                    guest_phys_addr,
                    size
                }),
                page_fault_run_layout(),
            ],
        },
        Header {
            name: "upstream",
            ioctls: ioctls![
                GUNYAH_CREATE_VM,
                GUNYAH_VM_SET_DTB_CONFIG,
                GUNYAH_VM_START,
                GUNYAH_VM_ADD_FUNCTION,
                GUNYAH_VCPU_RUN,
                GUNYAH_VCPU_MMAP_SIZE,
                GUNYAH_VM_REMOVE_FUNCTION,
                GUNYAH_CREATE_GUEST_MEM,
                GUNYAH_VM_MAP_MEM,
                GUNYAH_VM_SET_BOOT_CONTEXT,
            ],
            structs: vec![
                layout!(gunyah_create_mem_args {
                    flags,
                    size,
                    reserved
                }),
                layout!(gunyah_map_mem_args {
                    guest_addr,
                    flags,
                    guest_mem_fd,
                    offset,
                    size
                }),
            ],
        },
    ]
}

/// The ABI as JSON: `{generation: {"ioctls": {name: "0x…"}, "structs": {name: {"size": n,
/// "fields": {field: offset}}}}, "issued": {name: {"number": "0x…", "fd": "device"|"vm"|"vcpu"}}}`.
pub fn to_json() -> Value {
    let mut out = Map::new();
    for g in headers() {
        let ioctls: Map<String, Value> = g
            .ioctls
            .iter()
            .map(|(n, v)| (n.to_string(), json!(format!("{v:#010x}"))))
            .collect();
        let structs: Map<String, Value> = g
            .structs
            .iter()
            .map(|s| {
                let fields: Map<String, Value> = s
                    .fields
                    .iter()
                    .map(|(f, o)| (f.to_string(), json!(o)))
                    .collect();
                (
                    s.name.to_string(),
                    json!({ "size": s.size, "fields": fields }),
                )
            })
            .collect();
        out.insert(
            g.name.to_string(),
            json!({ "ioctls": ioctls, "structs": structs }),
        );
    }
    let issued: Map<String, Value> = super::ioctl::ISSUED
        .iter()
        .map(|(ioctl, target)| {
            let (name, number) = (ioctl.name(), ioctl.number());
            let fd = match target {
                super::ioctl::Target::Device => "device",
                super::ioctl::Target::Vm => "vm",
                super::ioctl::Target::Vcpu => "vcpu",
            };
            (
                name.to_string(),
                json!({ "number": format!("{number:#010x}"), "fd": fd }),
            )
        })
        .collect();
    out.insert("issued".to_string(), Value::Object(issued));
    out.insert("generations".to_string(), generations_json());
    Value::Object(out)
}

/// Each driver generation: its kernels, the ioctls it handles and its probe answers
/// (`{name: {"kernels": "...", "handled": [...], "probe": {ioctl: "EFAULT" | "0" ...}}}`).
fn generations_json() -> Value {
    let mut out = Map::new();
    for g in Generation::ALL {
        let answers = g.probe_answers();
        let probe: Map<String, Value> = Probe::ALL
            .iter()
            .map(|p| {
                (
                    p.ioctl().name().to_string(),
                    json!(answers.get(*p).to_string()),
                )
            })
            .collect();
        out.insert(
            g.name().to_string(),
            json!({
                "kernels": g.kernels(),
                "handled": g.handled().iter().map(|i| i.name()).collect::<Vec<_>>(),
                "probe": probe,
            }),
        );
    }
    Value::Object(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The reference: docs/DRIVER_ABI.md's tables (measured from the kernel headers), as data.
    const REFERENCE: &str = include_str!("../../../tests/data/gunyah_abi.json");

    #[test]
    fn test_abi_matches_the_kernel_headers() {
        let reference: Value = serde_json::from_str(REFERENCE).expect("reference JSON");
        let ours = to_json();
        // Every issued ioctl is one of the generations' numbers.
        for (name, issued) in ours["issued"].as_object().expect("issued") {
            let known = reference
                .as_object()
                .unwrap()
                .values()
                .any(|g| g["ioctls"][name] == issued["number"]);
            assert!(known, "issued {name} is not in the reference");
        }
        for (generation, expected) in reference.as_object().expect("object") {
            let got = &ours[generation];
            for (name, number) in expected["ioctls"].as_object().expect("ioctls") {
                assert_eq!(&got["ioctls"][name], number, "{generation} {name}");
            }
            for (name, layout) in expected["structs"].as_object().expect("structs") {
                assert_eq!(&got["structs"][name], layout, "{generation} {name}");
            }
            // Nothing in the code that the reference does not vouch for.
            assert_eq!(
                got["ioctls"].as_object().unwrap().len(),
                expected["ioctls"].as_object().unwrap().len()
            );
            assert_eq!(
                got["structs"].as_object().unwrap().len(),
                expected["structs"].as_object().unwrap().len()
            );
        }
        // The ABI tables, plus the "issued" and "generations" tables.
        assert_eq!(
            ours.as_object().unwrap().len(),
            reference.as_object().unwrap().len() + 2
        );
        // Every ioctl a generation handles has a number in the tables.
        for (generation, g) in ours["generations"].as_object().expect("generations") {
            for name in g["handled"].as_array().expect("handled") {
                let name = name.as_str().unwrap();
                let known = reference
                    .as_object()
                    .unwrap()
                    .values()
                    .any(|t| t["ioctls"].get(name).is_some());
                assert!(known, "{generation} handles {name}, which has no number");
            }
        }
    }
}
