//! The generator and sink of every test bed: lanes (one generator-to-sink path through one
//! router), the frames they send (fixed sizes or IMIX, stamped), and the one loop that paces
//! every lane, stamps frames, receives them back and ends the trial. The loop runs on its own
//! thread and core, outside the routers, as the paper's external generator and sink did.
//!
//! A lane's result counts every frame it offered as received or lost, none twice; rates are on
//! the generator's and the sink's own clock.
//!
//! Longer than 700 lines with its tests: the sender, the lane, the shared link and the loop
//! agree on one account of every frame (offered, refused, lagging, received, lost), which reads
//! best in one place.

use std::time::{Duration, Instant};

use anyhow::{anyhow, Result};
use dataplane::pipeline::PacketBuf;
use dataplane::pool::{Pool, PoolCache};
use dataplane::port::Port;

use super::traffic::{self, FrameSpec, LatencySummary, Pacer, Sink, Stamp, STAMP_LEN};

/// Frames per generator burst.
const BURST: usize = 32;
/// Most bytes of a test frame the generator writes: Ethernet + IPv6 + UDP headers and the
/// stamp (IPv4 frames use the first 58).
const HEAD: usize = 14 + 40 + 8 + STAMP_LEN;

/// The size of the frames a generator sends: one size, or the simple IMIX.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum FrameSize {
    /// Bytes without FCS (60 = a 64-byte frame on the wire, 1514 = a 1518-byte one).
    Fixed(usize),
    /// Simple IMIX: 64-, 594- and 1518-byte frames (FCS included) in the ratio 7:4:1, mixed
    /// within every 12 frames ([`IMIX_CYCLE`]).
    Imix,
}

/// The simple IMIX as a generator cycles through it, sizes without FCS: 7 × 60, 4 × 590 and
/// 1 × 1514 bytes (64, 594 and 1518 on the wire; 576- and 1500-byte IP packets).
pub const IMIX_CYCLE: [usize; 12] = [60, 590, 60, 60, 590, 60, 60, 1514, 60, 590, 60, 590];

impl FrameSize {
    /// Size without FCS of the `i`-th frame.
    pub fn at(self, i: usize) -> usize {
        match self {
            FrameSize::Fixed(n) => n,
            FrameSize::Imix => IMIX_CYCLE[i % IMIX_CYCLE.len()],
        }
    }
}

/// `64`..`1518` (bytes on the wire, FCS included) or `imix`.
impl std::str::FromStr for FrameSize {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, String> {
        if s.eq_ignore_ascii_case("imix") {
            return Ok(FrameSize::Imix);
        }
        match s.parse::<usize>() {
            Ok(n) if (64..=1518).contains(&n) => Ok(FrameSize::Fixed(n - 4)),
            _ => Err(format!(
                "`{s}` is not a frame size: 64..=1518 (bytes, FCS included) or imix"
            )),
        }
    }
}

/// In JSON: the size on the wire (`64`), or `"imix"`.
impl serde::Serialize for FrameSize {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        match self {
            FrameSize::Fixed(n) => s.serialize_u64((n + 4) as u64),
            FrameSize::Imix => s.serialize_str("imix"),
        }
    }
}

/// `64-byte`, or `IMIX`: what plot titles and tables say.
impl std::fmt::Display for FrameSize {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            FrameSize::Fixed(n) => write!(f, "{}-byte", n + 4),
            FrameSize::Imix => write!(f, "IMIX"),
        }
    }
}

/// The offered load of one trial.
#[derive(Clone, Copy, Debug)]
pub struct Load {
    /// Frames per second offered to each router; `None`: as fast as each router's input ring
    /// takes them (the generator never outruns a router, like a sender with back-pressure).
    pub rate_per_router: Option<f64>,
    /// Frame sizes (`Fixed(60)`: 64-byte frames; `Fixed(1514)`: 1472-byte UDP payloads).
    pub frame: FrameSize,
    pub seconds: f64,
    /// A shared egress link every router's output crosses before the sink (bits/s on the
    /// wire, preamble, inter-frame gap and FCS counted): the one NIC the paper's guests
    /// shared. `None`: each router has its own unlimited link.
    pub link_bps: Option<f64>,
}

