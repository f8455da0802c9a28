//! The marker datagrams and the network task's data datagrams.
//!
//! A marker is `VRHB1 ` followed by one JSON object (human-readable in a capture, easy to
//! extend); anything else arriving at the timer is ignored, except data datagrams, which start
//! with `VRHD` and carry the run, round and sequence number in binary, padded to 1472 bytes
//! (the paper's payload: a 1500-byte IP packet).

use serde::{Deserialize, Serialize};

use super::{Sizes, Task};

/// What starts every marker.
pub const MAGIC: &[u8] = b"VRHB1 ";
/// What starts every data datagram.
pub const DATA_MAGIC: &[u8; 4] = b"VRHD";
/// UDP payload of the network task: a 1500-byte IPv4 packet.
pub const PAYLOAD: usize = 1472;

/// A marker, from the platform under test to the timer.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(tag = "marker", rename_all = "kebab-case")]
pub enum Marker {
    /// A run begins: what it will do.
    Hello {
        run: u64,
        platform: String,
        tasks: Vec<Task>,
        rounds: u32,
        sizes: Sizes,
    },
    /// A round of a task starts now.
    Start { run: u64, task: Task, round: u32 },
    /// The round ended now. `guest_ns` is the platform's own measure of the round (its
    /// monotonic clock from just before the start marker to just before this one); `ok` is
    /// whether the round's result checked out; `echoed` the network task's datagrams that came
    /// back.
    End {
        run: u64,
        task: Task,
        round: u32,
        guest_ns: u64,
        ok: bool,
        detail: String,
        #[serde(default)]
        echoed: u64,
    },
    /// The run is over; `failed` rounds did not check out.
    Done { run: u64, failed: u32 },
}

impl Marker {
    pub fn run(&self) -> u64 {
        match self {
            Marker::Hello { run, .. }
            | Marker::Start { run, .. }
            | Marker::End { run, .. }
            | Marker::Done { run, .. } => *run,
        }
    }

    pub fn encode(&self) -> Vec<u8> {
        let mut v = MAGIC.to_vec();
        // A marker is plain data: serialising it cannot fail.
        v.extend_from_slice(&serde_json::to_vec(self).unwrap_or_default());
        v
    }

    /// `None` for a datagram that is not a marker (or not a well-formed one).
    pub fn decode(b: &[u8]) -> Option<Marker> {
        serde_json::from_slice(b.strip_prefix(MAGIC)?).ok()
    }
}

/// A data datagram of the network task: 1472 bytes.
pub fn data(run: u64, round: u32, seq: u32) -> [u8; PAYLOAD] {
    let mut b = [0u8; PAYLOAD];
    b[..4].copy_from_slice(DATA_MAGIC);
    b[4..12].copy_from_slice(&run.to_le_bytes());
    b[12..16].copy_from_slice(&round.to_le_bytes());
    b[16..20].copy_from_slice(&seq.to_le_bytes());
    for (i, x) in b[20..].iter_mut().enumerate() {
        *x = (i as u8).wrapping_mul(31) ^ (seq as u8);
    }
    b
}

/// `(run, round, seq)` of a data datagram.
pub fn parse_data(b: &[u8]) -> Option<(u64, u32, u32)> {
    if b.len() != PAYLOAD || &b[..4] != DATA_MAGIC {
        return None;
    }
    let run = u64::from_le_bytes(b[4..12].try_into().ok()?);
    let round = u32::from_le_bytes(b[12..16].try_into().ok()?);
    let seq = u32::from_le_bytes(b[16..20].try_into().ok()?);
    Some((run, round, seq))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn markers_round_trip_and_strangers_are_ignored() {
        let ms = [
            Marker::Hello {
                run: 7,
                platform: "native".into(),
                tasks: vec![Task::Cpu, Task::Net],
                rounds: 3,
                sizes: Sizes::quick(),
            },
            Marker::Start {
                run: 7,
                task: Task::Cpu,
                round: 1,
            },
            Marker::End {
                run: 7,
                task: Task::Net,
                round: 2,
                guest_ns: 123,
                ok: true,
                detail: "x".into(),
                echoed: 9,
            },
            Marker::Done { run: 7, failed: 0 },
        ];
        for m in ms {
            assert_eq!(Marker::decode(&m.encode()), Some(m.clone()));
            assert_eq!(m.run(), 7);
        }
        assert_eq!(Marker::decode(b"VRHB1 {not json"), None);
        assert_eq!(
            Marker::decode(b"{\"marker\":\"done\",\"run\":1,\"failed\":0}"),
            None
        );
        let d = data(5, 2, 77);
        assert_eq!(parse_data(&d), Some((5, 2, 77)));
        assert_eq!(parse_data(&d[..100]), None);
        assert_eq!(Marker::decode(&d), None);
    }
}
