//! Names of AIDL enum values for logs, diagnostics and the CLI (the generated host enums print
//! as `VmState(2)`). Unknown values print as `<Type>(<n>)`.

use std::borrow::Cow;

use crate::aidl::{
    DriverAbi::DriverAbi, ErrorCode::ErrorCode, VmAuthType::VmAuthType, VmExitType::VmExitType,
    VmState::VmState,
};

fn named(name: Option<&'static str>, ty: &str, value: i32) -> Cow<'static, str> {
    name.map_or_else(|| Cow::Owned(format!("{ty}({value})")), Cow::Borrowed)
}

/// `RUNNING`, …
pub fn vm_state(s: VmState) -> Cow<'static, str> {
    let name = match s {
        VmState::NOT_STARTED => Some("NOT_STARTED"),
        VmState::STARTING => Some("STARTING"),
        VmState::RUNNING => Some("RUNNING"),
        VmState::EXITED => Some("EXITED"),
        VmState::LOAD_FAILED => Some("LOAD_FAILED"),
        VmState::CRASHED => Some("CRASHED"),
        VmState::DESTROYED => Some("DESTROYED"),
        _ => None,
    };
    named(name, "VmState", s.0)
}

/// `PSCI_POWER_OFF`, …
pub fn exit_type(t: VmExitType) -> Cow<'static, str> {
    let name = match t {
        VmExitType::VM_EXIT => Some("VM_EXIT"),
        VmExitType::PSCI_POWER_OFF => Some("PSCI_POWER_OFF"),
        VmExitType::PSCI_SYSTEM_RESET => Some("PSCI_SYSTEM_RESET"),
        VmExitType::PSCI_SYSTEM_RESET2 => Some("PSCI_SYSTEM_RESET2"),
        VmExitType::WDT_BITE => Some("WDT_BITE"),
        VmExitType::HYP_ERROR => Some("HYP_ERROR"),
        VmExitType::ASYNC_EXT_ABORT => Some("ASYNC_EXT_ABORT"),
        VmExitType::VM_FORCE_STOPPED => Some("VM_FORCE_STOPPED"),
        VmExitType::UNKNOWN => Some("UNKNOWN"),
        VmExitType::GUEST_FAULT => Some("GUEST_FAULT"),
        _ => None,
    };
    named(name, "VmExitType", t.0)
}

/// `UNAUTHENTICATED`, …
pub fn auth_type(a: VmAuthType) -> Cow<'static, str> {
    let name = match a {
        VmAuthType::UNAUTHENTICATED => Some("UNAUTHENTICATED"),
        VmAuthType::ANDROID_PVM => Some("ANDROID_PVM"),
        VmAuthType::QCOM_TRUSTED_VM => Some("QCOM_TRUSTED_VM"),
        _ => None,
    };
    named(name, "VmAuthType", a.0)
}

/// `MOCK`, …
pub fn driver_abi(d: DriverAbi) -> Cow<'static, str> {
    let name = match d {
        DriverAbi::MOCK => Some("MOCK"),
        DriverAbi::GH_ANDROID14 => Some("GH_ANDROID14"),
        DriverAbi::GUNYAH_UPSTREAM => Some("GUNYAH_UPSTREAM"),
        DriverAbi::GH_ACK66_EARLY => Some("GH_ACK66_EARLY"),
        DriverAbi::GH_ACK66_LATE => Some("GH_ACK66_LATE"),
        DriverAbi::GH_ACK_CHECK_EXTENSION => Some("GH_ACK_CHECK_EXTENSION"),
        _ => None,
    };
    named(name, "DriverAbi", d.0)
}

/// `INVALID_ARGUMENT`, …
pub fn error_code(code: i32) -> Cow<'static, str> {
    let name = match ErrorCode(code) {
        ErrorCode::NONE => Some("NONE"),
        ErrorCode::INVALID_ARGUMENT => Some("INVALID_ARGUMENT"),
        ErrorCode::INVALID_STATE => Some("INVALID_STATE"),
        ErrorCode::UNSUPPORTED => Some("UNSUPPORTED"),
        ErrorCode::RESOURCE_EXHAUSTED => Some("RESOURCE_EXHAUSTED"),
        ErrorCode::HYPERVISOR_ERROR => Some("HYPERVISOR_ERROR"),
        _ => None,
    };
    named(name, "ErrorCode", code)
}

/// A failed call in one line: `INVALID_ARGUMENT: name: must not be empty`.
pub fn call_error(status: &crate::binder::Status) -> String {
    use crate::binder::CallError;
    match crate::binder::classify(status) {
        CallError::Security(m) => format!("permission denied: {m}"),
        CallError::ServiceSpecific { code, message } => format!("{}: {message}", error_code(code)),
        CallError::DeadObject => "the service died (DEAD_OBJECT)".to_string(),
        CallError::Other(m) => m,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn test_names_known_and_unknown() {
        assert_eq!(vm_state(VmState::RUNNING), "RUNNING");
        assert_eq!(vm_state(VmState(42)), "VmState(42)");
        assert_eq!(exit_type(VmExitType::UNKNOWN), "UNKNOWN");
        assert_eq!(auth_type(VmAuthType::QCOM_TRUSTED_VM), "QCOM_TRUSTED_VM");
        assert_eq!(driver_abi(DriverAbi::MOCK), "MOCK");
        assert_eq!(error_code(5), "HYPERVISOR_ERROR");
        assert_eq!(error_code(77), "ErrorCode(77)");
    }
}
