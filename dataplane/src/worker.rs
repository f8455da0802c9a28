//! Workers: one thread per core, pinned, polling the ports of one or more virtual routers in
//! bursts (l3fwd's loop: RX burst -> pipeline over the burst -> per-port TX queues -> TX burst).
//!
//! Polling modes:
//! - `busy`: never yields the core (lowest latency; starves co-located routers when routers
//!   outnumber cores, the paper's failure).
//! - `adaptive`: polls back to back only while bursts come in at least half full (a backlog);
//!   after a light burst, or a short spin with nothing, it sleeps and lets the port rings batch
//!   the arrivals. The sleep is fitted to the arrival rate ([`Backoff`]): the configured maximum
//!   (default [`ADAPTIVE_SLEEP`]) at low rates, so a lightly loaded router uses a few percent of
//!   a core and hands the rest to routers sharing it; shorter as the rate rises; none at all
//!   above about 3 Mp/s, where it polls like `busy`. The price is up to one sleep of added
//!   latency at low load.
//! - `interrupt`: blocking waits on the ports' file descriptors, for backends that have them
//!   (AF_PACKET, AF_XDP); memory ports do not, and refuse it.
//!
//! A worker can serve several routers (shared-core mode: no context switch between routers on
//! one core), and counters are atomics published per burst, readable without stopping anything.
//!
//! Longer than 600 lines: the polling modes, the adaptive sleep model and the counters they
//! update are one loop's parts and are kept together.

use std::sync::atomic::{AtomicBool, AtomicU64, Ordering::Relaxed};
use std::sync::Arc;
use std::time::{Duration, Instant};

use fib::FibReader;

use crate::pipeline::{DropReason, Io, PacketBuf, Pipeline, Verdict, BURST};
use crate::pool::{Pool, PoolCache};
use crate::port::Port;

/// Default sleep of an adaptive worker between light polls. Measured on this project's VM at
/// 130 kp/s offered (docs/results/2026-11-figures.md): 50 µs -> 23% of a core, 100 µs -> 18%, 200 µs -> 10%, all without
/// loss; each wake-up costs tens of microseconds of CPU inside a VM.
pub const ADAPTIVE_SLEEP: Duration = Duration::from_micros(100);
/// Shortest sleep an adaptive worker takes.
const MIN_SLEEP: Duration = Duration::from_micros(20);
/// Frames an adaptive worker lets accumulate per sleep: two bursts, a small part of any ring.
const WAKE_FRAMES: f64 = 2.0 * BURST as f64;
/// How late a sleeping thread may wake up, beyond its sleep, before its rings overflow: inside
/// a VM, sleeps overshoot by ~60-100 µs typically and 300-400 µs at the 99.9th percentile
/// (measured on this project's VM), so a sleep is only taken when the input rings can hold
/// what arrives during the sleep plus this much, with half the ring to spare.
const WAKE_BUDGET: Duration = Duration::from_micros(500);
/// How often the arrival rate is re-estimated.
const RATE_WINDOW_NS: u64 = 1_000_000;

/// An adaptive worker's sleep length, fitted to the arrival rate. Every millisecond the rate
/// is re-estimated and the sleep set to the time [`WAKE_FRAMES`] take to arrive, capped by the
/// configured maximum; a sleep is only taken when the rings can absorb it plus a late wake-up
/// ([`WAKE_BUDGET`]). At low rates the worker sleeps the maximum and uses a few percent of a
/// core; as the rate rises the sleeps shorten, and above the rings' limit (about 0.9 Mp/s per
/// 1024-frame ring) the worker polls back to back like a busy one, so adaptive mode keeps busy
/// mode's zero-loss rate. Until the first rate estimate it does not sleep after traffic.
#[derive(Clone, Debug)]
pub struct Backoff {
    max: Duration,
    /// Frames the input rings hold together.
    capacity: f64,
    /// The sleep to take, `None` to keep polling.
    cur: Option<Duration>,
    window_ns: Option<u64>,
    frames: u64,
}

