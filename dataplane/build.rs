//! Links the AF_XDP backend against the system libxdp when the `afxdp` feature is on, and builds
//! the DPDK backend's bindings and C shim against the system DPDK when `dpdk` is on (both found
//! with pkg-config), with a clear message when a library is missing.

use std::process::Command;

fn main() {
    println!("cargo:rerun-if-changed=build.rs");
    if std::env::var_os("CARGO_FEATURE_AFXDP").is_some() {
        let libs = pkg_config(
            &["--libs", "libxdp", "libbpf"],
            "the AF_XDP backend needs libxdp and libbpf with pkg-config files \
             (Debian: apt install libxdp-dev libbpf-dev pkg-config; scripts/setup does this), \
             or build without it: --no-default-features",
        );
        link(&libs);
    }
    #[cfg(feature = "dpdk")]
    dpdk::build();
}

/// The output of `pkg-config ARGS`, or a panic with `why`.
fn pkg_config(args: &[&str], why: &str) -> String {
    match Command::new("pkg-config").args(args).output() {
        Ok(o) if o.status.success() => String::from_utf8_lossy(&o.stdout).into_owned(),
        _ => panic!("{why}"),
    }
}

/// Passes `-L` and `-l` flags on to the linker.
fn link(flags: &str) {
    for flag in flags.split_whitespace() {
        if let Some(dir) = flag.strip_prefix("-L") {
            println!("cargo:rustc-link-search=native={dir}");
        } else if let Some(lib) = flag.strip_prefix("-l") {
            println!("cargo:rustc-link-lib={lib}");
        }
    }
}

#[cfg(feature = "dpdk")]
mod dpdk {
    use std::path::PathBuf;

    const MISSING: &str = "the DPDK backend needs the system DPDK with its pkg-config file \
        (Debian: apt install libdpdk-dev pkg-config clang libclang-dev; scripts/test does this), \
        or build without it: leave out --features dpdk";

    pub fn build() {
        println!("cargo:rerun-if-changed=dpdk/shim.c");
        println!("cargo:rerun-if-changed=dpdk/shim.h");
        let version = super::pkg_config(&["--modversion", "libdpdk"], MISSING);
        let major: u32 = version
            .trim()
            .split('.')
            .next()
            .and_then(|m| m.parse().ok())
            .unwrap_or(0);
        if major < 21 {
            panic!(
                "DPDK {}: the DPDK backend needs 21.11 or newer",
                version.trim()
            );
        }
        println!("cargo:rustc-env=VROUTER_DPDK_VERSION={}", version.trim());
        // DPDK's own flags (they include rte_config.h and set -march, which the shim must
        // share with the library's headers).
        let cflags = super::pkg_config(&["--cflags", "libdpdk"], MISSING);
        let cflags: Vec<&str> = cflags.split_whitespace().collect();

        let mut cc = cc::Build::new();
        cc.file("dpdk/shim.c").opt_level(3).warnings(true);
        for f in &cflags {
            cc.flag(f);
        }
        cc.compile("vrouter_dpdk_shim");

        // Linked dynamically: the poll-mode drivers are loaded at run time from DPDK's
        // pmds folder (EAL's -d option, or its built-in default path).
        super::link(&super::pkg_config(&["--libs", "libdpdk"], MISSING));

        let mut clang_args: Vec<String> = Vec::new();
        let mut it = cflags.iter();
        while let Some(f) = it.next() {
            if *f == "-include" {
                if let Some(h) = it.next() {
                    clang_args.push(format!("-include{h}"));
                }
            } else if f.starts_with("-I") || f.starts_with("-D") || f.starts_with("-march") {
                clang_args.push(f.to_string());
            }
        }
        let bindings = bindgen::Builder::default()
            .header("dpdk/shim.h")
            .clang_args(&clang_args)
            .allowlist_function("vr_.*")
            .allowlist_function("rte_eal_(init|cleanup)")
            .allowlist_function("rte_strerror")
            .allowlist_function("rte_socket_id")
            .allowlist_function("rte_pktmbuf_pool_create")
            .allowlist_function("rte_mempool_(free|avail_count|in_use_count)")
            .allowlist_function(
                "rte_eth_(dev_get_port_by_name|dev_stop|dev_close|macaddr_get|stats_get|dev_count_avail)",
            )
            .allowlist_function("rte_dev_remove|rte_eal_hotplug_remove")
            .allowlist_function("rte_lpm_(create|free|add|delete_all)")
            .allowlist_function("rte_lpm6_(create|free|add|lookup_bulk_func|lookup)")
            .allowlist_type("rte_lpm_config|rte_lpm6_config|rte_eth_stats|rte_ether_addr")
            .opaque_type("rte_mempool|rte_mbuf|rte_lpm|rte_lpm6")
            .derive_default(true)
            .layout_tests(false)
            .generate_comments(false)
            .generate()
            .unwrap_or_else(|e| {
                panic!(
                    "generating the DPDK bindings failed ({e}): bindgen needs libclang \
                     (Debian: apt install clang libclang-dev)"
                )
            });
        let out = PathBuf::from(std::env::var("OUT_DIR").expect("OUT_DIR")).join("dpdk.rs");
        bindings
            .write_to_file(&out)
            .unwrap_or_else(|e| panic!("{}: {e}", out.display()));
    }
}