/// Bytes a frame of `len` bytes (without FCS) occupies on an Ethernet wire: FCS (4), preamble
/// and start delimiter (8), inter-frame gap (12).
pub fn wire_bytes(len: usize) -> usize {
    len + 24
}

/// A shared egress link (a NIC): frames leave one at a time at its rate in arrival order, after
/// waiting in a queue of at most [`LINK_QUEUE_FRAMES`] full-size frames' time; a frame that
/// would wait longer is dropped (tail drop), as a NIC's full transmit ring drops.
#[derive(Clone, Copy, Debug)]
pub struct SharedLink {
    bps: f64,
    /// When the link is free again (run clock, ns).
    busy_until: u64,
    queue_ns: u64,
}

/// The shared link's queue, in full-size (1518-byte) frames.
pub const LINK_QUEUE_FRAMES: u64 = 1000;

impl SharedLink {
    pub fn new(bps: f64) -> Self {
        let queue_ns =
            (LINK_QUEUE_FRAMES as f64 * wire_bytes(1514) as f64 * 8.0 * 1e9 / bps) as u64;
        SharedLink {
            bps,
            busy_until: 0,
            queue_ns,
        }
    }

    /// A frame of `len` bytes arriving at `now_ns`: when it has left the link, or `None` if
    /// the queue is full.
    pub fn admit(&mut self, now_ns: u64, len: usize) -> Option<u64> {
        let start = self.busy_until.max(now_ns);
        if start - now_ns > self.queue_ns {
            return None;
        }
        let wire_ns = (wire_bytes(len) as f64 * 8.0 * 1e9 / self.bps) as u64;
        self.busy_until = start + wire_ns;
        Some(self.busy_until)
    }
}

/// What one router did in a trial, measured at the generator and the sink.
#[derive(Clone, Debug, Default)]
pub struct RouterResult {
    /// Frames the generator produced for this router.
    pub offered: u64,
    /// Distinct frames the sink received.
    pub received: u64,
    /// Bytes of all frames the sink received.
    pub bytes: u64,
    pub lost: u64,
    pub duplicates: u64,
    pub reordered: u64,
    /// Frames of earlier trials that arrived during this one (not counted as received).
    pub late: u64,
    /// Frames the shared link dropped (its queue was full).
    pub link_drops: u64,
    /// Paced frames the router's input ring refused (lost at its ingress).
    pub refused: u64,
    /// How far the generator fell behind its schedule at worst, in frames ([`Sender::max_lag`]).
    pub gen_lag: u64,
    /// Offered rate achieved by the generator (frames/s over the trial).
    pub offered_pps: f64,
    /// Forwarding rate: distinct frames the sink received over the trial's sending window (the
    /// frames that arrive in the drain after it count, the drain's time does not). It cannot
    /// exceed the offered rate, whatever a router does to the timing of the first frames.
    pub forwarded_pps: f64,
    /// Frames/s between the first and the last arrival on the sink's clock (a router that
    /// holds the first frames back shortens this span: reported, not used for rates).
    pub arrival_pps: f64,
    /// Nanoseconds between the first and the last arrival.
    pub arrival_span_ns: u64,
    pub latency: Option<LatencySummary>,
    /// CPU used for this router, as a fraction of one core (a shared worker's time is split
    /// evenly between its routers).
    pub cpu: f64,
    /// Time its worker was runnable but waiting for a core, as a fraction of the trial.
    pub run_queue_wait: f64,
}

impl RouterResult {
    pub fn loss(&self) -> f64 {
        if self.offered == 0 {
            0.0
        } else {
            self.lost as f64 / self.offered as f64
        }
    }
}

