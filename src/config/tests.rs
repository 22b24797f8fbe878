use super::*;

const VALID: &str = r#"
name = "t"
task = "and"
sparsity = 3
context_len = [5, 100]
num_samples = [10, 200]
model = "cls_head"
trials = 3
seed = 7
"#;

fn with(line_from: &str, line_to: &str) -> String {
    assert!(VALID.contains(line_from), "test setup: {line_from}");
    VALID.replace(line_from, line_to)
}

fn invalid_field(text: &str) -> (String, String) {
    match SweepConfig::from_toml(text, "test.toml").unwrap_err() {
        Error::InvalidValue { field, value, .. } => (field, value),
        other => panic!("expected InvalidValue, got {other:?}"),
    }
}

#[test]
fn presets_parse_validate_and_have_the_promised_scale() {
    for (name, _) in PRESETS {
        let config = preset(name).unwrap();
        assert_eq!(config.name, name);
    }
    let smoke = preset("smoke").unwrap();
    assert!(smoke.cells().len() * smoke.trials <= 8 && smoke.train.steps <= 50);
    // docs/experiments.md §3: the paper's experiment is 3-sparse AND with context_len up to >= 1000.
    let paper = preset("paper").unwrap();
    assert_eq!((paper.task, paper.sparsity), (TaskName::And, 3));
    assert!(paper.context_len.iter().max().is_some_and(|&t| t >= 1000));
    assert!(preset("huge").is_err());
}

#[test]
fn cells_expand_in_file_order_and_defaults_fill_train() {
    let config = SweepConfig::from_toml(VALID, "test.toml").unwrap();
    let pairs: Vec<_> = config
        .cells()
        .iter()
        .map(|c| (c.context_len, c.num_samples))
        .collect();
    assert_eq!(pairs, [(5, 10), (5, 200), (100, 10), (100, 200)]);
    assert_eq!(config.train, TrainConfig::default());
}

#[test]
fn cell_hash_is_sha256_of_the_documented_canonical_json() {
    let config = SweepConfig::from_toml(VALID, "test.toml").unwrap();
    let cell = &config.cells()[3];
    let (json, hash) = canonical_hash(cell).unwrap();
    assert_eq!(
        json,
        r#"{"task":"and","truth_table":null,"sparsity":3,"context_len":100,"num_samples":200,"model":"cls_head","train":{"steps":2000,"learning_rate":0.001,"optimizer":"adam","momentum":0.0,"batch_size":64,"loss":"logistic","gamma":1.0,"init_scale":1.0,"head_activation":"tanh","width":16,"value_dim":8,"heads":1,"mlp_width":32,"weight_decay":0.0,"norm_ball":null,"target_loss":0.01,"patience":0,"eval_every":0,"population_samples":20000},"seed":7}"#
    );
    // Reference: Python `hashlib.sha256(json.encode()).hexdigest()` of the string above.
    assert_eq!(
        hash,
        "3fdf700db1a4c60d73442cd1d29645361f23f7585694612fe2672cffcf67e227"
    );
    // The name and the number of trials are not part of a cell; the seed and each field are.
    let renamed = SweepConfig::from_toml(
        &with("name = \"t\"", "name = \"u\"\n").replace("trials = 3", "trials = 9"),
        "x",
    )
    .unwrap();
    assert_eq!(canonical_hash(&renamed.cells()[3]).unwrap().1, hash);
    let mut other = cell.clone();
    other.seed = 8;
    assert_ne!(canonical_hash(&other).unwrap().1, hash);
    other = cell.clone();
    other.train.learning_rate = 0.002;
    assert_ne!(canonical_hash(&other).unwrap().1, hash);
}

