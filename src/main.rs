//! The `vrouter` command; everything is in the library (`src/lib.rs` has the module map).

#![forbid(unsafe_code)]

fn main() -> std::process::ExitCode {
    vrouter::cli::main()
}
