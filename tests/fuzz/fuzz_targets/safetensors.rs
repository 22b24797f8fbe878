//! safetensors files (`norms --weights`, `--data`): header and tensors through both presets,
//! with and without a head count, and as a B_X input file.
#![no_main]
use attnbounds::weights::{Layout, b_x_from_bytes, import_bytes};
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    for layout in [Layout::TorchMha, Layout::SeparateQkv] {
        for heads in [None, Some(1), Some(2)] {
            if let Ok(model) = import_bytes(data, layout, heads) {
                let _ = attnbounds::weights::model_norms(&model);
                let _ = model.to_transformer();
            }
        }
    }
    let _ = b_x_from_bytes("fuzz", data, false);
});
