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

/// Fraction of lost frames over a trial's routers.
fn loss_of(rs: &[RouterResult]) -> f64 {
    let offered: u64 = rs.iter().map(|r| r.offered).sum();
    let lost: u64 = rs.iter().map(|r| r.lost).sum();
    lost as f64 / offered.max(1) as f64
}

/// Confirms a search's answer as RFC 2544 §26.1 defines throughput: the highest rate at which a
/// full-length trial loses nothing (at most `tolerance`). `full(rate)` runs one full-length
/// trial; a rate holds when `repeats` trials in a row stay within the tolerance. Each trial over
/// it steps the rate down by `step` (a fraction), at most `tries` trials in all. Returns
/// (rate, its worst loss, trials run); a rate that never held comes back with its loss, for
/// the caller to report.
pub fn confirm(
    full: &mut dyn FnMut(f64) -> Result<Vec<RouterResult>>,
    rate: f64,
    tolerance: f64,
    step: f64,
    repeats: usize,
    tries: usize,
) -> Result<(f64, f64, usize)> {
    let mut r = rate;
    // The worst loss of the clean trials in a row so far, and the last failing trial's loss.
    let (mut clean, mut worst, mut failed) = (0, 0.0f64, 1.0);
    for t in 1..=tries.max(1) {
        if r <= 0.0 {
            return Ok((0.0, 1.0, t - 1));
        }
        let loss = loss_of(&full(r)?);
        if loss <= tolerance {
            clean += 1;
            worst = worst.max(loss);
            if clean >= repeats.max(1) {
                return Ok((r, worst, t));
            }
        } else {
            (clean, worst, failed) = (0, 0.0, loss);
            if t < tries {
                r *= 1.0 - step;
            }
        }
    }
    Ok((r, failed, tries.max(1)))
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A router that loses what exceeds `cap` frames/s, and, over long trials only, what
    /// exceeds 90% of it (a short search overestimates it).
    fn router(cap: f64, rate: Option<f64>, long: bool) -> Vec<RouterResult> {
        let offered_pps = rate.unwrap_or(cap * 1.5);
        let holds = if long { cap * 0.9 } else { cap };
        let offered = offered_pps as u64;
        let received = offered_pps.min(holds) as u64;
        vec![RouterResult {
            offered,
            received,
            lost: offered - received,
            forwarded_pps: received as f64,
            ..RouterResult::default()
        }]
    }

    #[test]
    fn the_search_finds_the_short_trials_rate_and_the_confirmation_steps_down_to_what_holds() {
        let (r, l) = search(&mut |rate| Ok(router(100_000.0, rate, false)), 12, 0.0).unwrap();
        assert!((99_000.0..=100_000.0).contains(&r) && l == 0.0, "{r} {l}");
        let mut runs = 0;
        let (held, loss, tries) = confirm(
            &mut |rate| {
                runs += 1;
                Ok(router(100_000.0, Some(rate), true))
            },
            100_000.0,
            0.0,
            0.05,
            2,
            8,
        )
        .unwrap();
        // 100k, 95k and 90.25k lose frames over a long trial; 85.7k is the first that holds,
        // twice in a row.
        assert_eq!((tries, runs), (5, 5));
        assert!(held <= 90_000.0 && held > 85_000.0 && loss == 0.0, "{held}");
        // A rate that never holds comes back with its loss after `tries` trials.
        let (_, loss, tries) = confirm(
            &mut |rate| Ok(router(1_000.0, Some(rate), true)),
            1e6,
            0.0,
            0.05,
            1,
            3,
        )
        .unwrap();
        assert!(tries == 3 && loss > 0.5, "{loss}");
    }
}
