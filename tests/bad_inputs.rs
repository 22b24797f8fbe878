//! The bad-input suite: one line per case, across every command and input format (flags,
//! configs, layouts, safetensors, CSV, databases, output folders). Each case runs the binary
//! as a child under an address-space limit (`prlimit --as`, 4 GB) and a wall timeout, and
//! asserts: the exit code (1 = our typed error, 2 = the argument parser), a message naming the
//! field (`needle`, case-insensitive, in stderr), no panic ("panicked" in stderr, exit 101),
//! no abort (exit 134 or any signal) and no hang (killed at the timeout).
//!
//! Paths in a case's arguments and files starting with `@/` are inside the case's own
//! temporary folder; `files` are written there first. The limits the cases hit are documented
//! in `docs/limits.md`.

use std::io::Read;
use std::path::Path;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

/// Address-space limit of every child (bytes).
const ADDRESS_SPACE: u64 = 4_000_000_000;
/// Wall-clock limit of every child.
const TIMEOUT: Duration = Duration::from_secs(30);

/// The contents of a file a case needs.
#[derive(Clone, Copy)]
enum Fixture {
    Text(&'static str),
    Bytes(fn() -> Vec<u8>),
    /// A sparse file of this many bytes (no disk space used).
    Sparse(u64),
}
use Fixture::{Bytes, Sparse, Text};

struct Case {
    args: &'static str,
    files: &'static [(&'static str, Fixture)],
    code: i32,
    needle: &'static str,
}

const fn c(args: &'static str, code: i32, needle: &'static str) -> Case {
    Case {
        args,
        files: &[],
        code,
        needle,
    }
}

const fn f(
    args: &'static str,
    files: &'static [(&'static str, Fixture)],
    code: i32,
    needle: &'static str,
) -> Case {
    Case {
        args,
        files,
        code,
        needle,
    }
}

// ---------------------------------------------------------------- safetensors fixtures

/// A safetensors file from (name, shape, f32 values) entries and a metadata JSON object body.
fn safetensors(tensors: &[(&str, &[usize], &[f32])], meta: &str) -> Vec<u8> {
    let mut header = String::from("{");
    let mut data = Vec::new();
    for (name, shape, values) in tensors {
        let start = data.len();
        for v in *values {
            data.extend(v.to_le_bytes());
        }
        let shape: Vec<String> = shape.iter().map(|s| s.to_string()).collect();
        header += &format!(
            "\"{name}\":{{\"dtype\":\"F32\",\"shape\":[{}],\"data_offsets\":[{start},{}]}},",
            shape.join(","),
            data.len()
        );
    }
    if meta.is_empty() {
        header.pop();
    } else {
        header += &format!("\"__metadata__\":{{{meta}}}");
    }
    header += "}";
    raw(&header, &data)
}

fn raw(header: &str, data: &[u8]) -> Vec<u8> {
    let mut out = (header.len() as u64).to_le_bytes().to_vec();
    out.extend(header.as_bytes());
    out.extend(data);
    out
}

const D: usize = 4;

fn vals(n: usize, x: f32) -> Vec<f32> {
    (0..n).map(|i| x * (1.0 + (i % 7) as f32 / 7.0)).collect()
}

/// A valid one-layer torch-mha model of width 4, with the given `heads` metadata.
fn mha(meta: &str, scale: f32) -> Vec<u8> {
    safetensors(
        &[
            (
                "layers.0.attn.in_proj_weight",
                &[3 * D, D],
                &vals(3 * D * D, scale),
            ),
            ("layers.0.attn.out_proj.weight", &[D, D], &vals(D * D, 0.5)),
            ("readout.weight", &[1, D], &vals(D, 0.5)),
        ],
        meta,
    )
}

fn st_ok() -> Vec<u8> {
    mha("\"heads\":\"2\"", 0.3)
}
fn st_no_meta() -> Vec<u8> {
    mha("", 0.3)
}
fn st_zero() -> Vec<u8> {
    mha("\"heads\":\"1\"", 0.0)
}
fn st_meta_huge() -> Vec<u8> {
    mha("\"heads\":\"18446744073709551615\"", 0.3)
}
fn st_meta_bad() -> Vec<u8> {
    mha("\"heads\":\"two\"", 0.3)
}
fn st_meta_zero() -> Vec<u8> {
    mha("\"heads\":\"0\"", 0.3)
}
fn st_meta_three() -> Vec<u8> {
    mha("\"heads\":\"3\"", 0.3)
}
fn st_bad_activation() -> Vec<u8> {
    mha("\"heads\":\"1\",\"attn_activation\":\"swish\"", 0.3)
}
fn st_nan() -> Vec<u8> {
    let mut v = vals(3 * D * D, 0.3);
    v[5] = f32::NAN;
    safetensors(
        &[
            ("layers.0.attn.in_proj_weight", &[3 * D, D], &v),
            ("layers.0.attn.out_proj.weight", &[D, D], &vals(D * D, 0.5)),
            ("readout.weight", &[1, D], &vals(D, 0.5)),
        ],
        "\"heads\":\"1\"",
    )
}
/// A torch-mha model of width 4 with embeddings at T = 5 (`certify --weights`): `layers`
/// blocks, and a NaN in the positional table when `nan`.
fn with_embeddings(layers: usize, nan: bool) -> Vec<u8> {
    let mut pos = vals(5 * D, 0.2);
    if nan {
        pos[3] = f32::NAN;
    }
    let names: Vec<(String, String)> = (0..layers)
        .map(|l| {
            (
                format!("layers.{l}.attn.in_proj_weight"),
                format!("layers.{l}.attn.out_proj.weight"),
            )
        })
        .collect();
    let (qkv, out) = (vals(3 * D * D, 0.3), vals(D * D, 0.5));
    let mut t: Vec<(&str, &[usize], &[f32])> = Vec::new();
    for (a, b) in &names {
        t.push((a, &[3 * D, D], &qkv));
        t.push((b, &[D, D], &out));
    }
    let (tok, cls, w) = (vals(2 * D, 0.4), vals(D, 0.1), vals(D, 0.5));
    t.push(("readout.weight", &[1, D], &w));
    t.push(("tok_emb.weight", &[2, D], &tok));
    t.push(("pos_emb.weight", &[5, D], &pos));
    t.push(("cls", &[D], &cls));
    safetensors(&t, "\"heads\":\"1\"")
}
fn st_emb() -> Vec<u8> {
    with_embeddings(1, false)
}
fn st_emb_two_layers() -> Vec<u8> {
    with_embeddings(2, false)
}
fn st_emb_nan() -> Vec<u8> {
    with_embeddings(1, true)
}
fn st_missing_readout() -> Vec<u8> {
    safetensors(
        &[
            (
                "layers.0.attn.in_proj_weight",
                &[3 * D, D],
                &vals(3 * D * D, 0.3),
            ),
            ("layers.0.attn.out_proj.weight", &[D, D], &vals(D * D, 0.5)),
        ],
        "\"heads\":\"1\"",
    )
}
fn st_bad_shape() -> Vec<u8> {
    safetensors(
        &[
            (
                "layers.0.attn.in_proj_weight",
                &[3 * D, D],
                &vals(3 * D * D, 0.3),
            ),
            ("layers.0.attn.out_proj.weight", &[D, D], &vals(D * D, 0.5)),
            ("readout.weight", &[2, D], &vals(2 * D, 0.5)),
        ],
        "\"heads\":\"1\"",
    )
}
fn st_not_three() -> Vec<u8> {
    safetensors(
        &[
            ("layers.0.attn.in_proj_weight", &[5, D], &vals(5 * D, 0.3)),
            ("layers.0.attn.out_proj.weight", &[D, D], &vals(D * D, 0.5)),
            ("readout.weight", &[1, D], &vals(D, 0.5)),
        ],
        "\"heads\":\"1\"",
    )
}
fn st_duplicate() -> Vec<u8> {
    let t = "\"dtype\":\"F32\",\"shape\":[1,4],\"data_offsets\":[0,16]";
    raw(
        &format!("{{\"readout.weight\":{{{t}}},\"readout.weight\":{{{t}}}}}"),
        &[0; 16],
    )
}
fn st_truncated() -> Vec<u8> {
    let mut b = st_ok();
    b.truncate(b.len() - 10);
    b
}
fn st_header_huge() -> Vec<u8> {
    let mut b = u64::MAX.to_le_bytes().to_vec();
    b.extend(b"{}");
    b
}
fn st_header_not_json() -> Vec<u8> {
    raw("{not json", &[])
}
fn st_short() -> Vec<u8> {
    vec![1, 2, 3]
}
fn st_bad_dtype() -> Vec<u8> {
    raw(
        "{\"readout.weight\":{\"dtype\":\"I32\",\"shape\":[1,4],\"data_offsets\":[0,16]}}",
        &[0; 16],
    )
}
fn st_offsets() -> Vec<u8> {
    raw(
        "{\"readout.weight\":{\"dtype\":\"F32\",\"shape\":[1,4],\"data_offsets\":[0,1600]}}",
        &[0; 16],
    )
}
fn st_shape_overflow() -> Vec<u8> {
    raw(
        "{\"x\":{\"dtype\":\"F32\",\"shape\":[18446744073709551615,18446744073709551615],\"data_offsets\":[0,16]}}",
        &[0; 16],
    )
}
fn st_inputs_ok_width() -> Vec<u8> {
    safetensors(&[("x", &[2, 3, D], &vals(2 * 3 * D, 0.5))], "")
}
fn st_inputs_two() -> Vec<u8> {
    safetensors(
        &[
            ("a", &[2, D], &vals(2 * D, 0.5)),
            ("b", &[2, D], &vals(2 * D, 0.5)),
        ],
        "",
    )
}
fn st_inputs_rank1() -> Vec<u8> {
    safetensors(&[("x", &[D], &vals(D, 0.5))], "")
}
fn st_inputs_wrong_width() -> Vec<u8> {
    safetensors(&[("x", &[2, 3], &vals(6, 0.5))], "")
}
fn st_inputs_wrong_t() -> Vec<u8> {
    safetensors(&[("x", &[2, 7, D], &vals(2 * 7 * D, 0.5))], "")
}

