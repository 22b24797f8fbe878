//! CSV input rows (`norms --data FILE.csv`): the row parser and B_X over the rows.
#![no_main]
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    if let Ok(text) = std::str::from_utf8(data) {
        let _ = attnbounds::weights::parse_csv_rows("fuzz", text);
    }
    let _ = attnbounds::weights::b_x_from_bytes("fuzz", data, true);
});
