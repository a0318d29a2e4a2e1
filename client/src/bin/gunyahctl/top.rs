//! `gunyahctl top`: a live view of the service's VMs, one line per VM, refreshed every
//! interval: what each is, and its exits per second by kind. Read from the service's dump
//! (`gunyah_contract::diagnostics`), so it works wherever `gunyahctl dump` does: over the
//! socket's diagnostics socket and over kernel binder's `dump()`.

use std::collections::BTreeMap;
use std::time::{Duration, Instant};

use anyhow::Result;
use clap::ValueEnum;
use serde_json::{json, Value};

use gunyah_contract::diagnostics::{Diagnostics, VmLine};
use gunyah_contract::names;

use crate::output::Output;
use crate::{query, Cli, EXIT_OK};

/// `gunyahctl top`'s flags.
#[derive(clap::Args, Debug)]
pub struct TopArgs {
    /// Every VM of the dump, not only the caller's (the dump lists every client's VMs).
    #[arg(long)]
    all: bool,
    /// Seconds between refreshes.
    #[arg(long, default_value = "1", value_parser = parse_interval)]
    interval: Duration,
    /// Stop after this many refreshes (0: until `q`, Ctrl-C or SIGTERM).
    #[arg(long, default_value_t = 0)]
    count: u64,
    /// The column to sort by (on the screen: `<` and `>` move it, `r` reverses).
    #[arg(long, value_enum, default_value_t = Column::Id)]
    sort: Column,
    /// Largest first.
    #[arg(long)]
    reverse: bool,
}

fn parse_interval(s: &str) -> Result<Duration, String> {
    match s.parse::<f64>() {
        Ok(secs) if (0.1..=3600.0).contains(&secs) => Ok(Duration::from_secs_f64(secs)),
        _ => Err(format!("{s:?} is not a number of seconds from 0.1 to 3600")),
    }
}

/// A column of the view.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, ValueEnum)]
pub enum Column {
    /// The VM's id.
    Id,
    /// Its name.
    Name,
    /// The uid that created it.
    Uid,
    /// Its state.
    State,
    /// vCPUs.
    Vcpus,
    /// Guest memory.
    Memory,
    /// MMIO exits per second answered by a binder handler.
    Binder,
    /// MMIO exits per second answered over the MMIO ring.
    Ring,
    /// ioeventfd signals (the guest's doorbells to its VMM) per second.
    Ioeventfd,
    /// Unhandled MMIO accesses per second.
    Unhandled,
    /// Time since the last MMIO exit.
    LastExit,
}

impl Column {
    const ALL: [Column; 11] = [
        Column::Id,
        Column::Name,
        Column::Uid,
        Column::State,
        Column::Vcpus,
        Column::Memory,
        Column::Binder,
        Column::Ring,
        Column::Ioeventfd,
        Column::Unhandled,
        Column::LastExit,
    ];

    fn title(self) -> &'static str {
        match self {
            Column::Id => "ID",
            Column::Name => "NAME",
            Column::Uid => "UID",
            Column::State => "STATE",
            Column::Vcpus => "VCPUS",
            Column::Memory => "MEMORY",
            Column::Binder => "BINDER/s",
            Column::Ring => "RING/s",
            Column::Ioeventfd => "IOEVENTFD/s",
            Column::Unhandled => "UNHANDLED/s",
            Column::LastExit => "LAST EXIT",
        }
    }

    /// The next (`step` 1) or previous (`step` -1) column (the screen's `<` and `>`).
    #[cfg_attr(not(feature = "tui"), allow(dead_code))]
    fn step(self, step: isize) -> Column {
        let at = Self::ALL.iter().position(|c| *c == self).unwrap_or(0) as isize;
        Self::ALL[(at + step).rem_euclid(Self::ALL.len() as isize) as usize]
    }
}

/// Per second over one interval.
#[derive(Debug, Clone, Copy, Default, PartialEq)]
struct Rates {
    binder: f64,
    ring: f64,
    /// `None` where the driver does not count ioeventfd signals.
    ioeventfd: Option<f64>,
    unhandled: f64,
}

/// One VM's row.
#[derive(Debug, Clone)]
struct Row {
    vm: VmLine,
    rates: Rates,
}