/// An empty results store, written by the library.
fn empty_store() -> Vec<u8> {
    let dir = tempfile::tempdir().unwrap();
    let p = dir.path().join("db.sqlite");
    drop(attnbounds::results::ResultsDb::open(&p).unwrap());
    std::fs::read(&p).unwrap()
}

/// A SQLite database of some other program (no `trials` table, no application_id).
fn unrelated_sqlite() -> Vec<u8> {
    let dir = tempfile::tempdir().unwrap();
    let p = dir.path().join("other.sqlite");
    let conn = rusqlite::Connection::open(&p).unwrap();
    conn.execute_batch("CREATE TABLE songs (title TEXT); INSERT INTO songs VALUES ('x');")
        .unwrap();
    drop(conn);
    std::fs::read(&p).unwrap()
}

// ---------------------------------------------------------------- config fixtures

/// The smallest valid gap config; cases append or replace one field.
macro_rules! gap_config {
    ($($line:literal),* $(,)?) => {
        concat!(
            "name = \"bad\"\n",
            $($line, "\n",)*
        )
    };
}

const BASE_TOP: &str = "name = \"bad\"\ntask = \"and\"\nsparsity = 3\ncontext_len = [8]\nnum_samples = [16]\nmodel = \"cls_head\"\ntrials = 1\nseed = 1\n";

/// A config: the base top-level fields with `replace` substituted for the line starting with
/// its key, plus a `[train]` table.
fn config(replace: &str, train: &str) -> String {
    let keys = |text: &str| -> Vec<String> {
        text.lines()
            .filter_map(|l| l.split_once('=').map(|(k, _)| format!("{} ", k.trim())))
            .collect()
    };
    let (top_keys, train_keys) = (keys(replace), keys(train));
    let mut lines: Vec<String> = BASE_TOP
        .lines()
        .filter(|l| !top_keys.iter().any(|k| l.starts_with(k.as_str())))
        .map(String::from)
        .collect();
    lines.extend(replace.lines().map(String::from));
    let steps = if train_keys.iter().any(|k| k == "steps ") {
        ""
    } else {
        "steps = 10\n"
    };
    format!("{}\n[train]\n{steps}{train}\n", lines.join("\n"))
}

/// Gap-config cases: (top-level replacement, `[train]` lines, needle). Each becomes
/// `experiment gap --config @/c.toml` (the config is written by the runner).
const CONFIG_CASES: &[(&str, &str, &str)] = &[
    ("context_len = [18446744073709551615]", "", "context_len[0]"),
    ("context_len = [1000000000000]", "", "context_len[0]"),
    ("context_len = []", "", "context_len"),
    ("context_len = [0]", "", "context_len[0]"),
    ("context_len = [8, 0]", "", "context_len[1]"),
    ("context_len = [2]", "", "sparsity"),
    ("num_samples = [1000000000000]", "", "num_samples[0]"),
    ("num_samples = []", "", "num_samples"),
    ("num_samples = [0]", "", "num_samples[0]"),
    (
        "num_samples = [3000000]\ncontext_len = [1000]",
        "",
        "num_samples",
    ),
    ("trials = 0", "", "trials"),
    ("trials = 1000000000000", "", "trials"),
    ("sparsity = 0", "", "sparsity"),
    ("sparsity = 18446744073709551615", "", "sparsity"),
    ("sparsity = 1000000", "", "sparsity"),
    ("task = \"xor\"", "", "task"),
    ("task = \"majority\"\nsparsity = 2", "", "sparsity"),
    ("task = \"truth_table\"", "", "truth_table"),
    (
        "task = \"truth_table\"\ntruth_table = [true, false, true]",
        "",
        "truth_table",
    ),
    (
        "task = \"and\"\ntruth_table = [true, false]",
        "",
        "truth_table",
    ),
    ("model = \"mlp\"", "", "model"),
    ("model = 3", "", "model"),
    ("seed = -1", "", "seed"),
    ("seed = \"one\"", "", "seed"),
    ("name = \"\"", "", "name"),
    ("colour = \"blue\"", "", "colour"),
    ("", "width = 1000000000000", "train.width"),
    (
        "model = \"transformer\"",
        "width = 1000000000000",
        "train.width",
    ),
    ("", "value_dim = 1000000000000", "train.value_dim"),
    ("", "heads = 1000000000000", "train.heads"),
    (
        "model = \"transformer\"",
        "heads = 1000000000000",
        "train.heads",
    ),
    ("", "mlp_width = 1000000000000", "train.mlp_width"),
    ("", "steps = 1000000000000", "train.steps"),
    ("", "eval_every = 1000000000000", "train.eval_every"),
    ("", "patience = 1000000000000", "train.patience"),
    (
        "",
        "population_samples = 1000000000000",
        "train.population_samples",
    ),
    ("", "population_samples = 0", "train.population_samples"),
    ("", "batch_size = 0", "train.batch_size"),
    ("", "batch_size = 1000000000000", "train.batch_size"),
    ("", "learning_rate = 0.0", "train.learning_rate"),
    ("", "learning_rate = -1.0", "train.learning_rate"),
    ("", "learning_rate = nan", "train.learning_rate"),
    ("", "learning_rate = inf", "train.learning_rate"),
    ("", "optimizer = \"sgd\"\nmomentum = 1.0", "train.momentum"),
    ("", "momentum = 0.5", "train.momentum"),
    ("", "optimizer = \"lbfgs\"", "train.optimizer"),
    ("", "loss = \"hinge\"", "train.loss"),
    ("", "stop = \"never\"", "train.stop"),
    (
        "",
        "stop = \"max_steps\"\neval_every = 5",
        "train.eval_every",
    ),
    ("", "stop = \"first_fit\"\npatience = 5", "train.patience"),
    ("", "head_activation = \"swish\"", "activation"),
    ("", "gamma = 0.0", "train.gamma"),
    ("", "init_scale = -1.0", "train.init_scale"),
    ("", "weight_decay = -1.0", "train.weight_decay"),
    ("", "target_loss = -1.0", "train.target_loss"),
    ("", "width = 0", "train.width"),
    ("", "value_dim = 0", "train.value_dim"),
    ("", "heads = 0", "train.heads"),
    (
        "",
        "norm_ball = { b_qk = 0.0, b_v = 1.0, b_v21 = 1.0, b_w = 1.0 }",
        "b_qk",
    ),
    (
        "",
        "norm_ball = { b_qk = 1.0, b_v = 1.0, b_v21 = 1.0 }",
        "b_w",
    ),
    (
        "",
        "norm_ball = { b_qk = 1.0, b_v = 1.0, b_v21 = 1.0, b_w = 1.0, b_x = 1.0 }",
        "b_x",
    ),
    ("", "stepz = 10", "stepz"),
    ("", "steps = -5", "steps"),
    // Each count within its maximum, but together far beyond the work limit.
    (
        "context_len = [100000]\nnum_samples = [100000]\ntrials = 1000",
        "steps = 10000000",
        "too large",
    ),
    // Within every count, beyond the memory limit: T = 1e6 with a 1e6 sample.
    (
        "context_len = [1000000]\nnum_samples = [1000000]",
        "",
        "memory",
    ),
];

