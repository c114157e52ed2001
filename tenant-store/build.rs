//! Rebuild when a migration file changes: `include_dir!` embeds them but cannot tell cargo.
fn main() {
    println!("cargo::rerun-if-changed=../migrations");
}
