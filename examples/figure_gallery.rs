//! Renders example figures with `attnbounds::figure` into a directory (default /tmp), to look at
//! fonts, legend and ranges: `cargo run --example figure_gallery -- /tmp`.

use attnbounds::figure::{Figure, FigureSize, Series};

fn main() -> attnbounds::Result<()> {
    let dir = std::env::args().nth(1).unwrap_or_else(|| "/tmp".into());
    let fig = Figure::example();
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