// ---------------------------------------------------------------- the table

const CSV_RAGGED: &str = "1,2,3\n4,5\n";
const LAYOUT_UNKNOWN: &str =
    "orientation = \"out_in\"\nqkv = \"a\"\nout = \"b\"\nreadout = \"c\"\ncolour = 1\n";

#[rustfmt::skip]
const CASES: &[Case] = &[
    // --- argument parser (exit 2): the flag is named
    c("frobnicate", 2, "frobnicate"),
    c("bound --no-such-flag", 2, "--no-such-flag"),
    c("bound --num-samples ten", 2, "--num-samples"),
    c("bound --num-samples -5", 2, "--num-samples"),
    c("bound --context-len 1e3", 2, "--context-len"),
    c("bound --heads 18446744073709551616", 2, "--heads"),
    c("experiment capacity --preset huge", 2, "--preset"),
    c("experiment nope", 2, "nope"),
    c("check --budget infinite", 2, "--budget"),
    c("results export --format xml", 2, "--format"),
    c("construct --task xor", 2, "--task"),
    c("certify --preset huge", 2, "--preset"),
    c("certify --format xml", 2, "--format"),
    c("certify --preset smoke --threads 0 --db @/db.sqlite --out @/out", 1, "threads"),
    c("construct --positional gray", 2, "--positional"),
    c("construct --inputs -1", 2, "--inputs"),
    c("norms --num-samples 10 --context-len 5", 2, "--weights"),
    c("experiment gap --preset smoke --config @/x.toml", 2, "--config"),
    c("--memory-limit lots bound", 1, "memory-limit"),
    c("--memory-limit 0 bound", 1, "memory-limit"),
    // --- bound: flags
    c("bound", 1, "num_samples"),
    c("bound --num-samples 100", 1, "context_len"),
    c("bound --num-samples 100 --context-len 10 --width 8 --value-dim 4", 1, "b_x"),
    c("bound --num-samples 0 --context-len 10 --width 8 --value-dim 4 --b-x 1 --b-qk 1 --b-v 1 --b-v21 1 --b-w 1", 1, "num_samples"),
    c("bound --num-samples 100 --context-len 0 --width 8 --value-dim 4 --b-x 1 --b-qk 1 --b-v 1 --b-v21 1 --b-w 1", 1, "context_len"),
    c("bound --num-samples 100 --context-len 10 --width 0 --value-dim 4 --b-x 1 --b-qk 1 --b-v 1 --b-v21 1 --b-w 1", 1, "width"),
    c("bound --num-samples 100 --context-len 10 --width 8 --value-dim 0 --b-x 1 --b-qk 1 --b-v 1 --b-v21 1 --b-w 1", 1, "value_dim"),
    c("bound --num-samples 100 --context-len 10 --width 8 --value-dim 4 --heads 0 --b-x 1 --b-qk 1 --b-v 1 --b-v21 1 --b-w 1", 1, "heads"),
    c("bound --num-samples 100 --context-len 10 --width 8 --value-dim 4 --layers 0 --b-x 1 --b-qk 1 --b-v 1 --b-v21 1 --b-w 1", 1, "layers"),
    c("bound --num-samples 100 --context-len 10 --width 8 --value-dim 4 --layers 18446744073709551615 --b-x 1 --b-qk 1 --b-v 1 --b-v21 1 --b-w 1 --b-c 1 --b-c21 1", 1, "layers"),
    c("bound --num-samples 100 --context-len 10 --width 8 --value-dim 4 --heads 18446744073709551615 --b-x 1 --b-qk 1 --b-v 1 --b-v21 1 --b-w 1 --b-c 1 --b-c21 1", 1, "heads"),
    c("bound --num-samples 100 --context-len 10 --width 8 --value-dim 4 --b-x -1 --b-qk 1 --b-v 1 --b-v21 1 --b-w 1", 1, "b_x"),
    c("bound --num-samples 100 --context-len 10 --width 8 --value-dim 4 --b-x 1 --b-qk 0 --b-v 1 --b-v21 1 --b-w 1", 1, "b_qk"),
    c("bound --num-samples 100 --context-len 10 --width 8 --value-dim 4 --b-x 1 --b-qk 1 --b-v nan --b-v21 1 --b-w 1", 1, "b_v"),
    c("bound --num-samples 100 --context-len 10 --width 8 --value-dim 4 --b-x 1 --b-qk 1 --b-v 1 --b-v21 inf --b-w 1", 1, "b_v21"),
    c("bound --num-samples 100 --context-len 10 --width 8 --value-dim 4 --b-x 1 --b-qk 1 --b-v 1 --b-v21 1 --b-w -0.5", 1, "b_w"),
    c("bound --num-samples 100 --context-len 10 --width 8 --value-dim 4 --b-x 1 --b-qk 1 --b-v 1 --b-v21 1 --b-w 1 --delta 1.5", 1, "delta"),
    c("bound --num-samples 100 --context-len 10 --width 8 --value-dim 4 --b-x 1 --b-qk 1 --b-v 1 --b-v21 1 --b-w 1 --delta 0", 1, "delta"),
    c("bound --num-samples 100 --context-len 10 --width 8 --value-dim 4 --b-x 1 --b-qk 1 --b-v 1 --b-v21 1 --b-w 1 --gamma -1", 1, "gamma"),
    c("bound --num-samples 100 --context-len 10 --width 8 --value-dim 4 --b-x 1 --b-qk 1 --b-v 1 --b-v21 1 --b-w 1 --eps 0", 1, "eps"),
    c("bound --num-samples 100 --context-len 10 --width 8 --value-dim 4 --b-x 1 --b-qk 1 --b-v 1 --b-v21 1 --b-w 1 --kappa -2", 1, "kappa"),
    c("bound --num-samples 100 --context-len 10 --width 8 --value-dim 4 --b-x 1 --b-qk 1 --b-v 1 --b-v21 1 --b-w 1 --c0 0", 1, "c0"),
    c("bound --num-samples 100 --context-len 10 --width 8 --value-dim 4 --b-x 1 --b-qk 1 --b-v 1 --b-v21 1 --b-w 1 --l-sigma nan", 1, "l_sigma"),
    c("bound --num-samples 100 --context-len 10 --width 8 --value-dim 4 --b-x 1 --b-qk 1 --b-v 1 --b-v21 1 --b-w 1 --r-min 0", 1, "r_min"),
    c("bound --num-samples 100 --context-len 10 --width 8 --value-dim 4 --b-x 1 --b-qk 1 --b-v 1 --b-v21 1 --b-w 1 --sparsity 0", 1, "sparsity"),
    c("bound --num-samples 100 --context-len 10 --width 8 --value-dim 4 --b-x 1 --b-qk 1 --b-v 1 --b-v21 1 --b-w 1 --b-c -1", 1, "b_c"),
    c("bound --num-samples 100 --context-len 10 --width 8 --value-dim 4 --b-x 1e-300 --b-qk 1e-300 --b-v 1e-300 --b-v21 1e-300 --b-w 1e-300", 1, "output range"),
    c("bound --num-samples 100 --context-len 10 --width 8 --value-dim 4 --b-x 1 --b-qk 1 --b-v 1 --b-v21 1 --b-w 1 --sweep context-len", 1, "sweep"),
    c("bound --num-samples 100 --context-len 10 --width 8 --value-dim 4 --b-x 1 --b-qk 1 --b-v 1 --b-v21 1 --b-w 1 --sweep width=1..10", 1, "sweep"),
    c("bound --num-samples 100 --context-len 10 --width 8 --value-dim 4 --b-x 1 --b-qk 1 --b-v 1 --b-v21 1 --b-w 1 --sweep context-len=10", 1, "sweep"),
    c("bound --num-samples 100 --context-len 10 --width 8 --value-dim 4 --b-x 1 --b-qk 1 --b-v 1 --b-v21 1 --b-w 1 --sweep context-len=100..10", 1, "sweep"),
    c("bound --num-samples 100 --context-len 10 --width 8 --value-dim 4 --b-x 1 --b-qk 1 --b-v 1 --b-v21 1 --b-w 1 --sweep context-len=0..10", 1, "sweep"),
    c("bound --num-samples 100 --context-len 10 --width 8 --value-dim 4 --b-x 1 --b-qk 1 --b-v 1 --b-v21 1 --b-w 1 --sweep context-len=1.5..10", 1, "sweep"),
    c("bound --num-samples 100 --context-len 10 --width 8 --value-dim 4 --b-x 1 --b-qk 1 --b-v 1 --b-v21 1 --b-w 1 --sweep context-len=1..1e20", 1, "sweep"),
    c("bound --num-samples 100 --context-len 10 --width 8 --value-dim 4 --b-x 1 --b-qk 1 --b-v 1 --b-v21 1 --b-w 1 --sweep num-samples=nan..10", 1, "sweep"),
    c("bound --num-samples 100 --context-len 10 --width 8 --value-dim 4 --b-x 1 --b-qk 1 --b-v 1 --b-v21 1 --b-w 1 --sweep context-len=10..100 --points 0", 1, "points"),
    c("bound --num-samples 100 --context-len 10 --width 8 --value-dim 4 --b-x 1 --b-qk 1 --b-v 1 --b-v21 1 --b-w 1 --sweep context-len=10..1000 --points 1000000000", 1, "points"),
    c("bound --num-samples 100 --context-len 10 --width 8 --value-dim 4 --b-x 1 --b-qk 1 --b-v 1 --b-v21 1 --b-w 1 --sweep num-samples=1..1e14 --points 1000", 1, "points"),
    c("bound --num-samples 100 --context-len 10 --width 8 --value-dim 4 --b-x 1 --b-qk 1 --b-v 1 --b-v21 1 --b-w 1 --sweep context-len=1..10 --sparsity 5", 1, "sweep point"),
    c("bound --json --csv --num-samples 1", 2, "--csv"),
    // --- bound: TOML file
    c("bound --config @/missing.toml", 1, "missing.toml"),
    f("bound --config @/b.toml", &[("b.toml", Text("num_samples = \n"))], 1, "b.toml"),
    f("bound --config @/b.toml", &[("b.toml", Text("colour = 1\n"))], 1, "colour"),
    f("bound --config @/b.toml", &[("b.toml", Text("num_samples = -1\n"))], 1, "num_samples"),
    f("bound --config @/b.toml", &[("b.toml", Text("num_samples = \"many\"\n"))], 1, "num_samples"),
    f("bound --config @/b.toml", &[("b.toml", Text("num_samples = 1.5\n"))], 1, "num_samples"),
    f("bound --config @/b.toml", &[("b.toml", Text("num_samples = 100\ncontext_len = 10\nwidth = 8\nvalue_dim = 4\nb_x = 1.0\nb_qk = 1.0\nb_v = 1.0\nb_v21 = 1.0\nb_w = 1.0\ndelta = 7.0\n"))], 1, "delta"),
    f("bound --config @/b.toml", &[("b.toml", Bytes(|| vec![0xff, 0xfe, 0x00]))], 1, "b.toml"),
    c("bound --config @", 1, "cannot access"),
    // --- construct
    c("construct --context-len 0", 1, "context_len"),
    c("construct --context-len 1000000000000", 1, "context_len"),
    c("construct --context-len 100000000 --verify", 1, "context_len"),
    c("construct --context-len 18446744073709551615", 1, "context_len"),
    c("construct --sparsity 0", 1, "sparsity"),
    c("construct --sparsity 30 --context-len 10", 1, "sparsity"),
    c("construct --sparsity 25 --context-len 100", 1, "sparsity"),
    c("construct --eta0 0", 1, "eta0"),
    c("construct --eta0 1", 1, "eta0"),
    c("construct --eta0 nan", 1, "eta0"),
    c("construct --eta0 0.9 --sparsity 3", 1, "eta0"),
    c("construct --task truth-table", 1, "truth-table"),
    c("construct --task truth-table --truth-table 0120", 1, "truth-table"),
    c("construct --task truth-table --truth-table 011", 1, "truth-table length"),
    c("construct --task truth-table --truth-table 0", 1, "truth-table length"),
    c("construct --task majority --sparsity 2", 1, "sparsity"),
    c("construct --task majority --sparsity 4", 1, "sparsity"),
    c("construct --context-len 100 --verify --inputs 0", 1, "inputs"),
    c("construct --context-len 100 --verify --inputs 10000000000", 1, "inputs"),
    c("construct --context-len 100000 --positional random --verify --inputs 1000000001", 1, "inputs"),
    c("construct --eta0 -0.5", 1, "eta0"),
    c("construct --context-len 1000000 --sparsity 20 --positional random", 1, "context_len"),
    // --- norms: flags
    f("norms --weights @/m.safetensors --num-samples 100 --context-len 5 --b-x 1 --gamma -1", &[("m.safetensors", Bytes(st_ok))], 1, "gamma"),
    f("norms --weights @/m.safetensors --num-samples 100 --context-len 5 --b-x 1 --delta 2", &[("m.safetensors", Bytes(st_ok))], 1, "delta"),
    f("norms --weights @/m.safetensors --num-samples 100 --context-len 5 --b-x -1", &[("m.safetensors", Bytes(st_ok))], 1, "b_x"),
    f("norms --weights @/m.safetensors --num-samples 100 --context-len 5", &[("m.safetensors", Bytes(st_ok))], 1, "b_x"),
    f("norms --weights @/m.safetensors --num-samples 0 --context-len 5 --b-x 1", &[("m.safetensors", Bytes(st_ok))], 1, "num_samples"),
    f("norms --weights @/m.safetensors --num-samples 100 --context-len 0 --b-x 1", &[("m.safetensors", Bytes(st_ok))], 1, "context_len"),
    f("norms --weights @/m.safetensors --num-samples 100 --context-len 5 --b-x 1 --heads 0", &[("m.safetensors", Bytes(st_no_meta))], 1, "heads"),
    f("norms --weights @/m.safetensors --num-samples 100 --context-len 5 --b-x 1 --heads 18446744073709551615", &[("m.safetensors", Bytes(st_no_meta))], 1, "heads"),
    f("norms --weights @/m.safetensors --num-samples 100 --context-len 5 --b-x 1 --heads 1000000000000", &[("m.safetensors", Bytes(st_no_meta))], 1, "heads"),
    f("norms --weights @/m.safetensors --num-samples 100 --context-len 5 --b-x 1 --heads 3", &[("m.safetensors", Bytes(st_no_meta))], 1, "heads"),
    f("norms --weights @/m.safetensors --num-samples 100 --context-len 5 --b-x 1 --heads 1", &[("m.safetensors", Bytes(st_ok))], 1, "heads"),
    f("norms --weights @/m.safetensors --num-samples 100 --context-len 5 --b-x 1", &[("m.safetensors", Bytes(st_no_meta))], 1, "heads"),
    f("norms --weights @/m.safetensors --num-samples 100 --context-len 5 --b-x 1 --layout conv", &[("m.safetensors", Bytes(st_ok))], 1, "layout"),
    f("norms --weights @/m.safetensors --num-samples 100 --context-len 5 --b-x 1 --layout separate-qkv", &[("m.safetensors", Bytes(st_ok))], 1, "tensor"),
    // --- norms: safetensors files
    c("norms --weights @/absent.safetensors --num-samples 100 --context-len 5 --b-x 1", 1, "absent.safetensors"),
    c("norms --weights @ --num-samples 100 --context-len 5 --b-x 1", 1, "cannot access"),
    f("norms --weights @/m.safetensors --num-samples 100 --context-len 5 --b-x 1", &[("m.safetensors", Text("hello, I am not a model"))], 1, "safetensors"),
    f("norms --weights @/m.safetensors --num-samples 100 --context-len 5 --b-x 1", &[("m.safetensors", Bytes(st_short))], 1, "safetensors"),
    f("norms --weights @/m.safetensors --num-samples 100 --context-len 5 --b-x 1", &[("m.safetensors", Bytes(st_truncated))], 1, "safetensors"),
    f("norms --weights @/m.safetensors --num-samples 100 --context-len 5 --b-x 1", &[("m.safetensors", Bytes(st_header_huge))], 1, "safetensors"),
    f("norms --weights @/m.safetensors --num-samples 100 --context-len 5 --b-x 1", &[("m.safetensors", Bytes(st_header_not_json))], 1, "safetensors"),
    f("norms --weights @/m.safetensors --num-samples 100 --context-len 5 --b-x 1 --heads 1", &[("m.safetensors", Bytes(st_duplicate))], 1, "readout.weight"),
    f("norms --weights @/m.safetensors --num-samples 100 --context-len 5 --b-x 1 --heads 1", &[("m.safetensors", Bytes(st_bad_dtype))], 1, "readout.weight"),
    f("norms --weights @/m.safetensors --num-samples 100 --context-len 5 --b-x 1 --heads 1", &[("m.safetensors", Bytes(st_offsets))], 1, "safetensors"),
    f("norms --weights @/m.safetensors --num-samples 100 --context-len 5 --b-x 1 --heads 1", &[("m.safetensors", Bytes(st_shape_overflow))], 1, "safetensors"),
    f("norms --weights @/m.safetensors --num-samples 100 --context-len 5 --b-x 1", &[("m.safetensors", Bytes(st_meta_huge))], 1, "metadata heads"),
    f("norms --weights @/m.safetensors --num-samples 100 --context-len 5 --b-x 1", &[("m.safetensors", Bytes(st_meta_bad))], 1, "metadata heads"),
    f("norms --weights @/m.safetensors --num-samples 100 --context-len 5 --b-x 1", &[("m.safetensors", Bytes(st_meta_zero))], 1, "heads"),
    f("norms --weights @/m.safetensors --num-samples 100 --context-len 5 --b-x 1", &[("m.safetensors", Bytes(st_meta_three))], 1, "heads"),
    f("norms --weights @/m.safetensors --num-samples 100 --context-len 5 --b-x 1", &[("m.safetensors", Bytes(st_bad_activation))], 1, "activation"),
    f("norms --weights @/m.safetensors --num-samples 100 --context-len 5 --b-x 1", &[("m.safetensors", Bytes(st_zero))], 1, "query and key"),
    f("norms --weights @/m.safetensors --num-samples 100 --context-len 5 --b-x 1", &[("m.safetensors", Bytes(st_nan))], 1, "in_proj_weight"),
    f("norms --weights @/m.safetensors --num-samples 100 --context-len 5 --b-x 1", &[("m.safetensors", Bytes(st_missing_readout))], 1, "readout.weight"),
    f("norms --weights @/m.safetensors --num-samples 100 --context-len 5 --b-x 1", &[("m.safetensors", Bytes(st_bad_shape))], 1, "readout.weight"),
    f("norms --weights @/m.safetensors --num-samples 100 --context-len 5 --b-x 1", &[("m.safetensors", Bytes(st_not_three))], 1, "in_proj_weight"),
    // --- norms: Hugging Face checkpoint directories (config.json + safetensors)
    f("norms --weights @", &[("config.json", Text("{not json"))], 1, "config.json"),
    f("norms --weights @", &[("config.json", Text("{\"model_type\": \"llama\"}"))], 1, "model_type"),
    f("norms --weights @", &[("config.json", Text("{\"model_type\": \"gpt2\", \"n_layer\": 1, \"n_head\": 0, \"n_embd\": 4}"))], 1, "n_head"),
    f("norms --weights @", &[("config.json", Text("{\"model_type\": \"gpt2\", \"n_layer\": 1, \"n_head\": 18446744073709551615, \"n_embd\": 4}"))], 1, "n_head"),
    f("norms --weights @", &[("config.json", Text("{\"model_type\": \"gpt2\", \"n_layer\": 1, \"n_head\": 3, \"n_embd\": 4}"))], 1, "n_head"),
    f("norms --weights @", &[("config.json", Text("{\"model_type\": \"gpt2\", \"n_head\": 2, \"n_embd\": 4}"))], 1, "n_layer"),
    f("norms --weights @", &[("config.json", Text("{\"model_type\": \"gpt2\", \"n_layer\": 1, \"n_head\": 2, \"n_embd\": 4}")), ("pytorch_model.bin", Text("PK"))], 1, "save_file"),
    f("norms --weights @", &[("config.json", Text("{\"model_type\": \"gpt2\", \"n_layer\": 1, \"n_head\": 2, \"n_embd\": 4}"))], 1, "model.safetensors"),
    f("norms --weights @", &[("config.json", Text("{\"model_type\": \"gpt2\", \"n_layer\": 1, \"n_head\": 2, \"n_embd\": 4}")), ("model.safetensors", Text("hello, I am not a model"))], 1, "model.safetensors"),
    f("norms --weights @", &[("config.json", Text("{\"model_type\": \"bert\", \"num_hidden_layers\": 1, \"num_attention_heads\": 2, \"hidden_size\": 4}")), ("model.safetensors", Bytes(st_ok))], 1, "encoder.layer.0.attention.self.query.weight"),
    f("norms --weights @", &[("config.json", Text("{\"model_type\": \"gpt2\", \"n_layer\": 1, \"n_head\": 2, \"n_embd\": 4}")), ("model.safetensors.index.json", Text("{\"weight_map\": {\"a\": \"../x.safetensors\"}}"))], 1, "weight_map"),
    f("norms --weights @", &[("config.json", Text("{\"model_type\": \"gpt2\", \"n_layer\": 1, \"n_head\": 2, \"n_embd\": 4}")), ("model.safetensors.index.json", Text("{\"weight_map\": {\"a\": \"gone.safetensors\"}}"))], 1, "gone.safetensors"),
    f("norms --weights @/m.safetensors --num-samples 100 --context-len 5 --b-x 1 --format xml", &[("m.safetensors", Bytes(st_ok))], 1, "format"),
    f("norms --weights @/m.safetensors --context-len 5 --b-x 1", &[("m.safetensors", Bytes(st_ok))], 1, "num_samples"),
    // --- norms: layout TOML files
    f("norms --weights @/m.safetensors --num-samples 100 --context-len 5 --b-x 1 --layout @/missing.toml", &[("m.safetensors", Bytes(st_ok))], 1, "missing.toml"),
    f("norms --weights @/m.safetensors --num-samples 100 --context-len 5 --b-x 1 --layout @/l.toml", &[("m.safetensors", Bytes(st_ok)), ("l.toml", Text(LAYOUT_UNKNOWN))], 1, "colour"),
    f("norms --weights @/m.safetensors --num-samples 100 --context-len 5 --b-x 1 --layout @/l.toml", &[("m.safetensors", Bytes(st_ok)), ("l.toml", Text("orientation = \"sideways\"\nqkv = \"a\"\nout = \"b\"\nreadout = \"c\"\n"))], 1, "orientation"),
    f("norms --weights @/m.safetensors --num-samples 100 --context-len 5 --b-x 1 --layout @/l.toml", &[("m.safetensors", Bytes(st_ok)), ("l.toml", Text("orientation = \"out_in\"\nout = \"b\"\nreadout = \"c\"\n"))], 1, "qkv"),
    f("norms --weights @/m.safetensors --num-samples 100 --context-len 5 --b-x 1 --layout @/l.toml", &[("m.safetensors", Bytes(st_ok)), ("l.toml", Text("orientation = \"out_in\"\nqkv = \"a\"\nq = \"q\"\nk = \"k\"\nv = \"v\"\nout = \"b\"\nreadout = \"c\"\n"))], 1, "qkv"),
    f("norms --weights @/m.safetensors --num-samples 100 --context-len 5 --b-x 1 --layout @/l.toml", &[("m.safetensors", Bytes(st_ok)), ("l.toml", Text("orientation = \"out_in\"\nqkv = \"layers.{k}.qkv\"\nout = \"b\"\nreadout = \"c\"\n"))], 1, "qkv"),
    f("norms --weights @/m.safetensors --num-samples 100 --context-len 5 --b-x 1 --layout @/l.toml", &[("m.safetensors", Bytes(st_ok)), ("l.toml", Text("orientation = \"out_in\"\nqkv = \"a\"\nout = \"b\"\nreadout = \"c\"\nscore_scale = \"huge\"\n"))], 1, "score_scale"),
    f("norms --weights @/m.safetensors --num-samples 100 --context-len 5 --b-x 1 --layout @/l.toml", &[("m.safetensors", Bytes(st_ok)), ("l.toml", Text("orientation = \"out_in\"\nqkv = \"a\"\nout = \"b\"\nreadout = \"c\"\nheads = 0\n"))], 1, "heads"),
    f("norms --weights @/m.safetensors --num-samples 100 --context-len 5 --b-x 1 --layout @/l.toml", &[("m.safetensors", Bytes(st_ok)), ("l.toml", Text("orientation = \"out_in\"\nqkv = \"layers.{l}.attn.in_proj_weight\"\nout = \"layers.{l}.attn.out_proj.weight\"\nreadout = \"readout.weight\"\nheads = 1\n"))], 1, "heads"),
    f("norms --weights @/m.safetensors --num-samples 100 --context-len 5 --b-x 1 --layout @/l.toml", &[("m.safetensors", Bytes(st_ok)), ("l.toml", Text("orientation = \"out_in\"\nqkv = \"nope\"\nout = \"layers.{l}.attn.out_proj.weight\"\nreadout = \"readout.weight\"\n"))], 1, "nope"),
    f("norms --weights @/m.safetensors --num-samples 100 --context-len 5 --b-x 1 --layout @/l.toml", &[("m.safetensors", Bytes(st_ok)), ("l.toml", Text("orientation = [\n"))], 1, "l.toml"),
    f("norms --weights @/m.safetensors --num-samples 100 --context-len 5 --b-x 1 --layout @/l.toml", &[("m.safetensors", Bytes(st_ok)), ("l.toml", Text("orientation = \"out_in\"\nqkv = \"a\"\nout = \"b\"\nreadout = \"c\"\noptional = [\"wings\"]\n"))], 1, "optional"),
    // --- norms: input data for B_X (CSV and safetensors)
    f("norms --weights @/m.safetensors --num-samples 100 --context-len 3 --data @/x.csv", &[("m.safetensors", Bytes(st_ok)), ("x.csv", Text(CSV_RAGGED))], 1, "x.csv line 2"),
    f("norms --weights @/m.safetensors --num-samples 100 --context-len 3 --data @/x.csv", &[("m.safetensors", Bytes(st_ok)), ("x.csv", Text("a,b,c,d\n1,2,3,4\n5,x,7,8\n"))], 1, "x.csv line 3"),
    f("norms --weights @/m.safetensors --num-samples 100 --context-len 3 --data @/x.csv", &[("m.safetensors", Bytes(st_ok)), ("x.csv", Text("1,2,3,nan\n"))], 1, "column 4"),
    f("norms --weights @/m.safetensors --num-samples 100 --context-len 3 --data @/x.csv", &[("m.safetensors", Bytes(st_ok)), ("x.csv", Text("1,2,3,inf\n"))], 1, "column 4"),
    f("norms --weights @/m.safetensors --num-samples 100 --context-len 3 --data @/x.csv", &[("m.safetensors", Bytes(st_ok)), ("x.csv", Text(""))], 1, "x.csv"),
    f("norms --weights @/m.safetensors --num-samples 100 --context-len 3 --data @/x.csv", &[("m.safetensors", Bytes(st_ok)), ("x.csv", Text("# only a comment\n"))], 1, "x.csv"),
    f("norms --weights @/m.safetensors --num-samples 100 --context-len 3 --data @/x.csv", &[("m.safetensors", Bytes(st_ok)), ("x.csv", Text("h1,h2\n"))], 1, "x.csv"),
    f("norms --weights @/m.safetensors --num-samples 100 --context-len 3 --data @/x.csv", &[("m.safetensors", Bytes(st_ok)), ("x.csv", Text("1,2,3\n"))], 1, "x.csv"),
    f("norms --weights @/m.safetensors --num-samples 100 --context-len 3 --data @/x.csv", &[("m.safetensors", Bytes(st_ok)), ("x.csv", Bytes(|| vec![b'1', b',', 0xff, b'\n']))], 1, "x.csv"),
    f("norms --weights @/m.safetensors --num-samples 100 --context-len 3 --data @/x.csv", &[("m.safetensors", Bytes(st_ok)), ("x.csv", Text("1e999,0,0,0\n"))], 1, "x.csv"),
    f("norms --weights @/m.safetensors --num-samples 100 --context-len 3 --data @/nope.csv", &[("m.safetensors", Bytes(st_ok))], 1, "nope.csv"),
    f("norms --weights @/m.safetensors --num-samples 100 --context-len 3 --data @/x.st", &[("m.safetensors", Bytes(st_ok)), ("x.st", Bytes(st_inputs_two))], 1, "exactly one tensor"),
    f("norms --weights @/m.safetensors --num-samples 100 --context-len 3 --data @/x.st", &[("m.safetensors", Bytes(st_ok)), ("x.st", Bytes(st_inputs_rank1))], 1, "x.st"),
    f("norms --weights @/m.safetensors --num-samples 100 --context-len 3 --data @/x.st", &[("m.safetensors", Bytes(st_ok)), ("x.st", Bytes(st_inputs_wrong_width))], 1, "x.st"),
    f("norms --weights @/m.safetensors --num-samples 100 --context-len 3 --data @/x.st", &[("m.safetensors", Bytes(st_ok)), ("x.st", Bytes(st_inputs_wrong_t))], 1, "x.st"),
    f("norms --weights @/m.safetensors --num-samples 100 --context-len 9 --data @/x.st", &[("m.safetensors", Bytes(st_ok)), ("x.st", Bytes(st_inputs_ok_width))], 1, "x.st"),
    f("norms --weights @/m.safetensors --num-samples 100 --context-len 3 --data @/x.st", &[("m.safetensors", Bytes(st_ok)), ("x.st", Text("not safetensors"))], 1, "x.st"),
    f("norms --weights @/m.safetensors --num-samples 100 --context-len 3 --data @/x.st", &[("m.safetensors", Bytes(st_ok)), ("x.st", Bytes(st_duplicate))], 1, "readout.weight"),
    f("norms --weights @/m.safetensors --num-samples 100 --context-len 3 --b-x 1 --data @/x.csv", &[("m.safetensors", Bytes(st_ok))], 2, "--data"),
    f("norms --weights @/m.safetensors --num-samples 100 --context-len 5 --b-x 1", &[("m.safetensors", Sparse(1 << 36))], 1, "weights"),
    f("norms --weights @/m.safetensors --num-samples 100 --context-len 3 --data @/x.csv", &[("m.safetensors", Bytes(st_ok)), ("x.csv", Sparse(1 << 36))], 1, "data"),
    f("experiment gap --config @/c.toml --db @/db.sqlite --out @/out", &[("c.toml", Sparse(1 << 36))], 1, "c.toml"),
    f("bound --config @/b.toml", &[("b.toml", Sparse(1 << 36))], 1, "b.toml"),
    // --- gap --config files (more: CONFIG_CASES)
    c("experiment gap --config @/missing.toml --db @/db.sqlite --out @/out", 1, "missing.toml"),
    c("experiment gap --config @ --db @/db.sqlite --out @/out", 1, "cannot access"),
    f("experiment gap --config @/c.toml --db @/db.sqlite --out @/out", &[("c.toml", Text("name = \"x\"\ntask = [\n"))], 1, "c.toml"),
    f("experiment gap --config @/c.toml --db @/db.sqlite --out @/out", &[("c.toml", Text(gap_config!("task = \"and\"")))], 1, "sparsity"),
    f("experiment gap --config @/c.toml --db @/db.sqlite --out @/out", &[("c.toml", Bytes(|| vec![0xc3, 0x28]))], 1, "c.toml"),
    // --- experiments: threads, output folders, stores
    c("experiment gap --preset smoke --threads 0 --db @/db.sqlite --out @/out", 1, "threads"),
    c("experiment gap --preset smoke --threads 100000000 --db @/db.sqlite --out @/out", 1, "threads"),
    c("experiment gap --preset smoke --threads 100000 --db @/db.sqlite --out @/out", 1, "threads"),
    c("experiment capacity --preset smoke --threads 0 --db @/db.sqlite --out @/out", 1, "threads"),
    c("experiment capacity --preset smoke --threads 100000000 --db @/db.sqlite --out @/out", 1, "threads"),
    c("experiment critical-sample-size --preset smoke --threads 0 --db @/db.sqlite --out @/out", 1, "threads"),
    c("experiment critical-sample-size --preset smoke --threads 100000000 --db @/db.sqlite --out @/out", 1, "threads"),
    c("experiment sparse-parity --preset smoke --threads 0 --db @/db.sqlite --out @/out", 1, "threads"),
    c("experiment sparse-parity --preset smoke --threads 100000000 --db @/db.sqlite --out @/out", 1, "threads"),
    c("experiment attention-map --preset smoke --threads 0 --db @/db.sqlite --out @/out", 1, "threads"),
    c("experiment attention-map --preset smoke --threads 100000000 --db @/db.sqlite --out @/out", 1, "threads"),
    c("experiment constructions --preset smoke --threads 0 --out @/out", 1, "threads"),
    c("experiment bound-curves --preset smoke --threads 100000000 --out @/out", 1, "threads"),
    c("figures --preset smoke --threads 0 --db @/db.sqlite --out @/out", 1, "threads"),
    c("figures --preset smoke --threads 100000000 --db @/db.sqlite --out @/out", 1, "threads"),
    f("experiment constructions --preset smoke --out @/file", &[("file", Text("a file, not a folder"))], 1, "file"),
    f("experiment bound-curves --preset smoke --out @/file/sub", &[("file", Text("a file"))], 1, "file/sub"),
    f("experiment sparse-parity --preset smoke --db @/db.sqlite --out @/file", &[("file", Text("a file"))], 1, "file"),
    f("experiment attention-map --preset smoke --db @/db.sqlite --out @/file", &[("file", Text("a file"))], 1, "file"),
    f("experiment critical-sample-size --preset smoke --db @/db.sqlite --out @/file", &[("file", Text("a file"))], 1, "file"),
    f("experiment sparse-parity --preset smoke --db @/db.sqlite --out @/out", &[("db.sqlite", Text("this is not a database at all, just text padding it out"))], 1, "db.sqlite"),
    c("experiment sparse-parity --preset smoke --db @ --out @/out", 1, "cannot access"),
    f("experiment sparse-parity --preset smoke --db @/file/db.sqlite --out @/out", &[("file", Text("a file"))], 1, "/file"),
    // --- results export
    c("results export --db @/absent.sqlite", 1, "absent.sqlite"),
    f("results export --db @/big.sqlite", &[("big.sqlite", Sparse(1 << 36))], 1, "db"),
    f("results export --db @/db.sqlite --out @/no/such/dir/x.csv", &[("db.sqlite", Bytes(empty_store))], 1, "x.csv"),
    f("results export --db @/db.sqlite", &[("db.sqlite", Text("this is not a database at all, just text padding it out"))], 1, "db.sqlite"),
    f("results export --db @/db.sqlite", &[("db.sqlite", Bytes(|| vec![0u8; 4096]))], 1, "db.sqlite"),
    // --- certify --weights: a one-block model with embeddings, certified on a fresh sample
    f("certify --weights @/m.safetensors", &[("m.safetensors", Bytes(st_ok))], 1, "embedding"),
    f("certify --weights @/m.safetensors", &[("m.safetensors", Bytes(st_emb_two_layers))], 1, "layers"),
    f("certify --weights @/m.safetensors", &[("m.safetensors", Bytes(st_emb_nan))], 1, "pos_emb.weight"),
    f("certify --weights @/m.safetensors --delta 1.5", &[("m.safetensors", Bytes(st_emb))], 1, "delta"),
    f("certify --weights @/m.safetensors --delta 0", &[("m.safetensors", Bytes(st_emb))], 1, "delta"),
    f("certify --weights @/m.safetensors --num-samples 0", &[("m.safetensors", Bytes(st_emb))], 1, "num_samples"),
    f("certify --weights @/m.safetensors --sparsity 6", &[("m.safetensors", Bytes(st_emb))], 1, "sparsity"),
    f("certify --weights @/m.safetensors --sparsity 0", &[("m.safetensors", Bytes(st_emb))], 1, "sparsity"),
    f("certify --weights @/m.safetensors --sparsity 2 --hidden-set 1,9", &[("m.safetensors", Bytes(st_emb))], 1, "support[1]"),
    f("certify --weights @/m.safetensors --sparsity 2 --hidden-set 1", &[("m.safetensors", Bytes(st_emb))], 1, "hidden_set"),
    f("certify --weights @/m.safetensors --task xor", &[("m.safetensors", Bytes(st_emb))], 1, "task"),
    f("certify --weights @/m.safetensors --fresh-samples 0", &[("m.safetensors", Bytes(st_emb))], 1, "fresh_samples"),
    // Issue 19 item 3 (store identity, another engineer's slice): once it merges, a database
    // without the store's application_id is refused with a message saying what was found.
    Case { args: "results export --db @/other.sqlite", files: &[("other.sqlite", Bytes(unrelated_sqlite))], code: 1, needle: "application_id" },
    Case { args: "experiment sparse-parity --preset smoke --db @/other.sqlite --out @/out", files: &[("other.sqlite", Bytes(unrelated_sqlite))], code: 1, needle: "application_id" },
];

