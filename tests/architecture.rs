//! The crate table in ARCHITECTURE.md, each crate's Cargo description and the first `//!`
//! line of its root source agree.

use std::path::Path;

fn description(manifest: &str) -> String {
    manifest
        .lines()
        .find_map(|l| l.strip_prefix("description = \""))
        .and_then(|l| l.strip_suffix('"'))
        .expect("description line")
        .to_owned()
}

#[test]
fn architecture_table_matches_the_crates() {
    let root = Path::new(env!("CARGO_MANIFEST_DIR"));
    let arch = std::fs::read_to_string(root.join("ARCHITECTURE.md")).expect("ARCHITECTURE.md");
    for (dir, src) in [
        ("", "src/main.rs"),
        ("schema", "src/lib.rs"),
        ("fusion", "src/lib.rs"),
        ("scenarios", "src/lib.rs"),
        ("recorder", "src/lib.rs"),
        ("replay", "src/lib.rs"),
        ("reports", "src/lib.rs"),
    ] {
        let d = root.join(dir);
        let desc = description(&std::fs::read_to_string(d.join("Cargo.toml")).expect("manifest"));
        let first = std::fs::read_to_string(d.join(src)).expect("source");
        let first = first
            .lines()
            .next()
            .expect("first line")
            .trim_start_matches("//! ");
        assert_eq!(first, desc, "{dir}/{src} first line vs Cargo description");
        assert!(
            arch.contains(&format!("| {desc} |")),
            "ARCHITECTURE.md lacks the row for '{desc}'"
        );
    }
}