/// Cores for the generator/sink thread and for router workers: the generator takes core 0
/// and routers the others, when there are at least two.
pub fn cores() -> (Option<usize>, Vec<usize>) {
    let n = std::thread::available_parallelism().map_or(1, |n| n.get());
    if n > 1 {
        (Some(0), (1..n).collect())
    } else {
        (None, Vec::new())
    }
}

/// The sending half of a lane, and all of `vrouter gen`: paces (or fills the ring when
/// unpaced), builds stamped frames from the headers in turn, and sends them in bursts.
pub struct Sender {
    pub tx: Box<dyn Port>,
    heads: Vec<Head>,
    next: usize,
    pacer: Option<Pacer>,
    /// Frames built and handed to the port so far (their stamps carry `offered` as sequence).
    pub offered: u64,
    /// Paced frames the port refused (its ring was full): lost at the router's input.
    pub refused: u64,
    /// The most frames that were due at once when a round began (paced): how far the
    /// generator fell behind its schedule, and so the largest burst it sent to catch up. A lag
    /// near the router's ring size means the generator stalled, not the router.
    pub max_lag: u64,
    out: Vec<PacketBuf>,
    /// Paced frames gathered per transmit (1 on memory ports; kernel ports cost a system call
    /// per transmit).
    pub batch: usize,
    /// Longest a paced sender waits to gather its batch.
    pub batch_wait_ns: u64,
    last_tx_ns: u64,
    /// Flow id in the stamps.
    pub flow: u16,
    /// Frames to offer at most.
    pub limit: u64,
}

impl Sender {
    pub fn new(tx: Box<dyn Port>, heads: Vec<Head>) -> Self {
        Sender {
            tx,
            heads,
            next: 0,
            pacer: None,
            offered: 0,
            refused: 0,
            max_lag: 0,
            out: Vec::with_capacity(BURST),
            batch: 1,
            batch_wait_ns: BATCH_WAIT_NS,
            last_tx_ns: 0,
            flow: 0,
            limit: u64::MAX,
        }
    }

    /// Ready for a new run at `rate` (frames/s; `None`: as fast as the port takes them).
    pub fn reset(&mut self, rate: Option<f64>) {
        self.next = 0;
        self.pacer = rate.map(Pacer::new);
        self.offered = 0;
        self.refused = 0;
        self.max_lag = 0;
        self.last_tx_ns = 0;
    }

    /// Whether the sender has offered all it may.
    pub fn done(&self) -> bool {
        self.offered >= self.limit
    }

    /// One round at `now_ns` (on the run's clock): builds the frames that are due, stamped
    /// with `stamp_ns()` (read only when frames are built), and sends them. Paced, frames the
    /// port refuses are lost (as on a NIC whose RX ring overflows); unpaced, they are retried
    /// next round (their stamp a little old, as with any sender that waits for room).
    /// Returns the frames the port took.
    pub fn round(
        &mut self,
        now_ns: u64,
        stamp_ns: impl FnOnce() -> u64,
        cache: &mut PoolCache,
    ) -> usize {
        let left = self.limit - self.offered;
        let want = match self.pacer.as_mut() {
            Some(p) => {
                let due = p.due(now_ns).min(left);
                self.max_lag = self.max_lag.max(due);
                if due == 0
                    || (due < self.batch as u64 && now_ns - self.last_tx_ns < self.batch_wait_ns)
                {
                    0
                } else {
                    self.last_tx_ns = now_ns;
                    due.min((BURST - self.out.len()) as u64) as usize
                }
            }
            None => (BURST - self.out.len()).min(left.min(BURST as u64) as usize),
        };
        if want > 0 {
            let stamp_ns = stamp_ns();
            for _ in 0..want {
                let Some(mut b) = cache.get() else { break };
                let n = self.heads.len();
                let h = &mut self.heads[self.next];
                self.next = (self.next + 1) % n;
                let bytes = &mut h.bytes[..usize::from(h.used)];
                traffic::stamp(
                    bytes,
                    Stamp {
                        flow: self.flow,
                        seq: self.offered as u32,
                        sent_ns: stamp_ns,
                    },
                );
                self.offered += 1;
                if h.zero_tail {
                    b.set_head_zeroed(bytes, usize::from(h.len));
                } else {
                    b.set_head(bytes, usize::from(h.len));
                }
                self.out.push(b);
            }
        }
        if let Some(p) = self.pacer.as_mut() {
            p.sent(want as u64);
        }
        if self.out.is_empty() {
            return 0;
        }
        let sent = self.tx.tx_burst(&mut self.out);
        if self.pacer.is_some() {
            self.refused += self.out.len() as u64;
            for b in self.out.drain(..) {
                cache.put(b);
            }
        }
        sent
    }

