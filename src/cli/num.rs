//! Value parsers for numeric flags whose range clap cannot state itself (floats): a bad value
//! is refused while parsing, saying the range, before any work starts. Integer flags use
//! `clap::value_parser!(T).range(..)`.

/// Seconds of a run or trial: finite, in (0, 3600].
pub fn seconds(s: &str) -> Result<f64, String> {
    let v: f64 = s
        .parse()
        .map_err(|_| format!("`{s}` is not a number of seconds"))?;
    if v.is_finite() && v > 0.0 && v <= 3600.0 {
        Ok(v)
    } else {
        Err(format!("{s}: must be a number of seconds in (0, 3600]"))
    }
}

#[cfg(test)]
mod tests {
    #[test]
    fn seconds_are_finite_positive_and_bounded() {
        for ok in ["0.5", "1", "3600", "1e-3"] {
            assert!(super::seconds(ok).is_ok(), "{ok}");
        }
        for bad in ["0", "-1", "nan", "inf", "1e30", "3600.5", "x", ""] {
            assert!(super::seconds(bad).is_err(), "{bad}");
        }
    }
}
