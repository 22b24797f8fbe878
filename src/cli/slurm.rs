//! `attnbounds slurm <experiment> --preset P --array N --out DIR`: writes the scripts that run a
//! sweep as a Slurm job array over N shards on shared storage, then a dependent job that merges
//! the shard stores and renders the figures (docs/slurm.md).
//!
//! Written into DIR (made absolute; it must be on storage every node sees):
//! - `array.sbatch`: task i of `--array=0-(N-1)` runs `--shard i/N` into `shards/shard-i.sqlite`
//!   (the shard is passed explicitly, so resubmitting only some tasks with `sbatch --array=2,5
//!   array.sbatch` runs the same shards; a task resumes from its own store);
//! - `merge.sbatch`: `results merge merged.sqlite shards/shard-*.sqlite`, then the experiment
//!   without a shard on `merged.sqlite` (replays every trial, trains nothing) into `figures/`;
//! - `submit.sh`: submits the array, then the merge job with `--dependency=afterok:<array>`.
//!
//! This command only writes files; it never calls Slurm.

use super::PresetArg;
use attnbounds::experiments::Preset;
use attnbounds::experiments::sweep_stage::Stage;
use attnbounds::{Error, Result};
use clap::Args;
use std::path::{Path, PathBuf};

/// Largest `--array` accepted (Slurm's own `MaxArraySize` is usually lower; sbatch says so).
pub const MAX_ARRAY: usize = 100_000;

#[derive(Args, Debug)]
pub struct SlurmArgs {
    /// The experiment to shard (as under `attnbounds experiment`), or `figures` for every sweep
    /// and the whole gallery.
    pub experiment: String,
    /// Scale of the run.
    #[arg(long, value_enum, default_value_t = PresetArg::Default)]
    pub preset: PresetArg,
    /// Number of array tasks (= shards).
    #[arg(long)]
    pub array: usize,
    /// Folder on shared storage for the scripts, the shard stores, the merged store, the logs and
    /// the figures.
    #[arg(long)]
    pub out: PathBuf,
    /// The attnbounds binary the jobs run (on shared storage) [default: this binary].
    #[arg(long)]
    pub binary: Option<PathBuf>,
    /// CPUs per array task (worker threads of each shard).
    #[arg(long, default_value_t = 1)]
    pub cpus_per_task: usize,
    /// Wall-time limit of each job (sbatch --time).
    #[arg(long, default_value = "04:00:00")]
    pub time: String,
    /// Partition (sbatch --partition) [default: the cluster's default].
    #[arg(long)]
    pub partition: Option<String>,
}

/// What the jobs run: `experiment <name>` or the `figures` main job.
enum Target {
    Experiment(Stage),
    Figures,
}

impl Target {
    fn parse(name: &str) -> Result<Target> {
        if name == "figures" {
            return Ok(Target::Figures);
        }
        Stage::parse(name).map(Target::Experiment).map_err(|_| {
            let names: Vec<&str> = Stage::ALL.iter().map(|s| s.name()).collect();
            let allowed = format!(
                "figures or an experiment with a sweep: {} (constructions and bound-curves are \
                 deterministic, with nothing to shard)",
                names.join(", ")
            );
            Error::invalid("experiment", name, allowed)
        })
    }

    /// The command words after the binary.
    fn words(&self) -> Vec<String> {
        match self {
            // The certificates have their own verb (same flags).
            Target::Experiment(Stage::Certificates) => vec!["certify".into()],
            Target::Experiment(s) => vec!["experiment".into(), s.name().into()],
            Target::Figures => vec!["figures".into()],
        }
    }

    fn name(&self) -> &'static str {
        match self {
            Target::Experiment(s) => s.name(),
            Target::Figures => "figures",
        }
    }
}

/// POSIX shell single-quoting.
fn quote(s: &str) -> String {
    format!("'{}'", s.replace('\'', r"'\''"))
}

fn path_text(p: &Path) -> Result<String> {
    p.to_str()
        .map(str::to_string)
        .ok_or_else(|| Error::invalid("path", p.display(), "valid UTF-8"))
}