    /// How long from `now_ns` until this sender has frames to build or send: `None` when it
    /// is unpaced, has frames waiting for room, or has not started (it always has work).
    pub fn idle_ns(&self, now_ns: u64) -> Option<u64> {
        if self.done() {
            return Some(u64::MAX);
        }
        if !self.out.is_empty() {
            return None;
        }
        let p = self.pacer.as_ref()?;
        let first = p.due_at(1)?;
        let batch = p.due_at(self.batch as u64)?;
        // A batch is sent when it is full, or when its first frame has waited long enough.
        let at = batch.min(first.max(self.last_tx_ns + self.batch_wait_ns));
        Some(at.saturating_sub(now_ns))
    }

    /// Ends a run: frames still waiting for room (unpaced) were never offered.
    pub fn finish(&mut self, cache: &mut PoolCache) {
        self.offered -= self.out.len() as u64;
        for b in self.out.drain(..) {
            cache.put(b);
        }
    }
}

/// One generator-to-sink path through one router: the sender, the port the sink receives on,
/// and the sink's accounts.
pub struct Lane {
    pub sender: Sender,
    pub rx: Box<dyn Port>,
    sink: Sink,
    /// Frames the shared link dropped this trial.
    link_drops: u64,
}

/// Longest a paced lane waits to gather its batch.
const BATCH_WAIT_NS: u64 = 200_000;

/// A frame's headers with stamp space, and its length without FCS.
#[derive(Clone, Copy, Debug)]
pub struct Head {
    bytes: [u8; HEAD],
    /// Bytes of `bytes` in use: 58 (IPv4) or 78 (IPv6).
    used: u8,
    /// Frame length without FCS.
    pub len: u16,
    /// The rest of the frame must be zero (its UDP checksum covers it: IPv6).
    zero_tail: bool,
}

impl Head {
    /// The headers and stamp space (what the generator writes of each frame).
    pub fn bytes(&self) -> &[u8] {
        &self.bytes[..usize::from(self.used)]
    }
}

/// Frame headers from `spec` (its size is ignored) to each destination, the `i`-th sized
/// `frame.at(i)` (IPv6 frames at least [`traffic::MIN_FRAME_V6`]). For IMIX the list is cut
/// to whole cycles, so that a generator walking it sends the exact mix.
pub fn heads(spec: &FrameSpec, dests: &[std::net::IpAddr], frame: FrameSize) -> Vec<Head> {
    let n = match frame {
        FrameSize::Imix if dests.len() >= IMIX_CYCLE.len() => {
            dests.len() - dests.len() % IMIX_CYCLE.len()
        }
        _ => dests.len(),
    };
    dests[..n]
        .iter()
        .enumerate()
        .map(|(i, &d)| {
            let size = frame.at(i).clamp(traffic::MIN_FRAME, traffic::MAX_FRAME);
            let spec = FrameSpec {
                size,
                ..spec.clone()
            };
            let t = spec.template(d);
            let used = traffic::head_len(&t);
            let mut bytes = [0u8; HEAD];
            bytes[..used].copy_from_slice(&t[..used]);
            Head {
                bytes,
                used: used as u8,
                len: t.len() as u16,
                zero_tail: traffic::is_v6(&t),
            }
        })
        .collect()
}

