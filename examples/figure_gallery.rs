//! Renders example figures with `attnbounds::figure` into a directory (default /tmp), to look at
//! fonts, legend and ranges: `cargo run --example figure_gallery -- /tmp`.

use attnbounds::figure::{Figure, FigureSize, Series};

fn main() -> attnbounds::Result<()> {
    let dir = std::env::args().nth(1).unwrap_or_else(|| "/tmp".into());
    let t = vec![100.0, 200.0, 400.0, 800.0, 1100.0];
    let m: Vec<f64> = t.iter().map(|&v: &f64| 40.0 + 12.0 * v.ln()).collect();
    let fig = Figure {
        title: String::new(),
        x_label: "context length T (tokens)".into(),
        y_label: "critical sample size m (samples)".into(),
        x_log: true,
        y_log: false,
        size: FigureSize::SingleColumn,
        series: vec![
            Series::line_points("Transformer; 3-way AND (10 trials)", t.clone(), m.clone())
                .with_error_bars(
                    m.iter().map(|v| v - 6.0).collect(),
                    m.iter().map(|v| v + 9.0).collect(),
                ),
            Series::line(
                "fit a + b ln T (band: 95% CI)",
                t.clone(),
                m.iter().map(|v| v + 1.0).collect(),
            )
            .with_band(
                m.iter().map(|v| v - 8.0).collect(),
                m.iter().map(|v| v + 10.0).collect(),
            ),
            Series::line(
                "lower bound s log₂(T/s) (VC)",
                t.clone(),
                t.iter().map(|v| 3.0 * (v / 3.0).log2()).collect(),
            )
            .dashed(),
        ],
    };
    let files = fig.write(std::path::Path::new(&dir), "fig_example")?;
    let eps: Vec<f64> = (0..30).map(|i| 10f64.powf(-3.0 + 0.1 * i as f64)).collect();
    let fig2 = Figure {
        title: "Covering number bounds".into(),
        x_label: "ε (accuracy)".into(),
        y_label: "log N(F, ε, S) (nats)".into(),
        x_log: true,
        y_log: true,
        size: FigureSize::DoubleColumn,
        series: vec![
            Series::line(
                "Thm 3.1 paper shape (c0 = 1)",
                eps.clone(),
                eps.iter().map(|e| 1e3 / (e * e)).collect(),
            ),
            Series::line(
                "explicit bound (derivations §3.2)",
                eps.clone(),
                eps.iter().map(|e| 5e4 / (e * e)).collect(),
            ),
            Series::points(
                "greedy packing (lower estimate)",
                eps.clone(),
                eps.iter().map(|e| 3.0 / e).collect(),
            ),
            Series::line(
                "BFT 2017 spectral; flattened input",
                eps.clone(),
                eps.iter().map(|e| 1e6 / (e * e)).collect(),
            )
            .dashed(),
        ],
    };
    let files2 = fig2.write(std::path::Path::new(&dir), "fig_example_loglog")?;
    for f in [files, files2] {
        println!("{}", f.png.display());
        for w in f.warnings {
            eprintln!("warning: {w}");
        }
    }
    Ok(())
}