/// The three files (name, text, executable) for these arguments, with `dir` and `binary`
/// already absolute.
fn scripts(a: &SlurmArgs, dir: &str, binary: &str) -> Result<Vec<(&'static str, String, bool)>> {
    let target = Target::parse(&a.experiment)?;
    attnbounds::error::check::at_least("array", a.array, 1)?;
    if a.array > MAX_ARRAY {
        return Err(Error::invalid(
            "array",
            a.array,
            format!("1 to {MAX_ARRAY}"),
        ));
    }
    attnbounds::error::check::at_least("cpus_per_task", a.cpus_per_task, 1)?;
    let simple = |field: &str, v: &str| {
        if v.is_empty()
            || !v
                .chars()
                .all(|c| c.is_ascii_alphanumeric() || "-_:.,".contains(c))
        {
            return Err(Error::invalid(
                field,
                v,
                "letters, digits and - _ : . , only",
            ));
        }
        Ok(())
    };
    simple("time", &a.time)?;
    if let Some(p) = &a.partition {
        simple("partition", p)?;
    }
    let preset = Preset::from(a.preset).name();
    let (n, cpus) = (a.array, a.cpus_per_task);
    let job = format!("attnbounds-{}-{preset}", target.name());
    let q = |s: &str| quote(s);
    let (bin, d) = (q(binary), q(dir));
    let cmd = target.words().join(" ");
    let partition = a
        .partition
        .as_ref()
        .map_or(String::new(), |p| format!("#SBATCH --partition={p}\n"));
    let header = |name: &str, extra: &str| {
        format!(
            "#!/bin/bash\n\
             # Generated by `attnbounds slurm {exp} --preset {preset} --array {n}` (docs/slurm.md).\n\
             #SBATCH --job-name={name}\n\
             {extra}\
             #SBATCH --cpus-per-task={cpus}\n\
             #SBATCH --time={time}\n\
             {partition}\
             set -euo pipefail\n\
             DIR={d}\n\
             BIN={bin}\n",
            exp = target.name(),
            time = a.time,
        )
    };
    let array = format!(
        "{}# Task i runs shard i/{n} into its own store; rerunning a task resumes from that store.\n\
         SHARD=\"${{SLURM_ARRAY_TASK_ID:?not inside a Slurm array task}}\"\n\
         mkdir -p \"$DIR/shards\"\n\
         \"$BIN\" {cmd} --preset {preset} --shard \"$SHARD/{n}\" \\\n    \
         --db \"$DIR/shards/shard-$SHARD.sqlite\" --out \"$DIR/figures\" \\\n    \
         --threads \"${{SLURM_CPUS_PER_TASK:-{cpus}}}\" --quiet\n",
        header(
            &job,
            &format!(
                "#SBATCH --array=0-{last}\n#SBATCH --output={dir}/logs/%x-%A_%a.out\n",
                last = n - 1
            )
        ),
    );
    let merge = format!(
        "{}# Runs after every array task succeeded (--dependency=afterok, set by submit.sh).\n\
         shards=()\n\
         for i in $(seq 0 {last}); do shards+=(\"$DIR/shards/shard-$i.sqlite\"); done\n\
         \"$BIN\" results merge \"$DIR/merged.sqlite\" \"${{shards[@]}}\"\n\
         # The whole sweep on the merged store: every trial is replayed, none trained.\n\
         \"$BIN\" {cmd} --preset {preset} --shard 0/1 --db \"$DIR/merged.sqlite\" \\\n    \
         --out \"$DIR/figures\" --threads \"${{SLURM_CPUS_PER_TASK:-{cpus}}}\" --quiet\n",
        header(
            &format!("{job}-merge"),
            &format!("#SBATCH --output={dir}/logs/%x-%j.out\n")
        ),
        last = n - 1,
    );
    let submit = format!(
        "#!/bin/bash\n\
         # Submits the {n}-task array, then the merge job once every task succeeded.\n\
         set -euo pipefail\n\
         DIR={d}\n\
         mkdir -p \"$DIR/logs\" \"$DIR/shards\"\n\
         array=$(sbatch --parsable \"$DIR/array.sbatch\")\n\
         array=\"${{array%%;*}}\"\n\
         merge=$(sbatch --parsable --dependency=afterok:\"$array\" \"$DIR/merge.sbatch\")\n\
         merge=\"${{merge%%;*}}\"\n\
         echo \"array job $array ({n} tasks), merge job $merge\"\n"
    );
    Ok(vec![
        ("array.sbatch", array, false),
        ("merge.sbatch", merge, false),
        ("submit.sh", submit, true),
    ])
}

