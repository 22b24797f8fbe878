//! Layout mapping TOML (`norms --layout FILE.toml`): parse and validate, then resolve its
//! templates against a small safetensors file (one 2 x 2 tensor per common name).
#![no_main]
use libfuzzer_sys::fuzz_target;

/// A safetensors file: an 8-byte little-endian header length, the JSON header, the data.
fn file() -> Vec<u8> {
    let names = [
        "in_proj_weight",
        "out_proj.weight",
        "head.weight",
        "q.weight",
        "k.weight",
    ];
    let mut header = String::from("{");
    for (i, n) in names.iter().enumerate() {
        let (a, b) = (i * 16, i * 16 + 16);
        header +=
            &format!("\"{n}\":{{\"dtype\":\"F32\",\"shape\":[2,2],\"data_offsets\":[{a},{b}]}},");
    }
    header.pop();
    header += "}";
    let mut out = (header.len() as u64).to_le_bytes().to_vec();
    out.extend(header.as_bytes());
    out.extend(std::iter::repeat_n(0u8, 16 * names.len()));
    out
}

fuzz_target!(|data: &[u8]| {
    let Ok(text) = std::str::from_utf8(data) else {
        return;
    };
    if let Ok(m) = attnbounds::weights::Mapping::from_toml(text) {
        let bytes = file();
        for heads in [None, Some(1), Some(2)] {
            let _ = attnbounds::weights::import_mapped(&bytes, &m, "fuzz", heads);
        }
    }
});
