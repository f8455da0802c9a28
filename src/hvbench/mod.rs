//! `vrouter hvbench`: the paper's hypervisor-overhead suite, timed by a clock outside the
//! platform under test.
//!
//! A clock inside a guest cannot be trusted to time the guest (it runs on the same vCPU that
//! is descheduled, and its timer interrupts are virtual). So, as in the paper, the platform
//! under test only *says* when a task starts and ends, with a marker datagram to an outside
//! host, and the outside host times the interval on its own clock:
//!
//! ```text
//!  platform under test (native / container / guest)         outside host (timer namespace)
//!  hvbench run ── start marker ──────────────────────────▶  hvbench timer: kernel receive
//!     round of the task (π, memory, disk, UDP echo)           timestamp of each marker,
//!  hvbench run ── end marker (+ its own claimed time) ───▶   paired by (run, task, round)
//! ```
//!
//! [`tasks`] are the work (each round a fixed amount, its result verified), [`marker`] the wire
//! format, [`timer`] the outside clock and the pairing (a lost marker is reported, never paired
//! with the next round's), [`compare`] the suite on several platforms with charts.

pub mod compare;
pub mod marker;
pub mod pi;
pub mod tasks;
pub mod timer;

use serde::{Deserialize, Serialize};

/// A task of the suite.
#[derive(
    Clone,
    Copy,
    Debug,
    PartialEq,
    Eq,
    PartialOrd,
    Ord,
    Hash,
    Serialize,
    Deserialize,
    clap::ValueEnum,
)]
#[serde(rename_all = "kebab-case")]
pub enum Task {
    /// π by Gauss–Legendre to `--pi-digits` decimals, checked (CPU).
    Cpu,
    /// Allocate `--mem-mib`, write every 8-byte word, read each back and check it (memory).
    Mem,
    /// Write a zero-filled file of `--disk-mib` and sync it (disk; the paper's ZFG).
    Disk,
    /// `--net-mib` of 1472-byte UDP payloads echoed by the outside host (network).
    Net,
    /// Sleep `--sleep-ms`: calibrates the outside clock against a known interval.
    Sleep,
}

impl Task {
    pub fn name(self) -> &'static str {
        match self {
            Task::Cpu => "cpu",
            Task::Mem => "mem",
            Task::Disk => "disk",
            Task::Net => "net",
            Task::Sleep => "sleep",
        }
    }

    /// The paper's four.
    pub const SUITE: [Task; 4] = [Task::Cpu, Task::Mem, Task::Disk, Task::Net];
}

/// How much work one round of each task is.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Sizes {
    /// Decimal digits of π (the paper: 2^22).
    pub pi_digits: u64,
    /// MiB written and read back per memory round.
    pub mem_mib: u64,
    /// MiB of zeros written and synced per disk round.
    pub disk_mib: u64,
    /// MiB of UDP payload sent (and echoed back) per network round.
    pub net_mib: u64,
    /// Milliseconds of the calibration sleep.
    pub sleep_ms: u64,
}

impl Sizes {
    /// The full suite: the paper's π; memory, disk and network rounds of a few seconds on a
    /// native core here.
    pub fn full() -> Sizes {
        Sizes {
            pi_digits: 1 << 22,
            mem_mib: 512,
            disk_mib: 256,
            net_mib: 64,
            sleep_ms: 1000,
        }
    }

    /// `--quick`: each round well under a second natively, a few seconds in a TCG guest.
    pub fn quick() -> Sizes {
        Sizes {
            pi_digits: 1 << 15,
            mem_mib: 64,
            disk_mib: 32,
            net_mib: 4,
            sleep_ms: 300,
        }
    }

    /// The size of `task` as a reader wants to see it.
    pub fn describe(&self, task: Task) -> String {
        match task {
            Task::Cpu => format!("{} digits of π", self.pi_digits),
            Task::Mem => format!("{} MiB written and checked", self.mem_mib),
            Task::Disk => format!("{} MiB of zeros written and synced", self.disk_mib),
            Task::Net => format!("{} MiB echoed in 1472-byte UDP payloads", self.net_mib),
            Task::Sleep => format!("{} ms sleep", self.sleep_ms),
        }
    }
}

/// UDP port the timer listens on by default.
pub const TIMER_PORT: u16 = 7390;