// ---------------------------------------------------------------- the runner

struct Outcome {
    code: Option<i32>,
    stderr: String,
    elapsed: Duration,
    timed_out: bool,
}

/// A fixture made ready to write.
enum Made {
    Bytes(Vec<u8>),
    Sparse(u64),
}

fn run_case(args: &str, files: &[(&str, Made)]) -> Outcome {
    let dir = tempfile::tempdir().unwrap();
    for (name, fixture) in files {
        let path = dir.path().join(name);
        match fixture {
            Made::Bytes(bytes) => std::fs::write(path, bytes).unwrap(),
            Made::Sparse(len) => std::fs::File::create(path).unwrap().set_len(*len).unwrap(),
        }
    }
    let root = dir.path().to_str().unwrap();
    let argv: Vec<String> = args
        .split_whitespace()
        .map(|a| {
            if a == "@" {
                root.to_string()
            } else {
                a.replacen("@/", &format!("{root}/"), 1)
            }
        })
        .collect();
    let exe = env!("CARGO_BIN_EXE_attnbounds");
    let mut cmd = if Path::new("/usr/bin/prlimit").exists() {
        let mut c = Command::new("/usr/bin/prlimit");
        c.arg(format!("--as={ADDRESS_SPACE}")).arg("--").arg(exe);
        c
    } else {
        Command::new(exe)
    };
    let mut child = cmd
        .args(&argv)
        .current_dir(dir.path())
        .env_remove("ATTNBOUNDS_MEMORY_LIMIT")
        .env_remove("ATTNBOUNDS_WORK_LIMIT")
        .env("RUST_BACKTRACE", "0")
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let mut err_pipe = child.stderr.take().unwrap();
    let reader = std::thread::spawn(move || {
        let mut s = Vec::new();
        let _ = err_pipe.read_to_end(&mut s);
        s
    });
    let t0 = Instant::now();
    let mut timed_out = false;
    let status = loop {
        if let Some(st) = child.try_wait().unwrap() {
            break st;
        }
        if t0.elapsed() > TIMEOUT {
            let _ = child.kill();
            timed_out = true;
            break child.wait().unwrap();
        }
        std::thread::sleep(Duration::from_millis(5));
    };
    let elapsed = t0.elapsed();
    let stderr = String::from_utf8_lossy(&reader.join().unwrap()).into_owned();
    Outcome {
        code: status.code(),
        stderr,
        elapsed,
        timed_out,
    }
}

