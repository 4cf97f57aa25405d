// `sqlx::migrate!` embeds the migrations at compile time: rebuild when one is added or changed.
fn main() {
    println!("cargo:rerun-if-changed=../migrations");
    pack_relative_relocations();
}

/// Links the binaries with packed relative relocations (DT_RELR): a position-independent
/// Rust binary carries one 24-byte relocation per pointer in its read-only data, which the
/// loader reads at every start and which stay resident (620 KB of `steward-agent`'s 9.5 MB).
/// Packed, they take a few KB. Needs GNU ld 2.38+ (asked below; without it the binaries link
/// as before) and glibc 2.36+ where they run (an older glibc refuses them by name:
/// `GLIBC_ABI_DT_RELR`).
fn pack_relative_relocations() {
    let linux_gnu = std::env::var("CARGO_CFG_TARGET_OS").as_deref() == Ok("linux")
        && std::env::var("CARGO_CFG_TARGET_ENV").as_deref() == Ok("gnu");
    let supported = std::process::Command::new("ld")
        .arg("--help")
        .output()
        .is_ok_and(|o| String::from_utf8_lossy(&o.stdout).contains("pack-relative-relocs"));
    if linux_gnu && supported {
        println!("cargo:rustc-link-arg-bins=-Wl,-z,pack-relative-relocs");
    }
}
