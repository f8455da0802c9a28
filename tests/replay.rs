//! `vrouter replay` end to end: a capture in, counts and a capture of what the router sent out,
//! read back by our reader and by tcpdump (installed by scripts/setup; a missing tcpdump fails
//! under CI and is reported elsewhere).

use std::net::Ipv4Addr;
use std::process::Command;

use dataplane::pcap::{self, Record};
use dataplane::wire::{arp, checksum, ethernet, ipv4};

fn frame(dst: Ipv4Addr, ttl: u8, proto: u8, payload: &[u8]) -> Vec<u8> {
    testkit::ipv4_frame(
        [2, 0, 0, 0, 0, 1],
        [2, 0, 0, 0, 0, 9],
        Ipv4Addr::new(198, 18, 0, 2),
        dst,
        proto,
        ttl,
        payload,
    )
}

#[test]
fn replay_counts_every_frame_once_and_writes_what_it_sends() {
    let dir = std::env::temp_dir().join(format!("vrouter-replay-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let udp = [0x30, 0x39, 0, 53, 0, 12, 0, 0, 1, 2, 3, 4];
    let mut ping = vec![8, 0, 0, 0, 0, 1, 0, 1];
    let c = checksum::of(&ping);
    ping[2..4].copy_from_slice(&c.to_be_bytes());
    let mut bad = frame(Ipv4Addr::new(8, 8, 8, 8), 64, 17, &udp);
    bad[24] ^= 0x55;
    let mut arp_req = vec![0u8; 60];
    ethernet::write_header(
        &mut arp_req,
        ethernet::BROADCAST,
        [2, 0, 0, 0, 0, 9],
        ethernet::TYPE_ARP,
    );
    arp::write(
        &mut arp_req[14..],
        1,
        [2, 0, 0, 0, 0, 9],
        Ipv4Addr::new(198, 18, 0, 2),
        [0; 6],
        Ipv4Addr::new(198, 18, 0, 1),
    );
    let mut frames = Vec::new();
    for i in 0..40u8 {
        frames.push(frame(Ipv4Addr::new(8, 8, 8, i), 64, 17, &udp)); // forwarded (8.8.8.0/24)
    }
    frames.push(frame(Ipv4Addr::new(8, 8, 8, 8), 1, 17, &udp)); // time exceeded
    frames.push(frame(Ipv4Addr::new(198, 18, 0, 1), 64, 1, &ping)); // answered
    frames.push(arp_req); // answered
    frames.push(bad); // bad checksum
    frames.push(vec![1, 2, 3]); // too short
    let records: Vec<Record> = frames
        .iter()
        .enumerate()
        .map(|(i, f)| Record {
            ts_ns: 1_000_000_000 + i as u64 * 1000,
            interface: 0,
            data: f.clone(),
        })
        .collect();
    let input = dir.join("in.pcap");
    std::fs::write(&input, pcap::write_pcap(&records)).unwrap();
    let output = dir.join("out.pcapng");
    let out = Command::new(env!("CARGO_BIN_EXE_vrouter"))
        .args([
            "replay",
            input.to_str().unwrap(),
            "-o",
            output.to_str().unwrap(),
            "--json",
        ])
        .current_dir(env!("CARGO_MANIFEST_DIR"))
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let v: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(v["frames_in"], 45);
    assert_eq!(v["forwarded"], 40);
    assert_eq!(v["answered"], 2);
    assert_eq!(v["dropped"]["ttl-expired"], 1);
    assert_eq!(v["dropped"]["bad-checksum"], 1);
    assert_eq!(v["dropped"]["too-short"], 1);
    assert_eq!(v["icmp_errors"], 1);
    let sent = pcap::read(&std::fs::read(&output).unwrap()).unwrap();
    assert_eq!(sent.len(), 43);
    assert_eq!(sent.iter().filter(|r| r.interface == 1).count(), 40);
    for r in sent.iter().filter(|r| r.interface == 1) {
        assert_eq!(
            &r.data[0..6],
            &[2, 0, 0, 0, 0, 3],
            "to the default neighbour"
        );
        let ip = ipv4::Packet::new_checked(&r.data[14..]).unwrap();
        assert_eq!(ip.ttl(), 63);
        assert!(ip.checksum_ok());
    }
    // An independent reader agrees (tcpdump is part of the test set-up).
    match Command::new("tcpdump")
        .args(["-n", "-r", output.to_str().unwrap()])
        .output()
    {
        Ok(td) => {
            assert!(
                td.status.success(),
                "tcpdump: {}",
                String::from_utf8_lossy(&td.stderr)
            );
            let text = String::from_utf8_lossy(&td.stdout);
            assert_eq!(text.lines().count(), 43, "{text}");
            assert!(text.contains("ICMP time exceeded in-transit"), "{text}");
            assert!(text.contains("ICMP echo reply"), "{text}");
            assert!(
                text.contains("ARP, Reply 198.18.0.1 is-at 02:00:00:00:00:01"),
                "{text}"
            );
        }
        Err(e) => testkit::unavailable(&format!(
            "tcpdump cross-check: tcpdump cannot run ({e}); scripts/setup installs it"
        )),
    }
    let bad = Command::new(env!("CARGO_BIN_EXE_vrouter"))
        .args(["replay", "Cargo.toml"])
        .current_dir(env!("CARGO_MANIFEST_DIR"))
        .output()
        .unwrap();
    assert!(!bad.status.success());
    assert!(String::from_utf8_lossy(&bad.stderr)
        .contains("Cargo.toml: byte offset 0: not a pcap or pcapng file"));
    std::fs::remove_dir_all(&dir).unwrap();
}

#[test]
fn replay_with_a_config_uses_its_router() {
    let dir = std::env::temp_dir().join(format!("vrouter-replay-cfg-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let cfg = dir.join("vr.toml");
    std::fs::write(
        &cfg,
        r#"
[[router]]
name = "edge"
nexthops = 2
[[router.port]]
backend = "memory"
link = "x"
mac = "02:00:00:00:0a:01"
addresses = ["198.18.0.1/24"]
[[router.port]]
backend = "memory"
link = "x"
mac = "02:00:00:00:0a:02"
addresses = ["198.18.1.1/24"]
[[router.neighbour]]
nexthop = 0
port = 1
mac = "02:00:00:00:0a:99"
[[router.neighbour]]
nexthop = 1
port = 1
gateway = "198.18.1.7"
"#,
    )
    .unwrap();
    let table = dir.join("routes.txt");
    std::fs::write(
        &table,
        "# vrouter routes: PREFIX<TAB>NEXTHOP\n8.8.8.0/24\t0\n9.9.9.0/24\t1\n",
    )
    .unwrap();
    let udp = [0x30, 0x39, 0, 53, 0, 12, 0, 0, 1, 2, 3, 4];
    let mut f8 = frame(Ipv4Addr::new(8, 8, 8, 8), 64, 17, &udp);
    let mut f9 = frame(Ipv4Addr::new(9, 9, 9, 9), 64, 17, &udp);
    for f in [&mut f8, &mut f9] {
        f[0..6].copy_from_slice(&[2, 0, 0, 0, 0x0a, 1]);
    }
    let recs = vec![
        Record {
            ts_ns: 1,
            interface: 0,
            data: f8,
        },
        Record {
            ts_ns: 2,
            interface: 0,
            data: f9,
        },
    ];
    let input = dir.join("in.pcap");
    std::fs::write(&input, pcap::write_pcap(&recs)).unwrap();
    let output = dir.join("out.pcapng");
    let out = Command::new(env!("CARGO_BIN_EXE_vrouter"))
        .args([
            "replay",
            input.to_str().unwrap(),
            "--config",
            cfg.to_str().unwrap(),
            "--table",
            table.to_str().unwrap(),
        ])
        .args(["-o", output.to_str().unwrap(), "--json"])
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let v: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(
        (v["forwarded"].as_u64(), v["held"].as_u64()),
        (Some(1), Some(1))
    );
    let sent = pcap::read(&std::fs::read(&output).unwrap()).unwrap();
    assert_eq!(
        sent.len(),
        2,
        "the forwarded frame and an ARP request for 198.18.1.7"
    );
    assert_eq!(
        &sent[0].data[0..6],
        &[2, 0, 0, 0, 0x0a, 0x99],
        "static neighbour from the config"
    );
    let a = arp::Packet::new_checked(&sent[1].data[14..]).unwrap();
    assert_eq!(a.target_ip(), Ipv4Addr::new(198, 18, 1, 7));
    std::fs::remove_dir_all(&dir).unwrap();
}
