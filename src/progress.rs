//! Progress bars on stderr for long work (route loading, benchmarks); silent when stderr is not
//! a terminal, so logs and CI output stay clean.

use std::path::Path;

use indicatif::{ProgressBar, ProgressDrawTarget, ProgressStyle};

/// A byte-progress bar for reading `path`.
pub fn bytes(path: &Path) -> ProgressBar {
    let pb = ProgressBar::with_draw_target(Some(0), ProgressDrawTarget::stderr());
    pb.set_style(
        ProgressStyle::with_template("{msg} [{bar:30}] {bytes}/{total_bytes} ({eta})")
            .unwrap_or_else(|_| ProgressStyle::default_bar())
            .progress_chars("=> "),
    );
    pb.set_message(format!("loading {}", path.display()));
    pb
}

/// A counter bar for `len` steps of some named work.
pub fn steps(len: u64, what: &str) -> ProgressBar {
    let pb = ProgressBar::with_draw_target(Some(len), ProgressDrawTarget::stderr());
    pb.set_style(
        ProgressStyle::with_template("{msg} [{bar:30}] {pos}/{len} ({elapsed})")
            .unwrap_or_else(|_| ProgressStyle::default_bar())
            .progress_chars("=> "),
    );
    pb.set_message(what.to_string());
    pb
}

/// Loads a route file with a progress bar.
pub fn load(
    path: &Path,
    opts: &fib::source::LoadOptions,
) -> Result<fib::source::RouteSet, fib::source::SourceError> {
    let pb = bytes(path);
    let mut cb = |done: u64, total: u64| {
        pb.set_length(total);
        pb.set_position(done);
    };
    let res = fib::source::load(path, opts, &mut cb);
    pb.finish_and_clear();
    res
}
