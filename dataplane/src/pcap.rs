//! Capture files: reading classic pcap and pcapng (Ethernet link type), and writing pcapng with
//! one interface per router port, so a capture of what a router sent keeps its egress ports.
//! Malformed files give an error with the byte offset and what is wrong; nothing panics.

use std::fmt;

/// One captured frame.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Record {
    /// Nanoseconds since the epoch.
    pub ts_ns: u64,
    /// Interface (pcapng) or 0 (classic pcap).
    pub interface: u32,
    pub data: Vec<u8>,
}

/// A capture that could not be read.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Error {
    pub offset: usize,
    pub what: String,
}

impl fmt::Display for Error {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "byte offset {}: {}", self.offset, self.what)
    }
}

impl std::error::Error for Error {}

fn err<T>(offset: usize, what: impl Into<String>) -> Result<T, Error> {
    Err(Error {
        offset,
        what: what.into(),
    })
}

const LINKTYPE_ETHERNET: u32 = 1;
const SHB: u32 = 0x0a0d_0d0a;
const IDB: u32 = 1;
const SPB: u32 = 3;
const EPB: u32 = 6;
const BYTE_ORDER_MAGIC: u32 = 0x1a2b_3c4d;

/// Reads a classic pcap or pcapng capture of Ethernet frames.
pub fn read(data: &[u8]) -> Result<Vec<Record>, Error> {
    if data.len() < 4 {
        return err(0, "not a capture: shorter than a magic number");
    }
    let magic = u32::from_le_bytes([data[0], data[1], data[2], data[3]]);
    match magic {
        0xa1b2_c3d4 | 0xa1b2_3c4d => read_pcap(data, false),
        0xd4c3_b2a1 | 0x4d3c_b2a1 => read_pcap(data, true),
        SHB => read_pcapng(data),
        m => err(0, format!("not a pcap or pcapng file (magic {m:#010x})")),
    }
}

struct Cur<'a> {
    data: &'a [u8],
    pos: usize,
    swap: bool,
}

impl Cur<'_> {
    fn u32(&mut self, what: &str) -> Result<u32, Error> {
        let Some(b) = self.data.get(self.pos..self.pos + 4) else {
            return err(self.pos, format!("truncated: {what} needs 4 bytes"));
        };
        self.pos += 4;
        let v = u32::from_le_bytes([b[0], b[1], b[2], b[3]]);
        Ok(if self.swap { v.swap_bytes() } else { v })
    }
    fn u16(&mut self, what: &str) -> Result<u16, Error> {
        let Some(b) = self.data.get(self.pos..self.pos + 2) else {
            return err(self.pos, format!("truncated: {what} needs 2 bytes"));
        };
        self.pos += 2;
        let v = u16::from_le_bytes([b[0], b[1]]);
        Ok(if self.swap { v.swap_bytes() } else { v })
    }
    fn bytes(&mut self, n: usize, what: &str) -> Result<&[u8], Error> {
        let Some(b) = self
            .pos
            .checked_add(n)
            .and_then(|end| self.data.get(self.pos..end))
        else {
            return err(
                self.pos,
                format!(
                    "truncated: {what} needs {n} bytes, {} left",
                    self.data.len() - self.pos
                ),
            );
        };
        self.pos += n;
        Ok(b)
    }
}

fn read_pcap(data: &[u8], swap: bool) -> Result<Vec<Record>, Error> {
    let mut c = Cur { data, pos: 0, swap };
    let magic = c.u32("magic")?;
    let nanos = magic == 0xa1b2_3c4d;
    c.bytes(16, "file header")?;
    let link = c.u32("link type")?;
    if link & 0xffff != LINKTYPE_ETHERNET {
        return err(20, format!("link type {link} is not Ethernet (1)"));
    }
    let mut out = Vec::new();
    while c.pos < data.len() {
        let at = c.pos;
        let sec = u64::from(c.u32("record seconds")?);
        let frac = u64::from(c.u32("record fraction")?);
        let caplen = c.u32("captured length")? as usize;
        c.u32("original length")?;
        if caplen > 262_144 {
            return err(at, format!("captured length {caplen} is implausible"));
        }
        let frame = c.bytes(caplen, "frame")?;
        out.push(Record {
            ts_ns: sec * 1_000_000_000 + if nanos { frac } else { frac * 1000 },
            interface: 0,
            data: frame.to_vec(),
        });
    }
    Ok(out)
}

