//! Tests of the figure writer: files, contents, validation, log-axis handling.

use super::*;

fn sample_figure() -> Figure {
    Figure::example()
}

#[test]
fn writes_four_files_with_labels_and_exact_rows() {
    let dir = tempfile::tempdir().unwrap();
    let fig = sample_figure();
    let files = fig.write(dir.path(), "critical").unwrap();
    assert!(files.warnings.is_empty(), "{:?}", files.warnings);
    for p in [&files.svg, &files.png, &files.csv, &files.tex] {
        let len = std::fs::metadata(p).unwrap().len();
        assert!(len > 0, "{} is empty", p.display());
    }
    let svg = std::fs::read_to_string(&files.svg).unwrap();
    let tex = std::fs::read_to_string(&files.tex).unwrap();
    for s in [&fig.x_label, &fig.y_label] {
        assert!(svg.contains(s.as_str()), "SVG lacks {s}");
        assert!(tex.contains(s.as_str()), "tex lacks {s}");
    }
    for s in &fig.series {
        assert!(svg.contains(&s.name), "SVG lacks legend {}", s.name);
        assert!(tex.contains(&format!(
            "\\addlegendentry{{{}}}",
            tex_escape_for_test(&s.name)
        )));
    }
    // The SVG is declared at the paper width; the PNG is 975 px wide (3.25 in at 300 dpi) and
    // records 300 dpi (11811 px/m) in a pHYs chunk.
    assert!(svg.contains("width=\"3.2500in\""), "{}", &svg[..200]);
    let png = std::fs::read(&files.png).unwrap();
    assert_eq!(u32::from_be_bytes(png[16..20].try_into().unwrap()), 975);
    let phys = png
        .windows(4)
        .position(|w| w == b"pHYs")
        .expect("pHYs chunk");
    assert_eq!(
        u32::from_be_bytes(png[phys + 4..phys + 8].try_into().unwrap()),
        11811
    );
    // Log x axis in pgfplots, and the filter that selects each series.
    assert!(tex.contains("xmode=log") && !tex.contains("ymode=log"));
    assert!(tex.contains("discard if not={series_id}{2}"));
    assert!(tex.contains("fill between") && tex.contains("y error plus expr"));

    // CSV: header + exactly one row per plotted point (3 series x 5 points), values as given.
    let csv = std::fs::read_to_string(&files.csv).unwrap();
    let lines: Vec<&str> = csv.lines().collect();
    assert_eq!(lines[0], "series_id,x,y,lower,upper,series");
    assert_eq!(lines.len(), 1 + 15);
    let mut k = 1;
    for (id, s) in fig.series.iter().enumerate() {
        for i in 0..s.x.len() {
            let cells: Vec<&str> = lines[k].split(',').collect();
            assert_eq!(cells.len(), 6, "{}", lines[k]);
            assert_eq!(cells[5], super::pgf::csv_name(&s.name));
            assert_eq!(cells[0], id.to_string());
            assert_eq!(cells[1].parse::<f64>().unwrap(), s.x[i]);
            assert_eq!(cells[2].parse::<f64>().unwrap(), s.y[i]);
            match &s.uncertainty {
                Uncertainty::None => assert_eq!((cells[3], cells[4]), ("nan", "nan")),
                Uncertainty::ErrorBars { lower, upper } | Uncertainty::Band { lower, upper } => {
                    assert_eq!(cells[3].parse::<f64>().unwrap(), lower[i]);
                    assert_eq!(cells[4].parse::<f64>().unwrap(), upper[i]);
                }
            }
            k += 1;
        }
    }
}

fn tex_escape_for_test(s: &str) -> String {
    super::pgf::tex_escape(s)
}

#[test]
fn validation_names_series_and_index() {
    let mut fig = sample_figure();
    fig.series[1].y[3] = f64::NAN;
    let e = fig.validate().unwrap_err().to_string();
    assert!(e.contains("series 1") && e.contains("y[3]"), "{e}");

    let mut fig = sample_figure();
    fig.series[2].y.pop();
    assert!(matches!(fig.validate(), Err(Error::ShapeMismatch { .. })));

    let mut fig = sample_figure();
    if let Uncertainty::ErrorBars { lower, .. } = &mut fig.series[0].uncertainty {
        lower[2] = 1e9; // above y
    }
    let e = fig.validate().unwrap_err().to_string();
    assert!(e.contains("series 0") && e.contains("interval[2]"), "{e}");

    let mut fig = sample_figure();
    fig.series[0].name = "Thm 3.1\n(paper shape)".into();
    let e = fig.validate().unwrap_err().to_string();
    assert!(e.contains("no line breaks"), "{e}");
    // Commas, braces and tildes are fine in legends: the CSV cell is sanitised.
    let mut fig = sample_figure();
    fig.series[0].name = "paper shape, c0 = 1 {~#}".into();
    assert!(fig.validate().is_ok());
    assert_eq!(
        super::pgf::csv_name(&fig.series[0].name),
        "paper shape; c0 = 1 "
    );

    let mut fig = sample_figure();
    fig.series.clear();
    assert!(fig.validate().is_err());
    let dir = tempfile::tempdir().unwrap();
    assert!(sample_figure().write(dir.path(), "bad/stem").is_err());
}