/// Every case as (label, args, files, code, needle).
type Prepared = (String, String, Vec<(&'static str, Made)>, i32, String);

fn all_cases() -> Vec<Prepared> {
    let mut out = Vec::new();
    for (i, k) in CASES.iter().enumerate() {
        let files = k
            .files
            .iter()
            .map(|(n, fx)| {
                let b = match fx {
                    Text(t) => Made::Bytes(t.as_bytes().to_vec()),
                    Bytes(g) => Made::Bytes(g()),
                    Sparse(n) => Made::Sparse(*n),
                };
                (*n, b)
            })
            .collect();
        out.push((
            format!("case {i}"),
            k.args.to_string(),
            files,
            k.code,
            k.needle.to_string(),
        ));
    }
    for (i, (top, train, needle)) in CONFIG_CASES.iter().enumerate() {
        let text = config(top, train);
        out.push((
            format!("config case {i} ({top} | {train})"),
            "experiment gap --config @/c.toml --db @/db.sqlite --out @/out".to_string(),
            vec![("c.toml", Made::Bytes(text.into_bytes()))],
            1,
            needle.to_string(),
        ));
    }
    out
}

#[test]
fn bad_inputs_give_clear_errors_and_never_panic_abort_or_hang() {
    let cases = all_cases();
    assert!(cases.len() >= 150, "only {} cases", cases.len());
    let next = std::sync::atomic::AtomicUsize::new(0);
    let results = std::sync::Mutex::new(Vec::new());
    std::thread::scope(|s| {
        for _ in 0..2 {
            s.spawn(|| {
                loop {
                    let i = next.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
                    let Some((label, args, files, code, needle)) = cases.get(i) else {
                        break;
                    };
                    let o = run_case(args, files);
                    results.lock().unwrap().push((
                        label.clone(),
                        args.clone(),
                        *code,
                        needle.clone(),
                        o,
                    ));
                }
            });
        }
    });
    let results = results.into_inner().unwrap();
    let (mut clear, mut panics, mut aborts, mut hangs) = (0, 0, 0, 0);
    let mut failures = Vec::new();
    let mut slowest = Duration::ZERO;
    for (label, args, code, needle, o) in &results {
        slowest = slowest.max(o.elapsed);
        let panicked = o.stderr.contains("panicked") || o.code == Some(101);
        let aborted = !o.timed_out && (o.code.is_none() || o.code == Some(134));
        panics += usize::from(panicked);
        aborts += usize::from(aborted);
        hangs += usize::from(o.timed_out);
        let robust = !panicked && !aborted && !o.timed_out;
        let named = o.stderr.to_lowercase().contains(&needle.to_lowercase());
        let ok = robust && o.code == Some(*code) && named;
        clear += usize::from(ok);
        if !ok {
            failures.push(format!(
                "{label} `{args}`: expected exit {code} naming `{needle}`, got code {:?} after {:.1?}{}{}{}; stderr:\n{}",
                o.code,
                o.elapsed,
                if panicked { " PANIC" } else { "" },
                if aborted { " ABORT" } else { "" },
                if o.timed_out { " HANG" } else { "" },
                o.stderr
            ));
        }
    }
    eprintln!(
        "bad inputs: {} cases, {clear} clear errors, panics = {panics}, aborts = {aborts}, hangs = {hangs}, slowest {slowest:.1?}",
        results.len()
    );
    assert!(
        failures.is_empty(),
        "{} failing case(s):\n{}",
        failures.len(),
        failures.join("\n")
    );
}

/// The runner itself can fail: a case expecting the wrong field, a panic or a hang are caught.
#[test]
fn the_runner_detects_wrong_fields_and_slow_children() {
    let o = run_case("bound --num-samples 100", &[]);
    assert_eq!(o.code, Some(1));
    assert!(
        o.stderr.contains("context_len") && !o.stderr.contains("width = "),
        "{}",
        o.stderr
    );
    assert!(!o.timed_out && o.elapsed < TIMEOUT);
}