impl Lane {
    pub fn new(tx: Box<dyn Port>, rx: Box<dyn Port>, heads: Vec<Head>) -> Self {
        Lane {
            sender: Sender::new(tx, heads),
            rx,
            sink: Sink::new(),
            link_drops: 0,
        }
    }

    /// Replaces the frame headers (for another frame size).
    pub fn set_heads(&mut self, heads: Vec<Head>) {
        self.sender.heads = heads;
        self.sender.next = 0;
    }

    /// The lane ready for a new trial at `rate` (frames/s; `None`: as fast as it goes).
    /// Each trial stamps its frames with a flow id of its own, so that frames of an earlier
    /// trial still queued in a router (a guest's rings hold a second of traffic) are counted
    /// as late, not as this trial's.
    pub(super) fn reset(&mut self, rate: Option<f64>) {
        self.sender.reset(rate);
        self.sender.flow = self.sender.flow.wrapping_add(1);
        self.sink = Sink::expecting(self.sender.flow);
        self.link_drops = 0;
    }

    /// Receives what has arrived, on the run's clock, through `link` if the lanes share one
    /// (a frame then reaches the sink when it has left the link); returns the frames received.
    fn drain(
        &mut self,
        start: Instant,
        rx: &mut Vec<PacketBuf>,
        cache: &mut PoolCache,
        mut link: Option<&mut SharedLink>,
    ) -> usize {
        let mut got = 0;
        loop {
            rx.clear();
            let n = self.rx.rx_burst(rx, 64);
            if n == 0 {
                return got;
            }
            got += n;
            let now = start.elapsed().as_nanos() as u64;
            for b in rx.drain(..) {
                match link.as_deref_mut() {
                    None => {
                        self.sink.record(b.bytes(), now);
                    }
                    Some(l) => match l.admit(now, b.len()) {
                        Some(left) => {
                            self.sink.record(b.bytes(), left);
                        }
                        None => self.link_drops += 1,
                    },
                }
                cache.put(b);
            }
        }
    }

    pub(super) fn result(&self, secs: f64) -> RouterResult {
        let rep = self.sink.report();
        let offered = self.sender.offered;
        RouterResult {
            offered,
            received: rep.received,
            bytes: rep.bytes,
            lost: offered.saturating_sub(rep.received),
            duplicates: rep.duplicates,
            reordered: rep.reordered,
            late: rep.late,
            link_drops: self.link_drops,
            refused: self.sender.refused,
            gen_lag: self.sender.max_lag,
            offered_pps: offered as f64 / secs,
            forwarded_pps: rep.received as f64 / secs,
            arrival_pps: rep.rate_pps,
            arrival_span_ns: rep.span_ns,
            latency: rep.latency_ns,
            cpu: f64::NAN,
            run_queue_wait: f64::NAN,
        }
    }
}

/// Runs one trial of `seconds` over `lanes` on a thread of its own (pinned to the generator's
/// core): paces, stamps, sends and receives, then drains. Returns the lanes (for the next
/// trial), the sending window in seconds and the CPU time the thread used (ns).
pub fn run_lanes(
    lanes: Vec<Lane>,
    pool: &Pool,
    seconds: f64,
    link_bps: Option<f64>,
) -> Result<(Vec<Lane>, f64, u64)> {
    let (core, _) = cores();
    let pool = pool.clone();
    let h = std::thread::Builder::new()
        .name("vrouter-gen".into())
        .spawn(move || {
            let c0 = dataplane::worker::thread_cpu_ns().unwrap_or(0);
            let (lanes, secs) = generate(lanes, pool, core, seconds, link_bps.map(SharedLink::new));
            let c1 = dataplane::worker::thread_cpu_ns().unwrap_or(0);
            (lanes, secs, c1.saturating_sub(c0))
        })
        .map_err(|e| anyhow!("cannot start the generator thread: {e}"))?;
    h.join().map_err(|_| anyhow!("the generator thread failed"))
}

