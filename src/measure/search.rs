//! The RFC 2544 throughput search (§26.1) over any test bed's trials.

use anyhow::Result;

use super::generator::RouterResult;

/// RFC 2544 throughput search: the highest per-router rate whose loss is at most `tolerance`
/// (a fraction). `trial(None)` runs unpaced, `trial(Some(rate))` paced; the search starts from
/// the slowest router's unpaced rate and bisects `steps` times. Returns (rate, loss at it).
pub fn search(
    trial: &mut dyn FnMut(Option<f64>) -> Result<Vec<RouterResult>>,
    steps: usize,
    tolerance: f64,
) -> Result<(f64, f64)> {
    let loss = |rs: &[RouterResult]| {
        let offered: u64 = rs.iter().map(|r| r.offered).sum();
        let lost: u64 = rs.iter().map(|r| r.lost).sum();
        lost as f64 / offered.max(1) as f64
    };
    let top = trial(None)?;
    let hi = top
        .iter()
        .map(|r| r.forwarded_pps)
        .fold(f64::INFINITY, f64::min);
    if !(hi.is_finite() && hi > 0.0) {
        return Ok((0.0, 1.0));
    }
    let first = loss(&trial(Some(hi))?);
    if first <= tolerance {
        return Ok((hi, first));
    }
    let (mut lo, mut up, mut lo_loss) = (0.0, hi, 1.0);
    for _ in 0..steps {
        let mid = (lo + up) / 2.0;
        let l = loss(&trial(Some(mid))?);
        if l <= tolerance {
            (lo, lo_loss) = (mid, l);
        } else {
            up = mid;
        }
    }
    Ok((lo, if lo > 0.0 { lo_loss } else { 1.0 }))
}
