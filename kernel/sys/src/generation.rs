//! The generations of the Gunyah driver and how to tell them apart (docs/DRIVER_ABI.md §2,
//! §1): which ioctls each one handles, and the probe table — the answer each generation gives
//! to each probe ioctl. Data only; `ioctl::probe` issues the probes.

#![forbid(unsafe_code)]

use std::fmt;

use nix::errno::Errno;

use super::driver_call::DriverIoctl;

/// A generation of the `/dev/gunyah` driver. They share ioctl numbers and structs but differ
/// in what the calls do.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Generation {
    /// android14-6.1 as docs/DRIVER_ABI.md §6 gives it: `GH_*`, memory pinned at the ioctl, no
    /// `SET_BOOT_CONTEXT`; REMOVE_FUNCTION compares the whole argument and answers 0.
    A14Early,
    /// android14-6.1 as its later `vm_mgr.c` reads: as [`Generation::A14Early`], but
    /// REMOVE_FUNCTION answers ENOENT when nothing matched, and finds an ioeventfd by address
    /// alone.
    A14Late,
    /// The first android15-6.6 driver: demand paging, PAGE_FAULT exits, `SET_BOOT_CONTEXT`.
    Ack66Early,
    /// Later android15-6.6 and android16-6.12: adds RECLAIM, CMA memory and SET_AUTH_TYPE.
    Ack66Late,
    /// The newest Android common kernel (6.12 base): adds `GH_VM_CHECK_EXTENSION`.
    AckNewest,
    /// The upstream patch series (guest_memfd), which no Android kernel carries.
    Upstream,
}

impl Generation {
    /// Every generation, oldest first.
    pub const ALL: [Generation; 6] = [
        Generation::A14Early,
        Generation::A14Late,
        Generation::Ack66Early,
        Generation::Ack66Late,
        Generation::AckNewest,
        Generation::Upstream,
    ];

    /// Short name, as `gunyahctl abi` and the diagnostics print it.
    pub fn name(self) -> &'static str {
        match self {
            Generation::A14Early => "a14-early",
            Generation::A14Late => "a14-late",
            Generation::Ack66Early => "ack66-early",
            Generation::Ack66Late => "ack66-late",
            Generation::AckNewest => "ack-newest",
            Generation::Upstream => "upstream",
        }
    }

    /// The generation called `name` (see [`Generation::name`]).
    pub fn from_name(name: &str) -> Option<Generation> {
        Self::ALL.into_iter().find(|g| g.name() == name)
    }

    /// The kernels that carry it.
    pub fn kernels(self) -> &'static str {
        match self {
            Generation::A14Early => "android14-6.1, early builds",
            Generation::A14Late => "android14-6.1, later builds",
            Generation::Ack66Early => "android15-6.6 (early)",
            Generation::Ack66Late => "android15-6.6 (later), android16-6.12",
            Generation::AckNewest => "the newest android16-6.12 and later",
            Generation::Upstream => "the upstream patch series (no Android kernel)",
        }
    }

    /// The ioctls it handles.
    pub fn handled(self) -> Vec<DriverIoctl> {
        use DriverIoctl::*;
        // What every Android common kernel driver handles.
        const ACK: &[DriverIoctl] = &[
            CreateVm,
            SetUserMemRegion,
            LendUserMem,
            SetDtbConfig,
            SetFwConfig,
            Start,
            AddFunction,
            RemoveFunction,
            VcpuRun,
            VcpuMmapSize,
        ];
        const UPSTREAM: &[DriverIoctl] = &[
            CreateVm,
            CreateGuestMem,
            SetDtbConfig,
            Start,
            AddFunction,
            RemoveFunction,
            MapMem,
            SetBootContext,
            VcpuRun,
            VcpuMmapSize,
        ];
        if self == Generation::Upstream {
            return UPSTREAM.to_vec();
        }
        let mut handled = ACK.to_vec();
        if self.is_a14() {
            handled.push(TentativeUapi);
        }
        if self.is_later() {
            handled.push(SetBootContext);
        }
        if self >= Generation::Ack66Late {
            handled.extend([ReclaimRegion, CreateCmaMemFd, MapCmaMem, SetAuthType]);
        }
        if self >= Generation::AckNewest {
            handled.push(CheckExtension);
        }
        handled
    }

    /// Whether it is an android14-6.1 driver, early or late: memory pinned at the ioctl, no
    /// PAGE_FAULT exits, unique memory labels, the DTB rounded up to a page.
    pub fn is_a14(self) -> bool {
        matches!(self, Generation::A14Early | Generation::A14Late)
    }

    /// Whether it is one of the later drivers (ack66-early and after): demand paging with
    /// PAGE_FAULT exits, key-based REMOVE_FUNCTION, the demand-paging memory rules, whole DTB pages.
    pub fn is_later(self) -> bool {
        matches!(
            self,
            Generation::Ack66Early | Generation::Ack66Late | Generation::AckNewest
        )
    }

    /// Whether it handles `ioctl`.
    pub fn handles(self, ioctl: DriverIoctl) -> bool {
        self.handled().contains(&ioctl)
    }

    /// Its row of the probe table (docs/GENERATIONS.md, "The probe"): what it answers to each
    /// probe, in [`Probe::ALL`] order.
    pub fn probe_answers(self) -> ProbeAnswers {
        const NOTTY: ProbeAnswer = ProbeAnswer::Errno(Errno::ENOTTY);
        const FAULT: ProbeAnswer = ProbeAnswer::Errno(Errno::EFAULT);
        const ZERO: ProbeAnswer = ProbeAnswer::Value(0);
        const ONE: ProbeAnswer = ProbeAnswer::Value(1);
        const NOENT: ProbeAnswer = ProbeAnswer::Errno(Errno::ENOENT);
        #[rustfmt::skip]
        let row = match self {
            //                       TENTATIVE CREATE_GM CHECK_EXT BOOT_CTX RECLAIM SET_MEM REMOVE
            Generation::A14Early =>   [ZERO,  NOTTY, NOTTY, NOTTY, NOTTY, FAULT, ZERO],
            Generation::A14Late =>    [ZERO,  NOTTY, NOTTY, NOTTY, NOTTY, FAULT, NOENT],
            Generation::Ack66Early => [NOTTY, NOTTY, NOTTY, FAULT, NOTTY, FAULT, NOENT],
            Generation::Ack66Late =>  [NOTTY, NOTTY, NOTTY, FAULT, FAULT, FAULT, NOENT],
            Generation::AckNewest =>  [NOTTY, NOTTY, ONE,   FAULT, FAULT, FAULT, NOENT],
            // The series' REMOVE_FUNCTION is the later drivers' (INFERRED; never served).
            Generation::Upstream =>   [NOTTY, FAULT, NOTTY, FAULT, NOTTY, NOTTY, NOENT],
        };
        ProbeAnswers(row)
    }

    /// The generation whose probe row equals `answers` in every probe; `None` for any other
    /// pattern (never a guess).
    pub fn identify(answers: &ProbeAnswers) -> Option<Generation> {
        Self::ALL
            .into_iter()
            .find(|g| g.probe_answers() == *answers)
    }
}