impl Backoff {
    /// `capacity`: frames the worker's input rings hold together.
    pub fn new(max: Duration, capacity: usize) -> Self {
        Backoff {
            max,
            capacity: capacity.max(1) as f64,
            cur: None,
            window_ns: None,
            frames: 0,
        }
    }

    /// Counts received frames.
    #[inline]
    pub fn record(&mut self, frames: usize) {
        self.frames += frames as u64;
    }

    fn update(&mut self, now_ns: u64) {
        let start = *self.window_ns.get_or_insert(now_ns);
        let dt = now_ns.saturating_sub(start);
        if dt < RATE_WINDOW_NS {
            return;
        }
        let rate = self.frames as f64 * 1e9 / dt as f64;
        self.cur = if self.frames == 0 {
            Some(self.max)
        } else {
            let d = Duration::from_secs_f64(WAKE_FRAMES / rate)
                .min(self.max)
                .max(MIN_SLEEP);
            let arriving = rate * (d + WAKE_BUDGET).as_secs_f64();
            (arriving <= self.capacity / 2.0).then_some(d)
        };
        self.window_ns = Some(now_ns);
        self.frames = 0;
    }

    /// After a light burst at `now_ns`: how long to sleep, or `None` to keep polling.
    pub fn next(&mut self, now_ns: u64) -> Option<Duration> {
        self.update(now_ns);
        self.cur
    }

    /// After a run of empty polls at `now_ns`: how long to sleep, or `None` to keep polling
    /// (a gap in heavy traffic is not the end of it; a millisecond of quiet is).
    pub fn idle(&mut self, now_ns: u64) -> Option<Duration> {
        self.update(now_ns);
        self.cur
    }
}

/// Empty polls an adaptive worker spins through before sleeping.
const SPIN_POLLS: u32 = 64;
/// A burst at least this full means a backlog: keep polling.
const HEAVY_BURST: usize = BURST / 2;
/// Frames a router takes from one port per poll: several pipeline bursts, so that the per-poll
/// costs (clock read, table snapshot, ring indexes, counters) are spread over more frames when
/// traffic is heavy (VPP's vectors of up to 256 frames have the same reason). The pipeline
/// still works in bursts of [`BURST`]; a light poll returns what is there, as before.
pub const RX_BUDGET: usize = 8 * BURST;
/// Frames a port holds for a later round when its transmit ring is full, as a qdisc would
/// (Linux's default `txqueuelen` is 1000), before it drops the newest. A backend drained in
/// bursts by another thread (QEMU's virtio queue of 256 descriptors, a sink stalled off its
/// core) then costs latency instead of loss: measured in 4 TCG guests on 2 cores, a DPDK
/// router that dropped at its virtio transmit ring lost nothing with the hold.
pub const TX_HOLD: usize = 1024;

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum PollMode {
    Busy,
    Adaptive,
    Interrupt,
}

impl PollMode {
    /// The name a configuration uses: `busy`, `adaptive`, `interrupt`.
    pub fn name(self) -> &'static str {
        match self {
            PollMode::Busy => "busy",
            PollMode::Adaptive => "adaptive",
            PollMode::Interrupt => "interrupt",
        }
    }
}

impl std::fmt::Display for PollMode {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.name())
    }
}

impl std::str::FromStr for PollMode {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, String> {
        match s {
            "busy" => Ok(PollMode::Busy),
            "adaptive" => Ok(PollMode::Adaptive),
            "interrupt" => Ok(PollMode::Interrupt),
            o => Err(format!(
                "polling mode must be busy, adaptive or interrupt, not `{o}`"
            )),
        }
    }
}

