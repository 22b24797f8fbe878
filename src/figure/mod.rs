//! The one module that writes figures. Every figure of the project goes through [`Figure::write`],
//! so all figures share fonts, sizes, palette and file set.
//!
//! One call writes four files next to each other:
//! - `stem.svg` and `stem.png`: the same drawing (the PNG at 300 dpi for the chosen paper width,
//!   the SVG sized in inches), DejaVu Sans embedded in the binary (never a system font);
//! - `stem.csv`: exactly the plotted rows, long format
//!   `series_id,x,y,lower,upper,series` (after dropping non-positive values on log axes;
//!   `nan` where a series has no interval; the legend text last);
//! - `stem.tex`: a pgfplots `tikzpicture` reading `stem.csv`, one `\addplot` per series, selected
//!   with a `discard if not={series_id}{k}` filter defined in the file (see `figure/pgf.rs`).
//!
//! This module draws; it never computes a bound or runs an experiment.

mod pgf;
mod prepare;
mod render;

use std::path::{Path, PathBuf};

use crate::error::{Error, Result};

/// Paper widths. Fonts are the same size in pixels for both, so text in a single-column figure and
/// in a double-column figure prints at the same point size.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum FigureSize {
    /// 3.25 in wide (one column of a two-column paper): 975 px at 300 dpi.
    SingleColumn,
    /// 6.75 in wide (full text width): 2025 px at 300 dpi.
    DoubleColumn,
}

/// PNG resolution, dots per inch.
pub const DPI: f64 = 300.0;

impl FigureSize {
    /// Width in inches.
    pub fn width_in(self) -> f64 {
        match self {
            FigureSize::SingleColumn => 3.25,
            FigureSize::DoubleColumn => 6.75,
        }
    }
    /// Height of the plot part in inches (the legend strip below it is added to this).
    pub fn plot_height_in(self) -> f64 {
        match self {
            FigureSize::SingleColumn => 2.4,
            FigureSize::DoubleColumn => 2.8,
        }
    }
    /// Width in pixels at [`DPI`].
    pub fn width_px(self) -> u32 {
        (self.width_in() * DPI).round() as u32
    }
}

/// How a series is drawn.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SeriesStyle {
    Line,
    Points,
    LinePoints,
}

/// The shape of a series' point markers. A solid series draws it filled, a dashed series open
/// (outline only, no fill) and larger, so that where a dashed series lies on a solid one with
/// the same values (two models with equal certificates) the solid marker shows inside the open
/// one, in PNG/SVG and in pgfplots alike. [`Marker::SEQUENCE`] is the default by series position.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Marker {
    Circle,
    Triangle,
    Square,
    /// A diagonal cross (lines only: the same open or filled).
    Cross,
    Diamond,
    /// An upright cross (lines only), distinct from [`Marker::Cross`] where the two coincide.
    Plus,
}

impl Marker {
    /// The default marker of series `k` is `SEQUENCE[k % 4]`.
    pub const SEQUENCE: [Marker; 4] = [
        Marker::Circle,
        Marker::Triangle,
        Marker::Square,
        Marker::Cross,
    ];

    /// The pgfplots mark: the filled variant, or the unfilled one for an open marker.
    pub(crate) fn pgf(self, open: bool) -> &'static str {
        match (self, open) {
            (Marker::Circle, false) => "*",
            (Marker::Circle, true) => "o",
            (Marker::Triangle, false) => "triangle*",
            (Marker::Triangle, true) => "triangle",
            (Marker::Square, false) => "square*",
            (Marker::Square, true) => "square",
            (Marker::Diamond, false) => "diamond*",
            (Marker::Diamond, true) => "diamond",
            (Marker::Cross, _) => "x",
            (Marker::Plus, _) => "+",
        }
    }
}

/// An interval around each point, e.g. a Clopper-Pearson interval or a min-max over trials.
/// `lower[i] <= y[i] <= upper[i]` is required.
#[derive(Debug, Clone, PartialEq)]
pub enum Uncertainty {
    None,
    /// Vertical error bars at each point.
    ErrorBars {
        lower: Vec<f64>,
        upper: Vec<f64>,
    },
    /// A shaded band between the lower and upper curves.
    Band {
        lower: Vec<f64>,
        upper: Vec<f64>,
    },
}