impl fmt::Display for Generation {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

/// One probe: an ioctl issued with a NULL pointer (or a plain integer), so a driver that
/// handles it fails in `copy_from_user` with EFAULT and changes nothing. Every probe is an ioctl
/// of the ABI table and of the SELinux allowlist: an ioctl outside the allowlist gets EACCES
/// on a device, which would read as a pattern no generation gives.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Probe {
    /// `GH_ANDROID_TENTATIVE_UAPI` on `/dev/gunyah`.
    TentativeUapi,
    /// `GUNYAH_CREATE_GUEST_MEM(NULL)` on `/dev/gunyah`.
    CreateGuestMem,
    /// `GH_VM_CHECK_EXTENSION(GH_CAP_VCPU_TIMER_WAKEUP)` on a VM fd.
    CheckExtension,
    /// `GH_VM_SET_BOOT_CONTEXT(NULL)` on a VM fd.
    SetBootContext,
    /// `GH_VM_RECLAIM_REGION(NULL)` on a VM fd.
    ReclaimRegion,
    /// `GH_VM_SET_USER_MEM_REGION(NULL)` on a VM fd.
    SetUserMemRegion,
    /// `GH_VM_REMOVE_FUNCTION` of vCPU [`Probe::ABSENT_VCPU`] on a VM fd that has no vCPU:
    /// nothing matches, so nothing is removed. The early a14 driver answers 0, every later
    /// one (the late a14 driver included) ENOENT.
    RemoveFunction,
}

impl Probe {
    /// Every probe, in the order they are issued.
    pub const ALL: [Probe; 7] = [
        Probe::TentativeUapi,
        Probe::CreateGuestMem,
        Probe::CheckExtension,
        Probe::SetBootContext,
        Probe::ReclaimRegion,
        Probe::SetUserMemRegion,
        Probe::RemoveFunction,
    ];

    /// The vCPU id the REMOVE_FUNCTION probe names (the probe VM has no vCPU at all).
    pub const ABSENT_VCPU: u32 = u32::MAX;