/// `vm`'s rates since `before`, `secs` earlier (a VM new since then counts from zero).
fn rates(before: Option<&VmLine>, vm: &VmLine, secs: f64) -> Rates {
    let per_s = |now: u64, then: u64| now.saturating_sub(then) as f64 / secs;
    let unhandled = |v: &VmLine| v.unhandled_mmio.reads + v.unhandled_mmio.writes;
    let (binder, ring, io, unh) = before.map_or((0, 0, Some(0), 0), |b| {
        (
            b.exits.mmio_binder,
            b.exits.mmio_ring,
            b.exits.ioeventfd_signals,
            unhandled(b),
        )
    });
    Rates {
        binder: per_s(vm.exits.mmio_binder, binder),
        ring: per_s(vm.exits.mmio_ring, ring),
        ioeventfd: vm
            .exits
            .ioeventfd_signals
            .map(|now| per_s(now, io.unwrap_or(0))),
        unhandled: per_s(unhandled(vm), unh),
    }
}

fn sort(rows: &mut [Row], by: Column, reverse: bool) {
    let key = |r: &Row| -> (f64, String) {
        let n = |x: f64| (x, String::new());
        match by {
            Column::Id => n(f64::from(r.vm.id)),
            Column::Name => (0.0, r.vm.name.clone()),
            Column::Uid => n(f64::from(r.vm.uid)),
            Column::State => (0.0, names::vm_state(r.vm.state).to_string()),
            Column::Vcpus => n(f64::from(r.vm.vcpus)),
            Column::Memory => n(r.vm.memory_bytes as f64),
            Column::Binder => n(r.rates.binder),
            Column::Ring => n(r.rates.ring),
            Column::Ioeventfd => n(r.rates.ioeventfd.unwrap_or(-1.0)),
            Column::Unhandled => n(r.rates.unhandled),
            Column::LastExit => n(r.vm.exits.last_exit_ms.map_or(f64::MAX, |ms| ms as f64)),
        }
    };
    rows.sort_by(|a, b| {
        let (ka, kb) = (key(a), key(b));
        ka.0.total_cmp(&kb.0)
            .then_with(|| ka.1.cmp(&kb.1))
            .then_with(|| a.vm.id.cmp(&b.vm.id))
    });
    if reverse {
        rows.reverse();
    }
}

fn age(ms: Option<u64>) -> String {
    match ms {
        None => "never".to_string(),
        Some(ms) if ms < 10_000 => format!("{ms} ms"),
        Some(ms) => format!("{} s", ms / 1000),
    }
}

fn memory(bytes: u64) -> String {
    match bytes {
        b if b >= 1 << 30 && b % (1 << 30) == 0 => format!("{}G", b >> 30),
        b if b >= 1 << 20 => format!("{}M", b >> 20),
        b => format!("{}K", b >> 10),
    }
}

fn cell(row: &Row, column: Column) -> String {
    let rate = |x: f64| format!("{x:.1}");
    match column {
        Column::Id => row.vm.id.to_string(),
        Column::Name => row.vm.name.clone(),
        Column::Uid => row.vm.uid.to_string(),
        Column::State => names::vm_state(row.vm.state).to_string(),
        Column::Vcpus => row.vm.vcpus.to_string(),
        Column::Memory => memory(row.vm.memory_bytes),
        Column::Binder => rate(row.rates.binder),
        Column::Ring => rate(row.rates.ring),
        Column::Ioeventfd => row.rates.ioeventfd.map_or("-".to_string(), rate),
        Column::Unhandled => rate(row.rates.unhandled),
        Column::LastExit => age(row.vm.exits.last_exit_ms),
    }
}

/// The table: a header, then a line per VM. The sort column's title is marked.
fn table(rows: &[Row], by: Column, reverse: bool) -> Vec<String> {
    let mut cells: Vec<Vec<String>> = vec![Column::ALL
        .iter()
        .map(|c| {
            let mark = match (*c == by, reverse) {
                (false, _) => "",
                (true, false) => "^",
                (true, true) => "v",
            };
            format!("{}{mark}", c.title())
        })
        .collect()];
    cells.extend(
        rows.iter()
            .map(|r| Column::ALL.iter().map(|c| cell(r, *c)).collect()),
    );
    let widths: Vec<usize> = (0..Column::ALL.len())
        .map(|i| {
            cells
                .iter()
                .map(|l| l[i].chars().count())
                .max()
                .unwrap_or(0)
        })
        .collect();
    cells
        .iter()
        .map(|line| {
            line.iter()
                .zip(&widths)
                .enumerate()
                .map(|(i, (text, w))| match Column::ALL[i] {
                    Column::Name | Column::State => format!("{text:<w$}"),
                    _ => format!("{text:>w$}"),
                })
                .collect::<Vec<_>>()
                .join("  ")
                .trim_end()
                .to_string()
        })
        .collect()
}

