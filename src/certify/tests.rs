//! Tests of the junta certificate against brute force over all 2^T inputs.