/// Adds to a counter that only the calling worker writes: a plain load and store instead of a
/// locked read-modify-write, which on x86 is a full fence that would stall the burst's
/// outstanding memory accesses. Readers on other threads see whole values, a little late.
#[inline(always)]
fn bump(c: &AtomicU64, n: u64) {
    c.store(c.load(Relaxed).wrapping_add(n), Relaxed);
}

/// Per-port counters.
#[derive(Debug, Default)]
pub struct PortCounters {
    pub rx_packets: AtomicU64,
    pub rx_bytes: AtomicU64,
    pub tx_packets: AtomicU64,
    pub tx_bytes: AtomicU64,
    /// Frames the port could not take (ring or NIC queue full, and [`TX_HOLD`] frames
    /// already waiting).
    pub tx_dropped: AtomicU64,
    /// Frames that found the transmit ring full and waited for a later round ([`TX_HOLD`]).
    pub tx_held: AtomicU64,
    /// Frames the backend dropped on receive before the router saw them (ring full).
    pub rx_dropped: AtomicU64,
}

/// A router's counters, shared with whoever reads stats.
#[derive(Debug)]
pub struct RouterCounters {
    pub ports: Vec<PortCounters>,
    pub frames_in: AtomicU64,
    pub forwarded: AtomicU64,
    pub answered: AtomicU64,
    pub icmp_errors: AtomicU64,
    /// Frames taken into neighbour hold queues, sent from them once resolved, and dropped from
    /// them (full queue or unanswered request).
    pub held: AtomicU64,
    pub released: AtomicU64,
    pub hold_dropped: AtomicU64,
    /// IPv4 datagrams fragmented, and the fragments sent for them.
    pub fragmented: AtomicU64,
    pub fragments: AtomicU64,
    pub drops: Vec<AtomicU64>,
}

impl RouterCounters {
    fn new(ports: usize) -> Self {
        RouterCounters {
            ports: (0..ports).map(|_| PortCounters::default()).collect(),
            frames_in: AtomicU64::new(0),
            forwarded: AtomicU64::new(0),
            answered: AtomicU64::new(0),
            icmp_errors: AtomicU64::new(0),
            held: AtomicU64::new(0),
            released: AtomicU64::new(0),
            hold_dropped: AtomicU64::new(0),
            fragmented: AtomicU64::new(0),
            fragments: AtomicU64::new(0),
            drops: DropReason::ALL.iter().map(|_| AtomicU64::new(0)).collect(),
        }
    }

    pub fn dropped(&self) -> u64 {
        self.drops.iter().map(|d| d.load(Relaxed)).sum()
    }
}

/// A virtual router as a worker runs it: pipeline, ports, published tables, counters.
pub struct VirtualRouter {
    pub name: String,
    pub pipeline: Pipeline,
    ports: Vec<Box<dyn Port>>,
    fib4: FibReader<u32>,
    fib6: FibReader<u128>,
    pub counters: Arc<RouterCounters>,
    rx: Vec<PacketBuf>,
    /// Per port: the frames to send this round, headed by the ones a full ring held back.
    txq: Vec<Vec<PacketBuf>>,
    /// Per port: how many frames at the head of `txq` a full ring held back.
    held: Vec<usize>,
    verdicts: [Verdict; RX_BUDGET],
    /// Frames the pipeline sends outside the burst (released by neighbour answers, requests).
    extra: Vec<(u16, PacketBuf)>,
    freed: Vec<PacketBuf>,
}

impl VirtualRouter {
    /// `ports[i]` is router port `i` (the pipeline's interface `i`).
    pub fn new(
        name: &str,
        pipeline: Pipeline,
        ports: Vec<Box<dyn Port>>,
        fib4: FibReader<u32>,
        fib6: FibReader<u128>,
    ) -> Self {
        let n = ports.len();
        VirtualRouter {
            name: name.to_string(),
            pipeline,
            counters: Arc::new(RouterCounters::new(n)),
            txq: (0..n)
                .map(|_| Vec::with_capacity(RX_BUDGET * 2 + TX_HOLD))
                .collect(),
            held: vec![0; n],
            ports,
            fib4,
            fib6,
            rx: Vec::with_capacity(RX_BUDGET),
            verdicts: [Verdict::Forward { port: 0 }; RX_BUDGET],
            extra: Vec::with_capacity(RX_BUDGET),
            freed: Vec::with_capacity(RX_BUDGET),
        }
    }

