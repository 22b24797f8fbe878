//! Helpers shared by the integration tests (each test binary includes this with `mod common;`).

use std::process::Command;

/// Runs the `attnbounds` binary with `args`: (exit success, stdout, stderr).
pub fn cli(args: &[&str]) -> (bool, String, String) {
    let out = Command::new(env!("CARGO_BIN_EXE_attnbounds"))
        .args(args)
        .output()
        .expect("the attnbounds binary runs");
    (
        out.status.success(),
        String::from_utf8_lossy(&out.stdout).into(),
        String::from_utf8_lossy(&out.stderr).into(),
    )
}
