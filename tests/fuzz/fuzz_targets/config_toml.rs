//! Sweep config TOML (`gap --config`): parse and validate, then the cells and their hashes.
#![no_main]
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let Ok(text) = std::str::from_utf8(data) else {
        return;
    };
    if let Ok(config) = attnbounds::config::SweepConfig::from_toml(text, "fuzz") {
        for cell in config.cells() {
            let _ = attnbounds::config::canonical_hash(&cell);
        }
    }
});