fn read_pcapng(data: &[u8]) -> Result<Vec<Record>, Error> {
    let mut out = Vec::new();
    let mut pos = 0;
    let mut swap = false;
    // Per interface: link type and nanoseconds per timestamp unit.
    let mut ifaces: Vec<(u16, u64)> = Vec::new();
    while pos < data.len() {
        let mut c = Cur { data, pos, swap };
        let kind = c.u32("block type")?;
        if kind == SHB {
            let mut probe = Cur {
                data,
                pos: pos + 8,
                swap: false,
            };
            let bom = probe.u32("byte-order magic")?;
            swap = match bom {
                BYTE_ORDER_MAGIC => false,
                m if m.swap_bytes() == BYTE_ORDER_MAGIC => true,
                m => return err(pos + 8, format!("bad byte-order magic {m:#010x}")),
            };
            c.swap = swap;
            ifaces.clear();
        }
        let len = c.u32("block length")? as usize;
        if len < 12 || !len.is_multiple_of(4) || pos.checked_add(len).is_none_or(|e| e > data.len())
        {
            return err(
                pos,
                format!("block length {len} is invalid or runs past the end"),
            );
        }
        let body = &data[pos + 8..pos + len - 4];
        let mut b = Cur {
            data: body,
            pos: 0,
            swap,
        };
        let fix = |e: Error| Error {
            offset: e.offset + pos + 8,
            what: e.what,
        };
        match kind {
            IDB => {
                let link = b.u16("link type").map_err(fix)?;
                b.u16("reserved").map_err(fix)?;
                b.u32("snap length").map_err(fix)?;
                let mut unit = 1000u64; // default resolution: microseconds
                while b.pos + 4 <= body.len() {
                    let code = b.u16("option code").map_err(fix)?;
                    let olen = usize::from(b.u16("option length").map_err(fix)?);
                    let val = b.bytes(olen.div_ceil(4) * 4, "option value").map_err(fix)?;
                    if code == 9 && olen == 1 {
                        let r = val[0];
                        unit = if r & 0x80 == 0 {
                            1_000_000_000 / 10u64.pow(u32::from(r.min(9)))
                        } else {
                            1
                        };
                        unit = unit.max(1);
                    }
                    if code == 0 {
                        break;
                    }
                }
                ifaces.push((link, unit));
            }
            EPB => {
                let iface = b.u32("interface id").map_err(fix)?;
                let hi = u64::from(b.u32("timestamp").map_err(fix)?);
                let lo = u64::from(b.u32("timestamp").map_err(fix)?);
                let caplen = b.u32("captured length").map_err(fix)? as usize;
                b.u32("original length").map_err(fix)?;
                let frame = b.bytes(caplen, "packet data").map_err(fix)?;
                let Some(&(link, unit)) = ifaces.get(iface as usize) else {
                    return err(pos, format!("packet on undeclared interface {iface}"));
                };
                if u32::from(link) != LINKTYPE_ETHERNET {
                    return err(
                        pos,
                        format!("interface {iface} link type {link} is not Ethernet (1)"),
                    );
                }
                out.push(Record {
                    ts_ns: (hi << 32 | lo).saturating_mul(unit),
                    interface: iface,
                    data: frame.to_vec(),
                });
            }
            SPB => {
                let orig = b.u32("original length").map_err(fix)? as usize;
                let frame = &body[4..(4 + orig).min(body.len())];
                out.push(Record {
                    ts_ns: 0,
                    interface: 0,
                    data: frame.to_vec(),
                });
            }
            _ => {}
        }
        pos += len;
    }
    Ok(out)
}

/// Writes pcapng: one Ethernet interface per port (named `port0`, `port1`, ...), nanosecond
/// timestamps.
pub struct Writer {
    buf: Vec<u8>,
    ports: u32,
}

impl Writer {
    pub fn new(ports: u32) -> Self {
        let mut w = Writer {
            buf: Vec::new(),
            ports,
        };
        let shb_body: Vec<u8> = [
            &BYTE_ORDER_MAGIC.to_le_bytes()[..],
            &1u16.to_le_bytes(),
            &0u16.to_le_bytes(),
            &u64::MAX.to_le_bytes(),
        ]
        .concat();
        w.block(SHB, &shb_body);
        for p in 0..ports {
            let name = format!("port{p}");
            let mut body = Vec::new();
            body.extend_from_slice(&(LINKTYPE_ETHERNET as u16).to_le_bytes());
            body.extend_from_slice(&0u16.to_le_bytes());
            body.extend_from_slice(&0u32.to_le_bytes());
            option(&mut body, 2, name.as_bytes()); // if_name
            option(&mut body, 9, &[9]); // if_tsresol: nanoseconds
            option(&mut body, 0, &[]);
            w.block(IDB, &body);
        }
        w
    }