    /// Whether every port has a descriptor to wait on (`interrupt` polling).
    pub fn can_wait(&self) -> bool {
        self.ports.iter().all(|p| p.fd().is_some())
    }

    /// Blocks until one of `routers`' ports has frames or `timeout_ms` pass.
    pub fn wait(routers: &[VirtualRouter], timeout_ms: u16) {
        use nix::poll::{poll, PollFd, PollFlags};
        let mut fds: Vec<PollFd<'_>> = routers
            .iter()
            .flat_map(|r| r.ports.iter().filter_map(|p| p.fd()))
            .map(|fd| PollFd::new(fd, PollFlags::POLLIN))
            .collect();
        let _ = poll(&mut fds, timeout_ms);
    }

    /// Collects the ports' receive drops into the counters (a system call per port on kernel
    /// backends, so workers call it every few milliseconds, not per burst).
    pub fn collect_rx_drops(&mut self) {
        for (p, port) in self.ports.iter_mut().enumerate() {
            let n = port.rx_dropped();
            if n > 0 {
                bump(&self.counters.ports[p].rx_dropped, n);
            }
        }
    }

    /// Frames the router's smallest input ring holds (traffic may all come in on one port).
    pub fn rx_capacity(&self) -> usize {
        self.ports
            .iter()
            .map(|p| p.rx_capacity())
            .min()
            .unwrap_or(0)
    }

    /// Whether frames wait for a full transmit ring.
    pub fn holding(&self) -> bool {
        self.held.iter().any(|&h| h > 0)
    }

    /// One poll of every port; returns the frames received.
    pub fn poll(&mut self, pool: &mut PoolCache, now_ns: u64) -> usize {
        if self.holding() {
            self.flush_tx(pool);
        }
        let mut total = 0;
        for p in 0..self.ports.len() {
            self.rx.clear();
            let n = self.ports[p].rx_burst(&mut self.rx, RX_BUDGET);
            if n == 0 {
                continue;
            }
            total += n;
            // Frames arrive in cache lines another core wrote. Touching each frame's first line
            // in one tight loop puts all the misses in flight at once (a prefetch in safe
            // code); the pipeline then finds them cached instead of waiting one by one
            // (measured: ~14 -> 17-19 Mpps on memory ports). The same pass counts the bytes.
            let (mut touch, mut bytes) = (0u8, 0u64);
            for b in &self.rx {
                touch ^= b.first_byte();
                bytes += b.len() as u64;
            }
            std::hint::black_box(touch);
            let pc = &self.counters.ports[p];
            bump(&pc.rx_packets, n as u64);
            bump(&pc.rx_bytes, bytes);
            {
                // Tables are held for one burst only (see `fib::shared`).
                let f4 = self.fib4.load();
                let f6 = self.fib6.load();
                let mut spare = || pool.get();
                let mut io = Io {
                    spare: &mut spare,
                    out: &mut self.extra,
                    free: &mut self.freed,
                };
                self.pipeline.process_io(
                    &f4,
                    &f6,
                    now_ns,
                    p as u16,
                    &mut self.rx,
                    &mut self.verdicts[..n],
                    Some(&mut io),
                );
            }
            for b in self.freed.drain(..) {
                pool.put(b);
            }
            for (port, b) in self.extra.drain(..) {
                match self.txq.get_mut(usize::from(port)) {
                    Some(q) => q.push(b),
                    None => pool.put(b),
                }
            }
            for (b, v) in self.rx.drain(..).zip(&self.verdicts[..n]) {
                match v
                    .egress()
                    .and_then(|port| self.txq.get_mut(usize::from(port)))
                {
                    Some(q) => q.push(b),
                    None => pool.put(b),
                }
            }
            self.flush_tx(pool);
        }
        if total > 0 {
            self.publish();
        }
        total
    }