/// A trial through routers that run elsewhere (other processes, the kernel): only the
/// generator and sink run here. Returns each lane's result, the lanes (for the next trial)
/// and the CPU the generator/sink thread used (ns).
pub fn external_trial(
    mut lanes: Vec<Lane>,
    pool: &Pool,
    load: &Load,
) -> Result<(Vec<RouterResult>, Vec<Lane>, u64)> {
    for l in lanes.iter_mut() {
        l.reset(load.rate_per_router);
    }
    let (lanes, secs, cpu) = run_lanes(lanes, pool, load.seconds, load.link_bps)?;
    let rs = lanes.iter().map(|l| l.result(secs)).collect();
    Ok((rs, lanes, cpu))
}

/// Shortest idle time worth a sleep: below it the loop polls (sleeps here overshoot by
/// 60-100 µs).
const SLEEP_MIN_NS: u64 = 100_000;
/// Longest sleep: arrivals are timestamped when the loop drains them, so this bounds what a
/// sleep adds to measured latency.
const SLEEP_MAX_NS: u64 = 200_000;

/// The generator and sink loop: one clock read per round dates the stamps, paces every lane
/// and ends the trial; then drains what is in flight. When every lane is paced and none has
/// work for a while (low rates: the lab and guest beds), it sleeps instead of spinning, so
/// that it leaves the host's cores to the routers under test (a spinning generator took ~90%
/// of a core at 20 kp/s, which TCG guests on the same two cores needed).
fn generate(
    mut lanes: Vec<Lane>,
    pool: Pool,
    core: Option<usize>,
    seconds: f64,
    mut link: Option<SharedLink>,
) -> (Vec<Lane>, f64) {
    if let Some(c) = core {
        core_affinity::set_for_current(core_affinity::CoreId { id: c });
    }
    let mut cache = pool.cache();
    let mut rx = Vec::with_capacity(64);
    let start = Instant::now();
    let end_ns = (seconds * 1e9) as u64;
    loop {
        let now = start.elapsed().as_nanos() as u64;
        if now >= end_ns {
            break;
        }
        let mut work = 0;
        for l in lanes.iter_mut() {
            work += l.sender.round(now, || now, &mut cache);
            work += l.drain(start, &mut rx, &mut cache, link.as_mut());
        }
        if work == 0 {
            let idle = lanes
                .iter()
                .map(|l| l.sender.idle_ns(now))
                .try_fold(u64::MAX, |m, i| i.map(|i| m.min(i)));
            if let Some(idle) = idle {
                let idle = idle.min(end_ns.saturating_sub(now));
                if idle >= SLEEP_MIN_NS {
                    std::thread::sleep(Duration::from_nanos(
                        (idle - SLEEP_MIN_NS / 2).min(SLEEP_MAX_NS),
                    ));
                }
            }
        }
    }
    let secs = start.elapsed().as_secs_f64().min(seconds.max(1e-9));
    for l in lanes.iter_mut() {
        l.sender.finish(&mut cache);
    }
    // Drain until every router has been quiet for 10 ms (at most 500 ms).
    let until = Instant::now() + Duration::from_millis(500);
    let mut quiet_since = Instant::now();
    while Instant::now() < until && quiet_since.elapsed() < Duration::from_millis(10) {
        let mut got = 0;
        for l in lanes.iter_mut() {
            got += l.drain(start, &mut rx, &mut cache, link.as_mut());
        }
        if got > 0 {
            quiet_since = Instant::now();
        } else {
            std::thread::yield_now();
        }
    }
    (lanes, secs)
}

#[cfg(test)]
mod tests {
    use super::*;
    use dataplane::wire::ethernet::Mac;

    fn spec() -> FrameSpec {
        FrameSpec {
            src_mac: Mac([2, 0, 0, 0, 0, 9]),
            dst_mac: Mac([2, 0, 0, 0, 0, 1]),
            src_ip: std::net::Ipv4Addr::new(198, 18, 0, 2),
            src_ip6: "2001:2::2".parse().unwrap(),
            size: 60,
        }
    }

