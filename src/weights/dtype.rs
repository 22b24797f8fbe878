//! Tensor bytes to f64: F32, F64, F16, BF16 (little-endian, as safetensors stores them).

use crate::error::{Error, Result};
use safetensors::Dtype;
use safetensors::tensor::TensorView;

pub(crate) const ALLOWED: &str = "F32, F64, F16 or BF16";

/// IEEE half to f64 (exact: every f16 is an f64).
fn f16_to_f64(h: u16) -> f64 {
    let sign = if h & 0x8000 != 0 { -1.0 } else { 1.0 };
    let exp = ((h >> 10) & 0x1f) as i32;
    let frac = (h & 0x3ff) as f64;
    match exp {
        0 => sign * frac * (-24f64).exp2(),
        31 if frac == 0.0 => sign * f64::INFINITY,
        31 => f64::NAN,
        _ => sign * (1.0 + frac / 1024.0) * ((exp - 15) as f64).exp2(),
    }
}

/// Every entry as f64, rejecting other dtypes and non-finite entries (naming the tensor).
pub(crate) fn to_f64(name: &str, t: &TensorView<'_>) -> Result<Vec<f64>> {
    let b = t.data();
    let v: Vec<f64> = match t.dtype() {
        Dtype::F32 => b
            .chunks_exact(4)
            .map(|c| f32::from_le_bytes([c[0], c[1], c[2], c[3]]) as f64)
            .collect(),
        Dtype::F64 => b
            .chunks_exact(8)
            .map(|c| f64::from_le_bytes([c[0], c[1], c[2], c[3], c[4], c[5], c[6], c[7]]))
            .collect(),
        Dtype::F16 => b
            .chunks_exact(2)
            .map(|c| f16_to_f64(u16::from_le_bytes([c[0], c[1]])))
            .collect(),
        Dtype::BF16 => b
            .chunks_exact(2)
            .map(|c| f32::from_bits((u16::from_le_bytes([c[0], c[1]]) as u32) << 16) as f64)
            .collect(),
        other => {
            return Err(Error::invalid(
                format!("dtype of tensor `{name}`"),
                format!("{other:?}"),
                ALLOWED,
            ));
        }
    };
    if let Some(i) = v.iter().position(|x| !x.is_finite()) {
        return Err(Error::invalid(
            format!("tensor `{name}` entry {i}"),
            v[i],
            "finite numbers (NaN/inf weights cannot be bounded)",
        ));
    }
    Ok(v)
}

#[cfg(test)]
mod tests {
    use super::f16_to_f64;
    #[test]
    fn half_by_hand() {
        // 0x3c00 = 1.0, 0xc000 = -2.0, 0x3555 = 1 + 341/1024 times 2^-2, 0x0001 = 2^-24.
        assert_eq!(f16_to_f64(0x3c00), 1.0);
        assert_eq!(f16_to_f64(0xc000), -2.0);
        assert_eq!(f16_to_f64(0x3555), (1.0 + 341.0 / 1024.0) * 0.25);
        assert_eq!(f16_to_f64(0x0001), (-24f64).exp2());
        assert!(f16_to_f64(0x7e00).is_nan());
    }
}