fn row_json(row: &Row) -> Value {
    json!({
        "id": row.vm.id,
        "name": row.vm.name,
        "uid": row.vm.uid,
        "state": names::vm_state(row.vm.state),
        "vcpus": row.vm.vcpus,
        "memory_bytes": row.vm.memory_bytes,
        "exits_per_s": {
            "mmio_binder": row.rates.binder,
            "mmio_ring": row.rates.ring,
            "ioeventfd": row.rates.ioeventfd,
            "unhandled": row.rates.unhandled,
        },
        "last_exit_ms": row.vm.exits.last_exit_ms,
    })
}

/// Samples of the dump, and the rows between the last two.
struct Sampler<'a> {
    cli: &'a Cli,
    all: bool,
    uid: u32,
    last: Option<(Instant, BTreeMap<i32, VmLine>)>,
}

impl Sampler<'_> {
    fn sample(&mut self) -> Result<BTreeMap<i32, VmLine>> {
        let dump = Diagnostics::parse(&query::dump_text(self.cli)?)?;
        Ok(dump
            .vms
            .into_iter()
            .filter(|vm| self.all || vm.uid == self.uid)
            .map(|vm| (vm.id, vm))
            .collect())
    }

    /// Rows since the previous call (the first call's, since now: no rates yet), and the
    /// seconds they cover.
    fn rows(&mut self) -> Result<(Vec<Row>, f64)> {
        // The counters are read somewhere inside the dump call: its midpoint is the best
        // guess of when.
        let asked = Instant::now();
        let vms = self.sample()?;
        let now = asked + asked.elapsed() / 2;
        let (rows, secs) = match &self.last {
            Some((then, before)) => {
                let secs = now.duration_since(*then).as_secs_f64().max(1e-3);
                let rows = vms
                    .values()
                    .map(|vm| Row {
                        vm: vm.clone(),
                        rates: rates(before.get(&vm.id), vm, secs),
                    })
                    .collect();
                (rows, secs)
            }
            None => (Vec::new(), 0.0),
        };
        self.last = Some((now, vms));
        Ok((rows, secs))
    }
}

/// `gunyahctl top`.
pub fn top(cli: &Cli, args: &TopArgs, out: &Output) -> Result<i32> {
    let mut sampler = Sampler {
        cli,
        all: args.all,
        uid: nix::unistd::getuid().as_raw(),
        last: None,
    };
    sampler.rows()?;
    #[cfg(feature = "tui")]
    if !out.json() && screen::is_terminal() {
        return screen::run(&mut sampler, args);
    }
    let mut shown = 0;
    loop {
        std::thread::sleep(args.interval);
        let (mut rows, secs) = sampler.rows()?;
        sort(&mut rows, args.sort, args.reverse);
        out.line(
            || table(&rows, args.sort, args.reverse).join("\n") + "\n",
            || {
                json!({
                    "interval_s": secs,
                    "vms": rows.iter().map(row_json).collect::<Vec<_>>(),
                })
            },
        );
        shown += 1;
        if args.count != 0 && shown >= args.count {
            return Ok(EXIT_OK);
        }
    }
}

/// The screen on a terminal (crossterm): redrawn every interval, keys read in between.
#[cfg(feature = "tui")]
mod screen {
    use std::io::{IsTerminal, Write};
    use std::time::Instant;

    use anyhow::Result;
    use crossterm::event::{self, Event, KeyCode, KeyEvent, KeyModifiers};
    use crossterm::{cursor, execute, queue, terminal};

    use super::{sort, table, Column, Row, Sampler, TopArgs};
    use crate::EXIT_OK;

    pub fn is_terminal() -> bool {
        std::io::stdout().is_terminal()
    }

    /// Leaves the alternate screen and raw mode however `run` ends.
    struct Restore;

    impl Drop for Restore {
        fn drop(&mut self) {
            let _ = execute!(
                std::io::stdout(),
                terminal::LeaveAlternateScreen,
                cursor::Show
            );
            let _ = terminal::disable_raw_mode();
        }
    }