pub fn run(a: &SlurmArgs) -> Result<()> {
    // Validate everything before creating any folder.
    scripts(a, "/", "/")?;
    std::fs::create_dir_all(a.out.join("logs")).map_err(|e| Error::io(a.out.display(), e))?;
    let dir = std::fs::canonicalize(&a.out).map_err(|e| Error::io(a.out.display(), e))?;
    let binary = match &a.binary {
        Some(b) => std::fs::canonicalize(b).map_err(|_| {
            Error::invalid("binary", b.display(), "an existing attnbounds executable")
        })?,
        None => std::env::current_exe().map_err(|e| Error::io("current executable", e))?,
    };
    let (dir_s, bin_s) = (path_text(&dir)?, path_text(&binary)?);
    for (name, text, exec) in scripts(a, &dir_s, &bin_s)? {
        let path = dir.join(name);
        let tmp = dir.join(format!(".{name}.tmp"));
        std::fs::write(&tmp, text).map_err(|e| Error::io(tmp.display(), e))?;
        if exec {
            use std::os::unix::fs::PermissionsExt;
            std::fs::set_permissions(&tmp, std::fs::Permissions::from_mode(0o755))
                .map_err(|e| Error::io(tmp.display(), e))?;
        }
        std::fs::rename(&tmp, &path).map_err(|e| Error::io(path.display(), e))?;
        println!("wrote {}", path.display());
    }
    println!(
        "submit with: {}",
        quote(&path_text(&dir.join("submit.sh"))?)
    );
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn args(experiment: &str, array: usize) -> SlurmArgs {
        SlurmArgs {
            experiment: experiment.into(),
            preset: PresetArg::Smoke,
            array,
            out: "x".into(),
            binary: None,
            cpus_per_task: 2,
            time: "00:10:00".into(),
            partition: Some("debug".into()),
        }
    }

    #[test]
    fn array_script_runs_one_explicit_shard_per_task_and_merge_lists_all() {
        let files = scripts(&args("gap", 4), "/shared/run's", "/opt/attnbounds").unwrap();
        let (array, merge, submit) = (&files[0].1, &files[1].1, &files[2].1);
        assert!(array.contains("#SBATCH --array=0-3\n"), "{array}");
        assert!(array.contains("#SBATCH --partition=debug\n"), "{array}");
        assert!(array.contains("DIR='/shared/run'\\''s'\n"), "{array}");
        assert!(
            array.contains("experiment gap --preset smoke --shard \"$SHARD/4\""),
            "{array}"
        );
        assert!(merge.contains("$(seq 0 3)"), "{merge}");
        assert!(
            merge.contains("results merge \"$DIR/merged.sqlite\""),
            "{merge}"
        );
        assert!(
            merge.contains("--shard 0/1 --db \"$DIR/merged.sqlite\""),
            "{merge}"
        );
        assert!(
            submit.contains("--dependency=afterok:\"$array\""),
            "{submit}"
        );
        let figures = scripts(&args("figures", 2), "/d", "/b").unwrap();
        assert!(
            figures[0]
                .1
                .contains("\"$BIN\" figures --preset smoke --shard \"$SHARD/2\"")
        );
    }

    #[test]
    fn bad_arguments_name_the_field() {
        for (a, field) in [
            (args("constructions", 4), "experiment"),
            (args("gap", 0), "array"),
            (args("gap", MAX_ARRAY + 1), "array"),
            (
                SlurmArgs {
                    time: "1:00; rm -rf".into(),
                    ..args("gap", 2)
                },
                "time",
            ),
        ] {
            let e = scripts(&a, "/d", "/b").unwrap_err();
            assert!(
                matches!(&e, Error::InvalidValue { field: f, .. } if f == field),
                "{field}: {e}"
            );
        }
    }
}