/// One curve. `name` is the legend text and should name the theorem or source
/// ("Thm 3.1, paper shape (c0 = 1)", "Monte Carlo, 200 trials").
#[derive(Debug, Clone, PartialEq)]
pub struct Series {
    pub name: String,
    pub x: Vec<f64>,
    pub y: Vec<f64>,
    pub uncertainty: Uncertainty,
    pub style: SeriesStyle,
    pub dashed: bool,
    /// Index into the Okabe-Ito palette ([`PALETTE`]); `None` uses the series' position. Pin it
    /// so that one theorem keeps its colour across figures.
    pub color: Option<usize>,
    /// Marker shape; `None` uses [`Marker::SEQUENCE`] by the series' position. Pin it to tell
    /// apart series that share a colour (one quantity of two models).
    pub marker: Option<Marker>,
}

impl Series {
    fn new(name: impl Into<String>, x: Vec<f64>, y: Vec<f64>, style: SeriesStyle) -> Self {
        Series {
            name: name.into(),
            x,
            y,
            uncertainty: Uncertainty::None,
            style,
            dashed: false,
            color: None,
            marker: None,
        }
    }
    pub fn line(name: impl Into<String>, x: Vec<f64>, y: Vec<f64>) -> Self {
        Self::new(name, x, y, SeriesStyle::Line)
    }
    pub fn points(name: impl Into<String>, x: Vec<f64>, y: Vec<f64>) -> Self {
        Self::new(name, x, y, SeriesStyle::Points)
    }
    pub fn line_points(name: impl Into<String>, x: Vec<f64>, y: Vec<f64>) -> Self {
        Self::new(name, x, y, SeriesStyle::LinePoints)
    }
    pub fn with_error_bars(mut self, lower: Vec<f64>, upper: Vec<f64>) -> Self {
        self.uncertainty = Uncertainty::ErrorBars { lower, upper };
        self
    }
    pub fn with_band(mut self, lower: Vec<f64>, upper: Vec<f64>) -> Self {
        self.uncertainty = Uncertainty::Band { lower, upper };
        self
    }
    pub fn dashed(mut self) -> Self {
        self.dashed = true;
        self
    }
    pub fn with_color(mut self, palette_index: usize) -> Self {
        self.color = Some(palette_index);
        self
    }
    pub fn with_marker(mut self, marker: Marker) -> Self {
        self.marker = Some(marker);
        self
    }
    /// The marker drawn for this series at position `k` of its figure.
    pub(crate) fn marker_at(&self, k: usize) -> Marker {
        self.marker
            .unwrap_or(Marker::SEQUENCE[k % Marker::SEQUENCE.len()])
    }
}

/// A whole figure. Labels are plain text (Unicode allowed: the PNG/SVG font is DejaVu Sans; the
/// .tex maps common Greek letters and math signs to LaTeX) and should carry units,
/// e.g. "context length T (tokens)".
#[derive(Debug, Clone, PartialEq)]
pub struct Figure {
    /// Empty for no title (papers usually put it in the caption).
    pub title: String,
    pub x_label: String,
    pub y_label: String,
    pub x_log: bool,
    pub y_log: bool,
    pub size: FigureSize,
    pub series: Vec<Series>,
}

/// Paths of the four files written by [`Figure::write`], and anything the writer had to change.
#[derive(Debug, Clone, PartialEq)]
pub struct WrittenFiles {
    pub svg: PathBuf,
    pub png: PathBuf,
    pub csv: PathBuf,
    pub tex: PathBuf,
    /// One line per dropped or clamped value (non-positive on a log axis), naming series and
    /// index. Callers should print these; nothing is dropped silently.
    pub warnings: Vec<String>,
}

/// Okabe-Ito colour-blind-safe palette (Okabe & Ito 2008), ordered for contrast on white;
/// yellow last because it is faint on white.
pub const PALETTE: [(u8, u8, u8); 8] = [
    (0x00, 0x72, 0xB2), // blue
    (0xD5, 0x5E, 0x00), // vermillion
    (0x00, 0x9E, 0x73), // bluish green
    (0xE6, 0x9F, 0x00), // orange
    (0xCC, 0x79, 0xA7), // reddish purple
    (0x56, 0xB4, 0xE9), // sky blue
    (0x00, 0x00, 0x00), // black
    (0xF0, 0xE4, 0x42), // yellow
];

/// Characters a series name may not contain: a line break would split a CSV row and a legend.
/// Every other character is allowed: the CSV gets a sanitised copy of the name, the `.tex`
/// legend the exact name TeX-escaped.
pub const FORBIDDEN_NAME_CHARS: &[char] = &['\n', '\r'];