    fn draw(rows: &[Row], by: Column, reverse: bool, secs: f64) -> Result<()> {
        let mut out = std::io::stdout().lock();
        queue!(
            out,
            cursor::MoveTo(0, 0),
            terminal::Clear(terminal::ClearType::All)
        )?;
        let head = format!(
            "gunyahctl top: {} VMs, rates over {secs:.1} s; q quits, < > sort, r reverses",
            rows.len()
        );
        for line in std::iter::once(head).chain(table(rows, by, reverse)) {
            write!(out, "{line}\r\n")?;
        }
        out.flush()?;
        Ok(())
    }

    pub fn run(sampler: &mut Sampler<'_>, args: &TopArgs) -> Result<i32> {
        terminal::enable_raw_mode()?;
        let _restore = Restore;
        execute!(
            std::io::stdout(),
            terminal::EnterAlternateScreen,
            cursor::Hide
        )?;
        let (mut by, mut reverse) = (args.sort, args.reverse);
        let mut rows: Vec<Row> = Vec::new();
        let mut secs = 0.0;
        let mut next = Instant::now() + args.interval;
        let mut shown = 0;
        draw(&rows, by, reverse, secs)?;
        loop {
            let wait = next.saturating_duration_since(Instant::now());
            if event::poll(wait)? {
                if let Event::Key(KeyEvent {
                    code, modifiers, ..
                }) = event::read()?
                {
                    match code {
                        KeyCode::Char('q') | KeyCode::Esc => return Ok(EXIT_OK),
                        KeyCode::Char('c') if modifiers.contains(KeyModifiers::CONTROL) => {
                            return Ok(EXIT_OK)
                        }
                        KeyCode::Char('<') | KeyCode::Left => by = by.step(-1),
                        KeyCode::Char('>') | KeyCode::Right => by = by.step(1),
                        KeyCode::Char('r') => reverse = !reverse,
                        _ => continue,
                    }
                    sort(&mut rows, by, reverse);
                    draw(&rows, by, reverse, secs)?;
                }
                continue;
            }
            (rows, secs) = sampler.rows()?;
            sort(&mut rows, by, reverse);
            draw(&rows, by, reverse, secs)?;
            next = Instant::now() + args.interval;
            shown += 1;
            if args.count != 0 && shown >= args.count {
                return Ok(EXIT_OK);
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use gunyah_binder::aidl::VmState::VmState;
    use gunyah_contract::diagnostics::{ExitCounts, UnhandledMmio};

    fn vm(id: i32, ring: u64, unhandled: u64, ioeventfds: Option<u64>) -> VmLine {
        VmLine {
            id,
            uid: 1000,
            state: VmState::RUNNING,
            vcpus: 1,
            memory_bytes: 2 << 20,
            callbacks: 0,
            mmio_handlers: 0,
            mmio_ring_ranges: 1,
            unhandled_mmio: UnhandledMmio {
                reads: unhandled,
                writes: 0,
            },
            exits: ExitCounts {
                mmio_binder: 0,
                mmio_ring: ring,
                ioeventfd_signals: ioeventfds,
                last_exit_ms: Some(3),
            },
            name: format!("vm{id}"),
        }
    }

    #[test]
    fn rates_are_the_change_over_the_interval() {
        let r = rates(
            Some(&vm(1, 100, 10, Some(5))),
            &vm(1, 300, 30, Some(25)),
            2.0,
        );
        assert_eq!(
            r,
            Rates {
                binder: 0.0,
                ring: 100.0,
                ioeventfd: Some(10.0),
                unhandled: 10.0
            }
        );
        let new = rates(None, &vm(2, 50, 0, None), 1.0);
        assert_eq!((new.ring, new.ioeventfd), (50.0, None));
    }

    #[test]
    fn every_column_sorts() {
        let mut rows: Vec<Row> = [(1, 5.0), (2, 50.0), (3, 0.5)]
            .into_iter()
            .map(|(id, ring)| Row {
                vm: vm(id, 0, 0, None),
                rates: Rates {
                    ring,
                    ..Rates::default()
                },
            })
            .collect();
        sort(&mut rows, Column::Ring, true);
        assert_eq!(rows.iter().map(|r| r.vm.id).collect::<Vec<_>>(), [2, 1, 3]);
        for c in Column::ALL {
            sort(&mut rows, c, false);
            assert_eq!(table(&rows, c, false).len(), 4);
        }
        assert_eq!(Column::Id.step(-1), Column::LastExit);
        assert!(table(&rows, Column::Ring, false)[0].contains("RING/s^"));
    }
}
