//! The AF_PACKET port on a veth pair inside a network namespace made for the test: frames of
//! every size cross in order and intact, across many ring blocks; an idle port blocks in
//! `interrupt` waits and wakes when a frame comes.
//!
//! Needs root (namespaces, raw sockets) and `ip`. Without them the test says why, and fails
//! under CI (`CI` set) instead of passing silently. The namespace is deleted by a guard.

use std::process::Command;
use std::time::{Duration, Instant};

use dataplane::pipeline::PacketBuf;
use dataplane::pool::Pool;
use dataplane::port::afpacket::{AfPacket, AfPacketConfig};
use dataplane::port::Port;

struct Netns(String);

impl Drop for Netns {
    fn drop(&mut self) {
        let _ = Command::new("ip").args(["netns", "del", &self.0]).status();
    }
}

fn ip(args: &[&str]) {
    let o = Command::new("ip").args(args).output().expect("ip runs");
    assert!(
        o.status.success(),
        "ip {args:?}: {}",
        String::from_utf8_lossy(&o.stderr)
    );
}

fn can_run() -> bool {
    testkit::require(
        "the AF_PACKET tests",
        true,
        &["ip"],
        "iproute2; run as root",
    )
}

/// A test frame: broadcast Ethernet header, a private ethertype, `len` bytes, numbered `i`.
fn frame(i: u32, len: usize) -> Vec<u8> {
    let mut f = vec![0u8; len];
    f[0..6].copy_from_slice(&[0xff; 6]);
    f[6..12].copy_from_slice(&[2, 0, 0, 0, 0, 9]);
    f[12..14].copy_from_slice(&0x88b5u16.to_be_bytes()); // IEEE local experimental
    f[14..18].copy_from_slice(&i.to_be_bytes());
    for (k, b) in f[18..].iter_mut().enumerate() {
        *b = (i as usize + k) as u8;
    }
    f
}

#[test]
fn frames_cross_a_veth_pair_whole_and_in_order() {
    if !can_run() {
        return;
    }
    let name = format!("vrl-afp{}", std::process::id() % 100_000);
    let _ = Command::new("ip").args(["netns", "del", &name]).status();
    ip(&["netns", "add", &name]);
    let _guard = Netns(name.clone());
    // The namespace's kernel must send nothing of its own on the pair (IPv6 router
    // solicitations, MLD reports): the idle wait below expects silence.
    for knob in ["all", "default"] {
        ip(&[
            "netns",
            "exec",
            &name,
            "sysctl",
            "-qw",
            &format!("net.ipv6.conf.{knob}.disable_ipv6=1"),
        ]);
    }
    ip(&[
        "-n", &name, "link", "add", "name", "pa", "type", "veth", "peer", "name", "pb",
    ]);
    for dev in ["pa", "pb"] {
        ip(&["-n", &name, "link", "set", dev, "up"]);
    }
    // Sockets are made inside the namespace by a thread that joins it.
    let ns_path = format!("/run/netns/{name}");
    let t = std::thread::spawn(move || {
        let f = std::fs::File::open(&ns_path).unwrap();
        nix::sched::setns(f, nix::sched::CloneFlags::CLONE_NEWNET).unwrap();
        let pool = Pool::new(4096);
        let mut cfg = AfPacketConfig::new("pa");
        cfg.rx_blocks = 8; // small ring: many block hand-overs
        cfg.block_size = 1 << 14;
        let mut a = AfPacket::open(&cfg, &pool).unwrap();
        cfg.iface = "pb".into();
        let mut b = AfPacket::open(&cfg, &pool).unwrap();
        assert!(b.fd().is_some());
        let mut cache = pool.cache();
        // Drain what the kernel sends on link-up (IPv6 router solicitations and the like).
        std::thread::sleep(Duration::from_millis(200));
        let mut rx: Vec<PacketBuf> = Vec::new();
        while b.rx_burst(&mut rx, 64) > 0 {}
        rx.clear();

        let sizes = [60usize, 61, 64, 128, 511, 1000, 1514];
        let total = 20_000u32;
        let mut sent = 0u32;
        let mut got: Vec<PacketBuf> = Vec::new();
        let mut checked = 0u32;
        let deadline = Instant::now() + Duration::from_secs(20);
        while checked < total && Instant::now() < deadline {
            let mut burst = Vec::new();
            while burst.len() < 32 && sent + (burst.len() as u32) < total {
                let i = sent + burst.len() as u32;
                let mut p = cache.get().unwrap();
                assert!(p.set(&frame(i, sizes[i as usize % sizes.len()])));
                burst.push(p);
            }
            let n = a.tx_burst(&mut burst);
            sent += n as u32;
            for p in burst.drain(..) {
                cache.put(p); // did not fit: retried with the same numbers next round
            }
            b.rx_burst(&mut got, 256);
            for p in got.drain(..) {
                let i = checked;
                assert_eq!(
                    p.bytes(),
                    &frame(i, sizes[i as usize % sizes.len()])[..],
                    "frame {i}"
                );
                checked += 1;
                cache.put(p);
            }
        }
        assert_eq!(checked, total, "all frames arrive");
        assert_eq!(b.ring_drops(), 0);

        // Interrupt waits: an idle port blocks; a frame wakes it well before the timeout.
        use nix::poll::{poll, PollFd, PollFlags};
        let t0 = Instant::now();
        {
            let mut fds = [PollFd::new(b.fd().unwrap(), PollFlags::POLLIN)];
            assert_eq!(poll(&mut fds, 100u16).unwrap(), 0, "nothing to read");
        }
        assert!(t0.elapsed() >= Duration::from_millis(90));
        let mut one = vec![cache.get().unwrap()];
        one[0].set(&frame(7, 60));
        assert_eq!(a.tx_burst(&mut one), 1);
        let t1 = Instant::now();
        {
            let mut fds = [PollFd::new(b.fd().unwrap(), PollFlags::POLLIN)];
            assert_eq!(poll(&mut fds, 2000u16).unwrap(), 1);
        }
        assert!(
            t1.elapsed() < Duration::from_millis(500),
            "{:?}",
            t1.elapsed()
        );
        assert_eq!(b.rx_burst(&mut got, 8), 1);
        assert_eq!(got[0].bytes(), &frame(7, 60)[..]);
    });
    t.join().expect("the AF_PACKET test thread");
}