impl Figure {
    /// A log-x figure with a line with error bars, a band and a dashed reference line: the shapes
    /// every figure of the project uses (the figure tests and `examples/figure_gallery.rs`).
    pub fn example() -> Figure {
        let t = vec![100.0, 200.0, 400.0, 800.0, 1100.0];
        let m: Vec<f64> = t.iter().map(|&v: &f64| 40.0 + 12.0 * v.ln()).collect();
        Figure {
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
        }
    }

    /// Checks everything a caller controls: at least one series; per series, a non-empty name
    /// without [`FORBIDDEN_NAME_CHARS`], equal lengths of x, y, lower, upper, finite values, and
    /// `lower <= y <= upper`. Errors name the series and the index.
    pub fn validate(&self) -> Result<()> {
        if self.series.is_empty() {
            return Err(Error::invalid("figure.series", "[]", "at least one series"));
        }
        for (k, s) in self.series.iter().enumerate() {
            let field = |what: &str| format!("series {k} ({:?}) {what}", s.name);
            if s.name.trim().is_empty() {
                return Err(Error::invalid(
                    field("name"),
                    "\"\"",
                    "a non-empty legend text",
                ));
            }
            if let Some(c) = s.name.chars().find(|c| FORBIDDEN_NAME_CHARS.contains(c)) {
                return Err(Error::invalid(
                    field("name"),
                    format!("{:?} (contains {c:?})", s.name),
                    "a one-line legend text (no line breaks)",
                ));
            }
            let n = s.x.len();
            if s.y.len() != n {
                return Err(Error::shape(
                    field("y"),
                    format!("{n} values (len of x)"),
                    s.y.len(),
                ));
            }
            let check = |what: &str, v: &[f64]| -> Result<()> {
                match v.iter().position(|x| !x.is_finite()) {
                    Some(i) => Err(Error::invalid(
                        field(&format!("{what}[{i}]")),
                        v[i],
                        "a finite number",
                    )),
                    None => Ok(()),
                }
            };
            check("x", &s.x)?;
            check("y", &s.y)?;
            if let Uncertainty::ErrorBars { lower, upper } | Uncertainty::Band { lower, upper } =
                &s.uncertainty
            {
                for (what, v) in [("lower", lower), ("upper", upper)] {
                    if v.len() != n {
                        return Err(Error::shape(
                            field(what),
                            format!("{n} values (len of x)"),
                            v.len(),
                        ));
                    }
                    check(what, v)?;
                }
                for i in 0..n {
                    if !(lower[i] <= s.y[i] && s.y[i] <= upper[i]) {
                        return Err(Error::invalid(
                            field(&format!("interval[{i}]")),
                            format!("lower {} y {} upper {}", lower[i], s.y[i], upper[i]),
                            "lower <= y <= upper",
                        ));
                    }
                }
            }
        }
        Ok(())
    }

    /// Validates, then writes `dir/stem.{svg,png,csv,tex}`. `dir` must exist.
    pub fn write(&self, dir: &Path, stem: &str) -> Result<WrittenFiles> {
        self.validate()?;
        if stem.is_empty() || stem.contains(['/', '\\', ' ', '%', '#', '{', '}']) {
            return Err(Error::invalid(
                "stem",
                stem,
                "a non-empty file name without / \\ spaces % # { }",
            ));
        }
        let prepared = prepare::prepare(self)?;
        let files = WrittenFiles {
            svg: dir.join(format!("{stem}.svg")),
            png: dir.join(format!("{stem}.png")),
            csv: dir.join(format!("{stem}.csv")),
            tex: dir.join(format!("{stem}.tex")),
            warnings: prepared.warnings.clone(),
        };
        render::write_svg(self, &prepared, &files.svg)?;
        render::write_png(self, &prepared, &files.png)?;
        let csv = pgf::csv(&prepared, self);
        let tex = pgf::tex(self, &prepared, stem);
        let header: Vec<&str> = csv.lines().next().unwrap_or("").split(',').collect();
        pgf::check_tex(&tex, &header).map_err(|detail| Error::Violation {
            claim: format!("{stem}.tex is well-formed pgfplots"),
            detail,
        })?;
        write_text(&files.csv, &csv)?;
        write_text(&files.tex, &tex)?;
        Ok(files)
    }
}

fn write_text(path: &Path, text: &str) -> Result<()> {
    crate::fsio::write_atomic(path, text.as_bytes())
}

#[cfg(test)]
mod tests;