    /// Appends a frame sent on `port` at `ts_ns`.
    pub fn packet(&mut self, port: u32, ts_ns: u64, frame: &[u8]) {
        let port = port.min(self.ports.saturating_sub(1));
        let mut body = Vec::with_capacity(20 + frame.len() + 3);
        body.extend_from_slice(&port.to_le_bytes());
        body.extend_from_slice(&((ts_ns >> 32) as u32).to_le_bytes());
        body.extend_from_slice(&(ts_ns as u32).to_le_bytes());
        body.extend_from_slice(&(frame.len() as u32).to_le_bytes());
        body.extend_from_slice(&(frame.len() as u32).to_le_bytes());
        body.extend_from_slice(frame);
        body.resize(body.len().div_ceil(4) * 4, 0);
        self.block(EPB, &body);
    }

    pub fn into_bytes(self) -> Vec<u8> {
        self.buf
    }

    fn block(&mut self, kind: u32, body: &[u8]) {
        let len = (12 + body.len()) as u32;
        self.buf.extend_from_slice(&kind.to_le_bytes());
        self.buf.extend_from_slice(&len.to_le_bytes());
        self.buf.extend_from_slice(body);
        self.buf.extend_from_slice(&len.to_le_bytes());
    }
}

fn option(body: &mut Vec<u8>, code: u16, value: &[u8]) {
    body.extend_from_slice(&code.to_le_bytes());
    body.extend_from_slice(&(value.len() as u16).to_le_bytes());
    body.extend_from_slice(value);
    body.resize(body.len().div_ceil(4) * 4, 0);
}

/// Writes a classic pcap (microsecond timestamps) — for tools that want the old format.
pub fn write_pcap(records: &[Record]) -> Vec<u8> {
    let mut out = Vec::new();
    out.extend_from_slice(&0xa1b2_c3d4u32.to_le_bytes());
    out.extend_from_slice(&2u16.to_le_bytes());
    out.extend_from_slice(&4u16.to_le_bytes());
    out.extend_from_slice(&[0; 8]);
    out.extend_from_slice(&65535u32.to_le_bytes());
    out.extend_from_slice(&LINKTYPE_ETHERNET.to_le_bytes());
    for r in records {
        out.extend_from_slice(&((r.ts_ns / 1_000_000_000) as u32).to_le_bytes());
        out.extend_from_slice(&((r.ts_ns % 1_000_000_000 / 1000) as u32).to_le_bytes());
        out.extend_from_slice(&(r.data.len() as u32).to_le_bytes());
        out.extend_from_slice(&(r.data.len() as u32).to_le_bytes());
        out.extend_from_slice(&r.data);
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn recs() -> Vec<Record> {
        vec![
            Record {
                ts_ns: 1_700_000_000_123_456_000,
                interface: 0,
                data: vec![1; 60],
            },
            Record {
                ts_ns: 1_700_000_001_000_001_000,
                interface: 0,
                data: vec![2; 61],
            },
        ]
    }

    #[test]
    fn pcap_round_trip_and_truncation() {
        let bytes = write_pcap(&recs());
        assert_eq!(read(&bytes).unwrap(), recs());
        for cut in 1..bytes.len() {
            if cut == 24 || cut == 24 + 16 + 60 {
                continue; // whole header or whole records: valid
            }
            let e = read(&bytes[..cut]).unwrap_err();
            assert!(
                e.offset <= cut && e.what.contains("truncated") || e.what.contains("magic"),
                "{cut}: {e}"
            );
        }
    }

    #[test]
    fn pcapng_round_trip_keeps_ports() {
        let mut w = Writer::new(2);
        w.packet(1, 5_000_000_007, &[9; 61]);
        w.packet(0, 6_000_000_000, &[8; 60]);
        let bytes = w.into_bytes();
        let r = read(&bytes).unwrap();
        assert_eq!(r.len(), 2);
        assert_eq!(
            (r[0].interface, r[0].ts_ns, r[0].data.len()),
            (1, 5_000_000_007, 61)
        );
        assert_eq!((r[1].interface, r[1].data[0]), (0, 8));
        for cut in 1..bytes.len() {
            let _ = read(&bytes[..cut]); // never panics
        }
        assert!(read(b"hello world")
            .unwrap_err()
            .what
            .contains("not a pcap"));
    }
}
