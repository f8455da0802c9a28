//! Random and mutated frames thrown at the pipeline: no panic, exactly one verdict per frame,
//! counters that add up; and frames to 10k destinations of the real table forwarded correctly.

use std::net::Ipv4Addr;

use dataplane::pipeline::{PacketBuf, Verdict};
use dataplane::wire::{ethernet, ipv4};
use fib::source::{load, LoadOptions};
use fib::Lpm;
use proptest::prelude::*;
use rand::{Rng, SeedableRng};
use rand_xoshiro::Xoshiro256PlusPlus;

fn seeds() -> Vec<Vec<u8>> {
    let mut udp = vec![0u8; 14 + 20 + 12];
    ethernet::write_header(
        &mut udp,
        [2, 0, 0, 0, 0, 1],
        [2, 0, 0, 0, 0, 9],
        ethernet::TYPE_IPV4,
    );
    ipv4::write_header(
        &mut udp[14..],
        Ipv4Addr::new(198, 18, 0, 2),
        Ipv4Addr::new(8, 8, 8, 8),
        17,
        2,
        12,
    );
    let mut ping = udp.clone();
    ping[14 + 9] = 1;
    ping[14 + 16..14 + 20].copy_from_slice(&[198, 18, 0, 1]);
    ping[34] = 8;
    let mut arp = vec![0u8; 42];
    ethernet::write_header(
        &mut arp,
        ethernet::BROADCAST,
        [2, 0, 0, 0, 0, 9],
        ethernet::TYPE_ARP,
    );
    dataplane::wire::arp::write(
        &mut arp[14..],
        1,
        [2, 0, 0, 0, 0, 9],
        Ipv4Addr::new(198, 18, 0, 2),
        [0; 6],
        Ipv4Addr::new(198, 18, 0, 1),
    );
    let mut v6 = vec![0u8; 14 + 40 + 24];
    ethernet::write_header(
        &mut v6,
        [2, 0, 0, 0, 0, 1],
        [2, 0, 0, 0, 0, 9],
        ethernet::TYPE_IPV6,
    );
    dataplane::wire::ipv6::write_header(
        &mut v6[14..],
        "2001:2::2".parse().unwrap(),
        "2001:2::1".parse().unwrap(),
        58,
        255,
        24,
    );
    v6[54] = 135;
    v6[62..78].copy_from_slice(&"2001:2::1".parse::<std::net::Ipv6Addr>().unwrap().octets());
    vec![udp, ping, arp, v6]
}

fn check(frames: Vec<Vec<u8>>) -> Result<(), TestCaseError> {
    let f4 = Lpm::<u32>::from_routes(vec![(0, 0, 0), (0x0808_0800, 24, 0)]).unwrap();
    let f6 = Lpm::<u128>::from_routes(vec![(0, 0, 0)]).unwrap();
    let mut p = testkit::default_router(1);
    let mut bufs: Vec<PacketBuf> = frames
        .iter()
        .filter_map(|f| PacketBuf::from_bytes(f))
        .collect();
    let n = bufs.len();
    let mut v = vec![Verdict::Forward { port: 99 }; n];
    p.process(&f4, &f6, 7, 0, &mut bufs, &mut v);
    let s = &p.stats;
    prop_assert_eq!(s.frames_in, n as u64);
    prop_assert_eq!(s.accounted(), n as u64);
    for (verdict, b) in v.iter().zip(&bufs) {
        match *verdict {
            Verdict::Forward { port } | Verdict::Answer { port } => {
                prop_assert!(port < 2 && !b.is_empty())
            }
            Verdict::Drop {
                icmp: Some(port), ..
            } => prop_assert!(port < 2 && b.len() >= 14 + 20 + 8),
            Verdict::Drop { icmp: None, .. } => {}
            Verdict::Held { .. } | Verdict::Consumed => {}
        }
    }
    Ok(())
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(512))]

    #[test]
    fn random_frames(frames in prop::collection::vec(prop::collection::vec(any::<u8>(), 0..200), 1..70)) {
        check(frames)?;
    }

    #[test]
    fn mutated_frames(muts in prop::collection::vec((0usize..4, 0usize..80, any::<u8>(), 0usize..90), 1..70)) {
        let s = seeds();
        let frames = muts.into_iter().map(|(which, at, byte, cut)| {
            let mut f = s[which].clone();
            if at < f.len() { f[at] = byte; }
            f.truncate(cut.max(1));
            f
        }).collect();
        check(frames)?;
    }
}

#[test]
fn real_table_10k_destinations_forwarded_correctly() {
    let path = concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/../data/routeviews-2014-05-13.ipv4.ipasn.gz"
    );
    let set = load(path.as_ref(), &LoadOptions::default(), &mut |_, _| {}).unwrap();
    let (f4, f6) = set.tables(16).unwrap();
    let entries = set.v4_entries(16);
    let mut p = testkit::default_router(16);
    // Next hops alternate between two neighbours on port 1, so MACs prove the lookup.
    for id in 0..16u32 {
        p.neighbours.set(
            id,
            dataplane::neighbour::Neighbour {
                port: 1,
                mac: [2, 0, 0, 0, 1, id as u8].into(),
            },
        );
    }
    let mut rng = Xoshiro256PlusPlus::seed_from_u64(3);
    let mut checked = 0;
    for _ in 0..(10_000 / 32 + 1) {
        let mut frames = Vec::new();
        let mut want = Vec::new();
        for _ in 0..32 {
            let (k, l, _) = entries[rng.gen_range(0..entries.len())];
            let dst = Ipv4Addr::from(testkit::within(&mut rng, k, l));
            let mut f = vec![0u8; 64];
            ethernet::write_header(
                &mut f,
                [2, 0, 0, 0, 0, 1],
                [2, 0, 0, 0, 0, 9],
                ethernet::TYPE_IPV4,
            );
            ipv4::write_header(&mut f[14..], Ipv4Addr::new(198, 18, 0, 2), dst, 17, 64, 30);
            frames.push(PacketBuf::from_bytes(&f).unwrap());
            want.push(f4.lookup(u32::from(dst)));
        }
        let mut v = vec![Verdict::Forward { port: 9 }; 32];
        p.process(&f4, &f6, 0, 0, &mut frames, &mut v);
        for ((verdict, b), nh) in v.iter().zip(&frames).zip(want) {
            let Some(nh) = nh else {
                assert!(matches!(verdict, Verdict::Drop { .. }));
                continue;
            };
            assert_eq!(*verdict, Verdict::Forward { port: 1 });
            let f = b.bytes();
            assert_eq!(&f[0..6], &[2, 0, 0, 0, 1, nh as u8]);
            assert_eq!(&f[6..12], &[2, 0, 0, 0, 0, 2]);
            let ip = ipv4::Packet::new_checked(&f[14..]).unwrap();
            assert_eq!(ip.ttl(), 63);
            assert!(ip.checksum_ok());
            checked += 1;
        }
    }
    assert!(checked >= 10_000, "{checked}");
}
