//! Links the AF_XDP backend against the system libxdp (found with pkg-config) when the `afxdp`
//! feature is on, with a clear message when it is missing.

use std::process::Command;

fn main() {
    println!("cargo:rerun-if-changed=build.rs");
    if std::env::var_os("CARGO_FEATURE_AFXDP").is_none() {
        return;
    }
    let out = Command::new("pkg-config")
        .args(["--libs", "libxdp", "libbpf"])
        .output();
    match out {
        Ok(o) if o.status.success() => {
            for flag in String::from_utf8_lossy(&o.stdout).split_whitespace() {
                if let Some(dir) = flag.strip_prefix("-L") {
                    println!("cargo:rustc-link-search=native={dir}");
                } else if let Some(lib) = flag.strip_prefix("-l") {
                    println!("cargo:rustc-link-lib={lib}");
                }
            }
        }
        _ => panic!(
            "the AF_XDP backend needs libxdp and libbpf with pkg-config files \
             (Debian: apt install libxdp-dev libbpf-dev pkg-config; scripts/setup does this), \
             or build without it: --no-default-features"
        ),
    }
}