#[test]
fn log_axes_drop_and_clamp_with_warnings() {
    // y on a log axis: the row with y = 0 is dropped, the interval with lower = 0 is clamped to
    // the axis bottom; both are reported, and the CSV holds the 3 kept rows.
    let fig = Figure {
        title: "log-log".into(),
        x_label: "num_samples m".into(),
        y_label: "gap".into(),
        x_log: true,
        y_log: true,
        size: FigureSize::DoubleColumn,
        series: vec![
            Series::points(
                "Monte Carlo",
                vec![10.0, 100.0, 1000.0, 10000.0],
                vec![0.3, 0.1, 0.0, 0.01],
            )
            .with_error_bars(vec![0.2, 0.0, 0.0, 0.005], vec![0.4, 0.2, 0.01, 0.02]),
        ],
    };
    let dir = tempfile::tempdir().unwrap();
    let files = fig.write(dir.path(), "gap").unwrap();
    assert_eq!(files.warnings.len(), 2, "{:?}", files.warnings);
    assert!(files.warnings[0].contains("dropped row 2"));
    assert!(files.warnings[1].contains("lower = 0"));
    let csv = std::fs::read_to_string(&files.csv).unwrap();
    assert_eq!(csv.lines().count(), 1 + 3);
    let clamped: f64 = csv
        .lines()
        .nth(2)
        .unwrap()
        .split(',')
        .nth(3)
        .unwrap()
        .parse()
        .unwrap();
    assert!(clamped > 0.0 && clamped < 0.005, "clamped lower {clamped}");
    let png = std::fs::read(&files.png).unwrap();
    assert_eq!(
        u32::from_be_bytes(png[16..20].try_into().unwrap()),
        2025,
        "6.75 in at 300 dpi"
    );

    // Nothing left to plot is an error, not an empty figure.
    let mut empty = fig.clone();
    empty.series[0] = Series::points("all negative", vec![-1.0], vec![1.0]);
    assert!(empty.write(dir.path(), "empty").is_err());
}

#[test]
fn tex_escape_handles_specials_and_unicode() {
    assert_eq!(super::pgf::tex_escape("a_b & 5$"), r"a\_b \& 5\$");
    assert_eq!(
        super::pgf::tex_escape("ε ≤ 1"),
        r"\ensuremath{\varepsilon} \ensuremath{\leq} 1"
    );
}

/// The structural `.tex` check accepts what the writer emits (every series kind: error bars,
/// bands, log axes) and rejects each defect it exists to catch.
#[test]
fn tex_check_accepts_written_figures_and_rejects_defects() {
    let fig = sample_figure();
    let prep = super::prepare::prepare(&fig).unwrap();
    let csv = super::pgf::csv(&prep, &fig);
    let tex = super::pgf::tex(&fig, &prep, "sample");
    let header: Vec<&str> = csv.lines().next().unwrap().split(',').collect();
    super::pgf::check_tex(&tex, &header).unwrap();

    let cases = [
        (
            tex.replacen("\\end{axis}", "\\end{tikzpicture}", 1),
            "without its",
        ),
        (tex.replacen("x=x,", "x=xx,", 1), "column 'xx'"),
        (
            tex.replacen("\\thisrow{upper}", "\\thisrow{uper}", 1),
            "column 'uper'",
        ),
        (tex.replacen("]", "}", 1), "closes"),
        (format!("{tex}{{"), "never closed"),
    ];
    for (bad, expect) in cases {
        assert_ne!(bad, tex, "mutation for {expect} did not apply");
        let err = super::pgf::check_tex(&bad, &header).unwrap_err();
        assert!(err.contains(expect), "{err} lacks {expect}");
    }
    // Escaped braces and comments do not count.
    super::pgf::check_tex("\\{ a % }\n\\begin{x}\\end{x}", &header).unwrap();
}

#[test]
fn pinned_marker_overrides_the_position() {
    // Series 0 would draw circles (`*`); pinned to 3 it draws crosses in the pgfplots file, and
    // the unpinned series 1 keeps its positional triangle.
    let dir = tempfile::tempdir().unwrap();
    let mut fig = sample_figure();
    fig.series.truncate(2);
    for s in &mut fig.series {
        s.style = SeriesStyle::LinePoints;
    }
    fig.series[0] = fig.series[0].clone().with_marker(3);
    let files = fig.write(dir.path(), "marker").unwrap();
    let tex = std::fs::read_to_string(&files.tex).unwrap();
    let opts = |k: usize| {
        let key = format!("color=attnboundsC{k},");
        tex.lines()
            .find(|l| l.contains(&key))
            .unwrap_or_else(|| panic!("no addplot for series {k}"))
            .to_string()
    };
    assert!(opts(0).contains("mark=x"), "{}", opts(0));
    assert!(opts(1).contains("mark=triangle*"), "{}", opts(1));
}