    /// Sends every port's queue. What a full ring refuses stays queued, in order, up to
    /// [`TX_HOLD`] frames per port (sent ahead of new frames next round); the newest beyond
    /// that are dropped.
    fn flush_tx(&mut self, pool: &mut PoolCache) {
        for ((q, held), (port, pc)) in self
            .txq
            .iter_mut()
            .zip(&mut self.held)
            .zip(self.ports.iter_mut().zip(&self.counters.ports))
        {
            if q.is_empty() {
                continue;
            }
            let bytes: u64 = q.iter().map(|b| b.len() as u64).sum();
            let sent = port.tx_burst(q);
            // Frames left over (ring full) are rare; only then are their bytes taken back out.
            let left: u64 = if q.is_empty() {
                0
            } else {
                q.iter().map(|b| b.len() as u64).sum()
            };
            bump(&pc.tx_packets, sent as u64);
            bump(&pc.tx_bytes, bytes - left);
            if q.len() > TX_HOLD {
                bump(&pc.tx_dropped, (q.len() - TX_HOLD) as u64);
                for b in q.drain(TX_HOLD..) {
                    pool.put(b);
                }
            }
            // Held before and still waiting: the first `held - sent`; the rest wait anew.
            let still = held.saturating_sub(sent).min(q.len());
            bump(&pc.tx_held, (q.len() - still) as u64);
            *held = q.len();
        }
    }

    /// Drops what still waits for a full ring (the worker is stopping), counted as dropped.
    fn drop_held(&mut self, pool: &mut PoolCache) {
        for ((q, held), pc) in self
            .txq
            .iter_mut()
            .zip(&mut self.held)
            .zip(&self.counters.ports)
        {
            bump(&pc.tx_dropped, q.len() as u64);
            for b in q.drain(..) {
                pool.put(b);
            }
            *held = 0;
        }
    }

    fn publish(&self) {
        let s = &self.pipeline.stats;
        let c = &self.counters;
        c.frames_in.store(s.frames_in, Relaxed);
        c.forwarded.store(s.forwarded, Relaxed);
        c.answered.store(s.answered, Relaxed);
        c.icmp_errors.store(s.icmp_errors, Relaxed);
        c.held.store(s.held, Relaxed);
        c.released.store(s.released, Relaxed);
        c.hold_dropped
            .store(self.pipeline.neighbours.stats.hold_dropped, Relaxed);
        c.fragmented.store(s.fragmented, Relaxed);
        c.fragments.store(s.fragments, Relaxed);
        for (d, &v) in c.drops.iter().zip(&s.drops) {
            d.store(v, Relaxed);
        }
    }
}

/// A worker's own counters.
#[derive(Debug, Default)]
pub struct WorkerCounters {
    /// Poll rounds that received something / nothing.
    pub busy_polls: AtomicU64,
    pub idle_polls: AtomicU64,
    pub packets: AtomicU64,
    /// Time spent in rounds that received something (for ns per packet).
    pub busy_ns: AtomicU64,
    pub sleeps: AtomicU64,
    /// CPU time the worker thread used (user + system), set when it stops.
    pub cpu_ns: AtomicU64,
    /// Time the thread was runnable but waiting for a core, set when it stops (0 if unknown).
    pub wait_ns: AtomicU64,
    pub wall_ns: AtomicU64,
    /// Set once the worker is pinned to its core (stays false if pinning was asked and failed).
    pub pinned: AtomicBool,
}

