//! The driver generations as the interface names them: `DriverAbi` for each `Generation`
//! (the OS-facing crate's model of the drivers) and back.

use crate::aidl::DriverAbi::DriverAbi;

/// The driver generations (the OS-facing crate's model), for clients reading
/// `Capabilities.driverGeneration`.
pub use gunyah_sys::generation::Generation;

/// The `DriverAbi` value of `generation`.
pub fn driver_abi(generation: Generation) -> DriverAbi {
    match generation {
        Generation::A14Early | Generation::A14Late => DriverAbi::GH_ANDROID14,
        Generation::Ack66Early => DriverAbi::GH_ACK66_EARLY,
        Generation::Ack66Late => DriverAbi::GH_ACK66_LATE,
        Generation::AckNewest => DriverAbi::GH_ACK_CHECK_EXTENSION,
        Generation::Upstream => DriverAbi::GUNYAH_UPSTREAM,
    }
}

/// The generation a `DriverAbi` value names; `None` for MOCK and for values this build does
/// not know (a newer service). `GH_ANDROID14` names both a14 revisions: they differ only in
/// REMOVE_FUNCTION, which no `IGunyahVm` call issues, so a client sees the same service on
/// either; this answers [`Generation::A14Late`], the revision devices were updated to.
pub fn generation(abi: DriverAbi) -> Option<Generation> {
    Generation::ALL
        .into_iter()
        .rev()
        .find(|g| driver_abi(*g) == abi)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn test_round_trip() {
        for g in Generation::ALL {
            let back = generation(driver_abi(g)).expect("every generation has a value");
            assert_eq!(driver_abi(back), driver_abi(g));
            if !g.is_a14() {
                assert_eq!(back, g);
            }
        }
        assert_eq!(
            generation(DriverAbi::GH_ANDROID14),
            Some(Generation::A14Late)
        );
        assert_eq!(generation(DriverAbi::MOCK), None);
        assert_eq!(generation(DriverAbi(99)), None);
    }
}