    /// The ioctl it issues.
    pub fn ioctl(self) -> DriverIoctl {
        match self {
            Probe::TentativeUapi => DriverIoctl::TentativeUapi,
            Probe::CreateGuestMem => DriverIoctl::CreateGuestMem,
            Probe::CheckExtension => DriverIoctl::CheckExtension,
            Probe::SetBootContext => DriverIoctl::SetBootContext,
            Probe::ReclaimRegion => DriverIoctl::ReclaimRegion,
            Probe::SetUserMemRegion => DriverIoctl::SetUserMemRegion,
            Probe::RemoveFunction => DriverIoctl::RemoveFunction,
        }
    }

    /// Whether it is issued on a VM fd (else on `/dev/gunyah`).
    pub fn on_vm(self) -> bool {
        !matches!(self, Probe::TentativeUapi | Probe::CreateGuestMem)
    }
}

/// What one probe returned.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ProbeAnswer {
    /// A non-negative return value.
    Value(i32),
    /// An errno.
    Errno(Errno),
}

impl fmt::Display for ProbeAnswer {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            ProbeAnswer::Value(v) => write!(f, "{v}"),
            ProbeAnswer::Errno(e) => write!(f, "{e:?}"),
        }
    }
}

/// The answers to every probe, in [`Probe::ALL`] order.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ProbeAnswers(pub [ProbeAnswer; Probe::ALL.len()]);

impl ProbeAnswers {
    /// The answer to `probe`.
    pub fn get(&self, probe: Probe) -> ProbeAnswer {
        let index = Probe::ALL
            .iter()
            .position(|p| *p == probe)
            .expect("every probe is in ALL");
        self.0[index]
    }
}

impl fmt::Display for ProbeAnswers {
    /// `GH_ANDROID_TENTATIVE_UAPI=0 GUNYAH_CREATE_GUEST_MEM=ENOTTY ...`
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        for (i, (probe, answer)) in Probe::ALL.iter().zip(self.0).enumerate() {
            if i > 0 {
                f.write_str(" ")?;
            }
            write!(f, "{}={answer}", probe.ioctl())?;
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn test_every_generation_has_its_own_probe_row() {
        for g in Generation::ALL {
            assert_eq!(Generation::identify(&g.probe_answers()), Some(g), "{g}");
        }
    }

    #[test]
    fn test_an_unknown_pattern_is_no_generation() {
        // The a14 row, but with SET_BOOT_CONTEXT handled: no driver answers so.
        let mut answers = Generation::A14Late.probe_answers();
        answers.0[3] = ProbeAnswer::Errno(Errno::EFAULT);
        assert_eq!(Generation::identify(&answers), None);
        // SELinux refusing a probe (EACCES) is no generation either.
        let mut denied = Generation::Ack66Late.probe_answers();
        denied.0[4] = ProbeAnswer::Errno(Errno::EACCES);
        assert_eq!(Generation::identify(&denied), None);
        assert_eq!(
            denied.to_string(),
            "GH_ANDROID_TENTATIVE_UAPI=ENOTTY GUNYAH_CREATE_GUEST_MEM=ENOTTY \
             GH_VM_CHECK_EXTENSION=ENOTTY GH_VM_SET_BOOT_CONTEXT=EFAULT \
             GH_VM_RECLAIM_REGION=EACCES GH_VM_SET_USER_MEM_REGION=EFAULT \
             GH_VM_REMOVE_FUNCTION=ENOENT"
        );
    }

    #[test]
    fn test_later_generations() {
        let later: Vec<Generation> = Generation::ALL
            .into_iter()
            .filter(|g| g.is_later())
            .collect();
        assert_eq!(
            later,
            [
                Generation::Ack66Early,
                Generation::Ack66Late,
                Generation::AckNewest
            ]
        );
    }

    #[test]
    fn test_names_round_trip() {
        for g in Generation::ALL {
            assert_eq!(Generation::from_name(g.name()), Some(g));
        }
        assert_eq!(Generation::from_name("a15"), None);
    }

    #[test]
    fn test_each_probe_is_handled_exactly_where_its_row_says() {
        // A probe answers EFAULT or a value exactly where the generation handles its ioctl.
        for g in Generation::ALL {
            for probe in Probe::ALL {
                let handled = g.handles(probe.ioctl());
                let answered = g.probe_answers().get(probe) != ProbeAnswer::Errno(Errno::ENOTTY);
                assert_eq!(handled, answered, "{g} {probe:?}");
            }
        }
    }
}