/// A polling loop over some routers.
pub struct Worker {
    pub routers: Vec<VirtualRouter>,
    pub mode: PollMode,
    /// Core to pin to.
    pub core: Option<usize>,
    /// Sleep between light polls in adaptive mode.
    pub sleep: Duration,
    pub counters: Arc<WorkerCounters>,
    stop: Arc<AtomicBool>,
    pool: Pool,
}

impl Worker {
    pub fn new(
        routers: Vec<VirtualRouter>,
        mode: PollMode,
        core: Option<usize>,
        pool: &Pool,
        stop: Arc<AtomicBool>,
    ) -> Result<Self, String> {
        if mode == PollMode::Interrupt && !routers.iter().all(|r| r.can_wait()) {
            return Err("interrupt polling needs ports with file descriptors (afpacket, afxdp); memory and dpdk ports support busy and adaptive".into());
        }
        Ok(Worker {
            routers,
            mode,
            core,
            sleep: ADAPTIVE_SLEEP,
            counters: Arc::new(WorkerCounters::default()),
            stop,
            pool: pool.clone(),
        })
    }

    /// Runs until the stop flag is set; returns the routers (for final stats).
    pub fn run(mut self) -> Vec<VirtualRouter> {
        if let Some(c) = self.core {
            // `core_affinity` only accepts cores in the thread's current mask, which a thread
            // inherits from its parent: callers must not have narrowed theirs.
            let ok = core_affinity::set_for_current(core_affinity::CoreId { id: c });
            self.counters.pinned.store(ok, Relaxed);
        }
        let sched0 = thread_sched();
        let mut cache = self.pool.cache();
        let t0 = Instant::now();
        let c = Arc::clone(&self.counters);
        let mut idle = 0u32;
        let capacity = self.routers.iter().map(|r| r.rx_capacity()).sum();
        let mut backoff = Backoff::new(self.sleep, capacity);
        // One clock read per round: it dates the round for the pipeline (ICMP rate limiting) and
        // closes the previous round's busy time.
        let mut last: Option<u64> = None;
        let mut drops_at = 0u64;
        while !self.stop.load(Relaxed) {
            let start = t0.elapsed().as_nanos() as u64;
            if start >= drops_at {
                drops_at = start + 10_000_000;
                for r in &mut self.routers {
                    r.collect_rx_drops();
                }
            }
            if let Some(prev) = last.take() {
                bump(&c.busy_ns, start - prev);
            }
            let mut got = 0;
            for r in &mut self.routers {
                got += r.poll(&mut cache, start);
            }
            if got > 0 {
                idle = 0;
                last = Some(start);
                bump(&c.busy_polls, 1);
                bump(&c.packets, got as u64);
                if self.mode == PollMode::Adaptive {
                    backoff.record(got);
                    if got < HEAVY_BURST {
                        if let Some(d) = backoff.next(start) {
                            bump(&c.sleeps, 1);
                            // Close the busy time before sleeping, not after.
                            if let Some(prev) = last.take() {
                                bump(&c.busy_ns, t0.elapsed().as_nanos() as u64 - prev);
                            }
                            std::thread::sleep(d);
                        }
                    }
                }
                continue;
            }
            bump(&c.idle_polls, 1);
            idle = idle.saturating_add(1);
            if self.mode == PollMode::Interrupt {
                // Nothing pending on any port: block until one has frames (10 ms at most, to
                // see the stop flag; 1 ms while frames wait for a full transmit ring).
                bump(&c.sleeps, 1);
                let holding = self.routers.iter().any(|r| r.holding());
                VirtualRouter::wait(&self.routers, if holding { 1 } else { 10 });
            } else if self.mode == PollMode::Busy || idle < SPIN_POLLS {
                std::hint::spin_loop();
            } else if let Some(d) = backoff.idle(start) {
                bump(&c.sleeps, 1);
                std::thread::sleep(d);
            } else {
                std::hint::spin_loop();
            }
        }
        for r in &mut self.routers {
            r.flush_tx(&mut cache);
            r.drop_held(&mut cache);
            r.collect_rx_drops();
        }
        c.wall_ns.store(t0.elapsed().as_nanos() as u64, Relaxed);
        if let (Some(a), Some(b)) = (sched0, thread_sched()) {
            c.cpu_ns.store(b.0.saturating_sub(a.0), Relaxed);
            if let (Some(wa), Some(wb)) = (a.1, b.1) {
                c.wait_ns.store(wb.saturating_sub(wa), Relaxed);
            }
        }
        self.routers
    }