    #[test]
    fn a_shared_gigabit_link_carries_957_mbps_of_udp_payload_and_drops_past_its_queue() {
        let mut l = SharedLink::new(1e9);
        // 1514-byte frames (1472-byte payloads) offered at twice the link's rate for 1 s.
        let gap = (1538.0 * 8.0 / 2.0) as u64; // ns between arrivals at 2 Gb/s
        let (mut sent, mut last) = (0u64, 0u64);
        for i in 0..162_548u64 {
            if let Some(left) = l.admit(i * gap, 1514) {
                sent += 1;
                last = left;
            }
        }
        let secs = last as f64 / 1e9;
        let payload_mbps = sent as f64 * 1472.0 * 8.0 / secs / 1e6;
        assert!((956.0..958.5).contains(&payload_mbps), "{payload_mbps}");
        // About half the frames find the queue full.
        assert!((81_000..82_500).contains(&sent), "{sent}");
        assert_eq!(wire_bytes(1514), 1538);
        assert_eq!(wire_bytes(60), 84);
    }

    #[test]
    fn a_generator_that_falls_behind_records_its_lag() {
        let spec = spec();
        let dests = [std::net::IpAddr::from([240, 0, 0, 1])];
        let (tx, _rx) = dataplane::port::memory::link("lag", 1 << 16);
        let pool = Pool::new(1 << 17);
        let mut cache = pool.cache();
        let mut s = Sender::new(Box::new(tx), heads(&spec, &dests, FrameSize::Fixed(60)));
        s.reset(Some(1e6));
        // On time: one frame due at the start, then 10 per 10 µs.
        let mut now = 0;
        while now <= 1_000_000 {
            s.round(now, || now, &mut cache);
            now += 10_000;
        }
        assert!(s.max_lag <= 32, "{}", s.max_lag);
        // A 5-ms stall: 5,000 frames are due at once, and sent in bursts of 32.
        s.round(6_000_000, || 6_000_000, &mut cache);
        assert!((4_990..=5_010).contains(&s.max_lag), "{}", s.max_lag);
        s.reset(Some(1e6));
        assert_eq!(s.max_lag, 0, "reset for the next trial");
    }

    #[test]
    fn frame_sizes_parse_and_print() {
        assert_eq!("64".parse::<FrameSize>(), Ok(FrameSize::Fixed(60)));
        assert_eq!("1518".parse::<FrameSize>(), Ok(FrameSize::Fixed(1514)));
        assert_eq!("IMIX".parse::<FrameSize>(), Ok(FrameSize::Imix));
        for bad in ["63", "1519", "", "jumbo"] {
            let e = bad.parse::<FrameSize>().unwrap_err();
            assert!(e.contains("64..=1518") && e.contains("imix"), "{e}");
        }
        assert_eq!(FrameSize::Fixed(60).to_string(), "64-byte");
        assert_eq!(
            serde_json::json!(FrameSize::Imix),
            serde_json::json!("imix")
        );
        assert_eq!(
            serde_json::json!(FrameSize::Fixed(1514)),
            serde_json::json!(1518)
        );
    }

    #[test]
    fn imix_heads_carry_the_7_4_1_mix_with_consistent_lengths() {
        let spec = spec();
        let dests: Vec<std::net::IpAddr> = (0..1000u32)
            .map(|i| std::net::Ipv4Addr::from(0xf000_0000 | i).into())
            .collect();
        let hs = heads(&spec, &dests, FrameSize::Imix);
        assert_eq!(hs.len(), 996, "whole cycles only");
        let count = |n: u16| hs.iter().filter(|h| h.len == n).count();
        assert_eq!((count(60), count(590), count(1514)), (581, 332, 83));
        for head in &hs {
            let (h, len) = (head.bytes(), usize::from(head.len));
            let ip_total = usize::from(u16::from_be_bytes([h[16], h[17]]));
            let udp_len = usize::from(u16::from_be_bytes([h[38], h[39]]));
            assert_eq!(ip_total, len - 14);
            assert_eq!(udp_len, len - 34);
        }
    }
}