#[test]
fn errors_name_the_field_and_the_value() {
    // Unknown task and model: our TryFrom error, wrapped by the TOML parser with the location.
    let e = SweepConfig::from_toml(&with("task = \"and\"", "task = \"andd\""), "test.toml")
        .unwrap_err();
    let s = e.to_string();
    assert!(
        matches!(e, Error::Parse { .. })
            && s.contains("task")
            && s.contains("andd")
            && s.contains("parity"),
        "{s}"
    );
    let e = SweepConfig::from_toml(&with("\"cls_head\"", "\"mlp\""), "test.toml").unwrap_err();
    assert!(
        e.to_string().contains("mlp") && e.to_string().contains("transformer"),
        "{e}"
    );
    assert_eq!(
        invalid_field(&with("sparsity = 3", "sparsity = 6")),
        ("sparsity".into(), "6".into())
    );
    let majority_even =
        with("task = \"and\"", "task = \"majority\"").replace("sparsity = 3", "sparsity = 2");
    assert_eq!(
        invalid_field(&majority_even),
        ("sparsity".into(), "2".into())
    );
    assert_eq!(
        invalid_field(&with("[10, 200]", "[10, 0]")),
        ("num_samples[1]".into(), "0".into())
    );
    assert_eq!(invalid_field(&with("[5, 100]", "[]")).0, "context_len");
    assert_eq!(invalid_field(&with("trials = 3", "trials = 0")).0, "trials");
    let tt_missing = with("task = \"and\"", "task = \"truth_table\"");
    assert_eq!(invalid_field(&tt_missing).0, "truth_table");
    let tt_short = format!("{tt_missing}truth_table = [true, false]\n");
    assert_eq!(
        invalid_field(&tt_short),
        ("truth_table".into(), "length 2".into())
    );
    let bad_lr = format!("{VALID}[train]\nlearning_rate = -1.0\n");
    assert_eq!(
        invalid_field(&bad_lr),
        ("train.learning_rate".into(), "-1".into())
    );
    // Malformed TOML, an unknown field, a missing field: parse errors naming the source.
    for text in [
        "name = ",
        &format!("{VALID}colour = 1\n"),
        &VALID.replace("seed = 7", ""),
    ] {
        match SweepConfig::from_toml(text, "test.toml").unwrap_err() {
            Error::Parse { source, .. } => assert_eq!(source, "test.toml"),
            other => panic!("{other:?}"),
        }
    }
    assert!(matches!(
        SweepConfig::load("/nonexistent/sweep.toml").unwrap_err(),
        Error::Io { .. }
    ));
}

#[test]
fn load_reads_a_file() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("sweep.toml");
    std::fs::write(&path, VALID).unwrap();
    assert_eq!(
        SweepConfig::load(&path).unwrap(),
        SweepConfig::from_toml(VALID, "x").unwrap()
    );
}

/// The stop rule is parsed from TOML, and only a non-default rule enters the canonical JSON
/// (cells hashed before the field existed keep their hashes, checked by the test above).
#[test]
fn stop_rule_parses_and_only_a_non_default_rule_is_hashed() {
    let toml = format!("{VALID}[train]\nstop = \"first_fit\"\neval_every = 1\n");
    let config = SweepConfig::from_toml(&toml, "test.toml").unwrap();
    assert_eq!(config.train.stop, StopRule::FirstFit);
    let (json, _) = canonical_hash(&config.cells()[0]).unwrap();
    assert!(
        json.contains(r#""population_samples":20000,"stop":"first_fit"}"#),
        "{json}"
    );
    let e =
        SweepConfig::from_toml(&format!("{VALID}[train]\nstop = \"early\"\n"), "t").unwrap_err();
    assert!(e.to_string().contains("train.stop"), "{e}");
}

#[test]
fn radius_rule_parses_hashes_only_when_set_and_names_bad_values() {
    // Default: absent from the canonical JSON (the pinned JSON above has no radius_rule).
    let config = SweepConfig::from_toml(VALID, "test.toml").unwrap();
    let (json, _) = canonical_hash(&config.cells()[0]).unwrap();
    assert!(!json.contains("radius_rule"), "{json}");
    let text = VALID.replace(
        "seed = 7",
        "seed = 7\n[train]\nradius_rule = \"construction:2.5\"",
    );
    let config = SweepConfig::from_toml(&text, "test.toml").unwrap();
    assert_eq!(
        config.train.radius_rule,
        RadiusRule::Construction { multiple: 2.5 }
    );
    let (json, _) = canonical_hash(&config.cells()[0]).unwrap();
    assert!(
        json.contains(r#""radius_rule":"construction:2.5""#),
        "{json}"
    );
    for bad in [
        "construction",
        "construction:0",
        "construction:-1",
        "construction:inf",
        "ball",
    ] {
        let text = VALID.replace(
            "seed = 7",
            &format!("seed = 7\n[train]\nradius_rule = \"{bad}\""),
        );
        let err = SweepConfig::from_toml(&text, "test.toml")
            .unwrap_err()
            .to_string();
        assert!(
            err.contains("train.radius_rule") && err.contains(bad),
            "{bad}: {err}"
        );
    }
    // The rule sets the radii: an explicit ball beside it is refused, and so is another model.
    let text = VALID.replace(
        "seed = 7",
        "seed = 7\n[train]\nradius_rule = \"construction:2\"\nnorm_ball = { b_qk = 1.0, b_v = 1.0, b_v21 = 1.0, b_w = 1.0 }",
    );
    assert_eq!(invalid_field(&text).0, "train.norm_ball");
    let text = with("model = \"cls_head\"", "model = \"transformer\"").replace(
        "seed = 7",
        "seed = 7\n[train]\nradius_rule = \"construction:2\"",
    );
    assert_eq!(invalid_field(&text).0, "train.radius_rule");
}