    /// Runs on a new thread.
    pub fn spawn(self) -> std::thread::JoinHandle<Vec<VirtualRouter>> {
        std::thread::Builder::new()
            .name("vrouter-worker".into())
            .spawn(move || self.run())
            .unwrap_or_else(|e| panic!("cannot start a worker thread: {e}"))
    }
}

/// CPU time of the calling thread in nanoseconds.
pub fn thread_cpu_ns() -> Option<u64> {
    thread_sched().map(|(cpu, _)| cpu)
}

/// The calling thread's CPU time and its time spent runnable but waiting for a core (run-queue
/// wait: the starvation the paper saw when routers outnumber cores), both in nanoseconds, from
/// `/proc/thread-self/schedstat`. Falls back to `/proc/thread-self/stat` (10 ms ticks, no wait
/// time) on kernels without scheduler statistics.
pub fn thread_sched() -> Option<(u64, Option<u64>)> {
    if let Ok(s) = std::fs::read_to_string("/proc/thread-self/schedstat") {
        let mut f = s.split_whitespace().map(|x| x.parse::<u64>().ok());
        if let (Some(Some(run)), Some(Some(wait))) = (f.next(), f.next()) {
            if run > 0 {
                return Some((run, Some(wait)));
            }
        }
    }
    let s = std::fs::read_to_string("/proc/thread-self/stat").ok()?;
    let rest = &s[s.rfind(')')? + 2..];
    let f: Vec<&str> = rest.split_whitespace().collect();
    let ticks = f.get(11)?.parse::<u64>().ok()? + f.get(12)?.parse::<u64>().ok()?;
    Some((ticks * 10_000_000, None))
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Feeds `rate` frames/s for 5 ms of simulated time in polls every 10 µs, with 1024-frame
    /// rings; returns the sleep chosen at the end.
    fn settle(rate: f64) -> Option<Duration> {
        let mut b = Backoff::new(Duration::from_micros(100), 1024);
        let mut last = None;
        for step in 1..=500u64 {
            let now = step * 10_000;
            b.record((rate * 10e-6).round() as usize);
            last = b.next(now);
        }
        last
    }

    #[test]
    fn adaptive_sleep_follows_the_arrival_rate() {
        // Nothing measured yet: keep polling.
        assert_eq!(Backoff::new(Duration::from_micros(100), 1024).next(0), None);
        // Idle and 130 kp/s: the maximum sleep (64 frames take 492 µs at 130 kp/s).
        assert_eq!(settle(0.0), Some(Duration::from_micros(100)));
        assert_eq!(settle(100_000.0), Some(Duration::from_micros(100)));
        // 800 kp/s: 64 frames arrive in 80 µs; 800k * 580 µs = 464 frames fit half a ring.
        let d = settle(800_000.0).unwrap();
        assert!((79..=81).contains(&d.as_micros()), "{d:?}");
        // 1 Mp/s: a late wake-up could overflow the ring, so no sleeping at all.
        assert_eq!(settle(1_000_000.0), None);
        assert_eq!(settle(10_000_000.0), None);
        // An idle worker sleeps the maximum once it has measured the quiet.
        let mut b = Backoff::new(Duration::from_micros(100), 1024);
        assert_eq!(b.idle(0), None);
        assert_eq!(b.idle(2_000_000), Some(Duration::from_micros(100)));
    }
}
