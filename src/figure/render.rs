//! Draws a prepared figure with plotters, once for the SVG and once for the PNG, with the same
//! pixel geometry (300 dpi units) so the two files look the same. The legend sits in its own
//! strip below the plot, so it can never cover data.

use std::path::Path;
use std::sync::OnceLock;

use plotters::coord::CoordTranslate;
use plotters::coord::Shift;
use plotters::prelude::*;
use plotters::style::text_anchor::{HPos, Pos, VPos};

use super::prepare::{Axis, Interval, Prepared};
use super::{DPI, Figure, SeriesStyle};
use crate::error::{Error, Result};

/// The family name fonts are registered under. It is also what the SVG names as `font-family`,
/// so a viewer without DejaVu falls back to a sans-serif font instead of a serif default.
const FONT: &str = "DejaVu Sans, sans-serif";

// Sizes in pixels at 300 dpi (1 pt = 300/72 px): ticks and legend about 7.5 pt, axis labels
// about 8.5 pt, title 9 pt; lines 1.2 pt. Shared by every figure.
const TICK_PX: f64 = 31.0;
const LABEL_PX: f64 = 35.0;
const TITLE_PX: f64 = 38.0;
const LINE_W: u32 = 5;
const BAR_W: u32 = 3;
const MARKER_R: i32 = 11;
const LEGEND_SAMPLE: i32 = 90;

/// Registers DejaVu Sans (embedded by the `dejavu` crate) once per process; plotters' `ab_glyph`
/// backend has no system-font fallback, so text fails without this.
fn ensure_fonts() -> Result<()> {
    static REGISTERED: OnceLock<std::result::Result<(), String>> = OnceLock::new();
    REGISTERED
        .get_or_init(|| {
            plotters::style::register_font(FONT, FontStyle::Normal, dejavu::sans::regular())
                .map_err(|_| "DejaVu Sans regular".to_string())?;
            plotters::style::register_font(FONT, FontStyle::Bold, dejavu::sans::bold())
                .map_err(|_| "DejaVu Sans bold".to_string())
        })
        .clone()
        .map_err(|f| Error::parse("embedded font", format!("{f} is not a valid font")))
}

fn font(px: f64) -> TextStyle<'static> {
    TextStyle::from((FONT, px).into_font()).color(&BLACK)
}

fn text_width(text: &str, px: f64) -> u32 {
    // A layout failure only happens without a registered font, which ensure_fonts rules out;
    // fall back to an over-estimate rather than failing the figure.
    (FONT, px)
        .into_font()
        .box_size(text)
        .map(|(w, _)| w)
        .unwrap_or((text.chars().count() as f64 * px) as u32)
}

/// Legend geometry: entries flow into as many columns as fit the width.
struct LegendLayout {
    cols: usize,
    col_w: i32,
    row_h: i32,
    height: u32,
}

fn legend_layout(fig: &Figure, width: u32) -> LegendLayout {
    let entry_w = fig
        .series
        .iter()
        .map(|s| text_width(&s.name, TICK_PX) as i32 + LEGEND_SAMPLE + 60)
        .max()
        .unwrap_or(0);
    let usable = width as i32 - 80;
    let cols = (usable / entry_w.max(1)).clamp(1, fig.series.len() as i32) as usize;
    let rows = fig.series.len().div_ceil(cols);
    let row_h = (TICK_PX * 1.45) as i32;
    LegendLayout {
        cols,
        col_w: entry_w,
        row_h,
        height: (rows as i32 * row_h + 24) as u32,
    }
}

/// Total pixel size of the figure.
fn pixel_size(fig: &Figure) -> (u32, u32, LegendLayout) {
    let w = fig.size.width_px();
    let plot_h = (fig.size.plot_height_in() * DPI).round() as u32;
    let legend = legend_layout(fig, w);
    (w, plot_h + legend.height, legend)
}

pub(crate) fn write_svg(fig: &Figure, prep: &Prepared, path: &Path) -> Result<()> {
    ensure_fonts()?;
    let (w, h, legend) = pixel_size(fig);
    let mut svg = String::new();
    {
        let root = SVGBackend::with_string(&mut svg, (w, h)).into_drawing_area();
        draw(&root, fig, prep, &legend).map_err(|e| Error::io(path.display(), e))?;
        root.present().map_err(|e| Error::io(path.display(), e))?;
    }
    // Same drawing, declared in inches so the SVG prints at the paper width.
    let sized = svg.replacen(
        &format!("width=\"{w}\" height=\"{h}\""),
        &format!(
            "width=\"{:.4}in\" height=\"{:.4}in\"",
            w as f64 / DPI,
            h as f64 / DPI
        ),
        1,
    );
    crate::fsio::write_atomic(path, sized.as_bytes())
}

pub(crate) fn write_png(fig: &Figure, prep: &Prepared, path: &Path) -> Result<()> {
    ensure_fonts()?;
    let (w, h, legend) = pixel_size(fig);
    // plotters encodes to a temporary name next to `path`; the final name is written once,
    // atomically, with the pHYs chunk added.
    let tmp = crate::fsio::temp_path(path);
    let drawn = (|| {
        let root = BitMapBackend::new(&tmp, (w, h)).into_drawing_area();
        draw(&root, fig, prep, &legend).map_err(|e| Error::io(path.display(), e))?;
        root.present().map_err(|e| Error::io(path.display(), e))?;
        drop(root);
        std::fs::read(&tmp).map_err(|e| Error::io(path.display(), e))
    })();
    let _ = std::fs::remove_file(&tmp);
    // Record 300 dpi in the file so LaTeX and viewers size it at the paper width.
    let with_dpi =
        png_with_dpi(&drawn?, DPI).ok_or_else(|| Error::parse(path.display(), "not a PNG"))?;
    crate::fsio::write_atomic(path, &with_dpi)
}

/// A linear coordinate in axis units with our own tick positions. (plotters' `WithKeyPoints`
/// over `f64` cannot take a label formatter, so this small `Ranged` replaces it.)
struct AxisCoord {
    lo: f64,
    hi: f64,
    ticks: Vec<f64>,
    minor: Vec<f64>,
}

impl From<&Axis> for AxisCoord {
    fn from(a: &Axis) -> Self {
        AxisCoord {
            lo: a.lo,
            hi: a.hi,
            ticks: a.ticks.clone(),
            minor: a.minor.clone(),
        }
    }
}

impl Ranged for AxisCoord {
    type FormatOption = plotters::coord::ranged1d::DefaultFormatting;
    type ValueType = f64;

    fn map(&self, value: &f64, limit: (i32, i32)) -> i32 {
        let t = (value - self.lo) / (self.hi - self.lo);
        limit.0 + (t * (limit.1 - limit.0) as f64).round() as i32
    }

    fn key_points<Hint: plotters::coord::ranged1d::KeyPointHint>(&self, hint: Hint) -> Vec<f64> {
        if hint.weight().allow_light_points() {
            self.minor.clone()
        } else {
            self.ticks.clone()
        }
    }

    fn range(&self) -> std::ops::Range<f64> {
        self.lo..self.hi
    }
}

type DrawResult = std::result::Result<(), String>;

fn draw<DB: DrawingBackend>(
    root: &DrawingArea<DB, Shift>,
    fig: &Figure,
    prep: &Prepared,
    legend: &LegendLayout,
) -> DrawResult {
    let err = |e: DrawingAreaErrorKind<DB::ErrorType>| e.to_string();
    root.fill(&WHITE).map_err(err)?;
    let (_, h) = root.dim_in_pixel();
    let (plot, legend_area) = root.split_vertically(h as i32 - legend.height as i32);

    let (x, y) = (&prep.x, &prep.y);
    let y_tick_w = y
        .ticks
        .iter()
        .map(|&u| text_width(&y.label(u), TICK_PX))
        .max()
        .unwrap_or(0);
    let mut builder = ChartBuilder::on(&plot);
    builder
        .margin_top(if fig.title.is_empty() { 28 } else { 16 })
        .margin_right(48)
        .margin_left(12)
        .margin_bottom(4)
        .x_label_area_size((TICK_PX * 1.2 + LABEL_PX * 1.5) as u32)
        .y_label_area_size(y_tick_w + (LABEL_PX * 1.6) as u32 + 18);
    if !fig.title.is_empty() {
        // A long title is set smaller rather than clipped at the figure's edges.
        let avail = plot.dim_in_pixel().0 as f64 * 0.96;
        let wide = text_width(&fig.title, TITLE_PX) as f64;
        let px = if wide > avail {
            TITLE_PX * avail / wide
        } else {
            TITLE_PX
        };
        builder.caption(&fig.title, font(px));
    }
    let mut chart = builder
        .build_cartesian_2d(AxisCoord::from(x), AxisCoord::from(y))
        .map_err(err)?;
    let xf = |u: &f64| x.label(*u);
    let yf = |u: &f64| y.label(*u);
    chart
        .configure_mesh()
        .x_desc(fig.x_label.as_str())
        .y_desc(fig.y_label.as_str())
        .x_label_formatter(&xf)
        .y_label_formatter(&yf)
        .label_style(font(TICK_PX))
        .axis_desc_style(font(LABEL_PX))
        .bold_line_style(BLACK.mix(0.13).stroke_width(2))
        .light_line_style(BLACK.mix(0.05).stroke_width(2))
        .axis_style(BLACK.stroke_width(3))
        .set_all_tick_mark_size(12)
        .x_labels(1000)
        .y_labels(1000)
        .max_light_lines(1000)
        .draw()
        .map_err(err)?;

    let pt = |r: &super::prepare::Row, v: f64| (x.to_axis(r.x), y.to_axis(v));
    // Bands first so lines and bars of every series sit on top of every band.
    for s in prep
        .series
        .iter()
        .filter(|s| s.interval == Interval::Band && !s.rows.is_empty())
    {
        let c = rgb(s.color);
        let mut poly: Vec<(f64, f64)> = s
            .rows
            .iter()
            .map(|r| pt(r, r.upper.unwrap_or(r.y)))
            .collect();
        poly.extend(s.rows.iter().rev().map(|r| pt(r, r.lower.unwrap_or(r.y))));
        chart
            .draw_series(std::iter::once(Polygon::new(poly, c.mix(0.2).filled())))
            .map_err(err)?;
    }
    for (k, (s, spec)) in prep.series.iter().zip(&fig.series).enumerate() {
        let c = rgb(s.color);
        if s.interval == Interval::Bars {
            chart
                .draw_series(s.rows.iter().map(|r| {
                    let (px, py) = pt(r, r.y);
                    let lo = y.to_axis(r.lower.unwrap_or(r.y));
                    let hi = y.to_axis(r.upper.unwrap_or(r.y));
                    ErrorBar::new_vertical(px, lo, py, hi, c.stroke_width(BAR_W), 18)
                }))
                .map_err(err)?;
        }
        let pts: Vec<(f64, f64)> = s.rows.iter().map(|r| pt(r, r.y)).collect();
        if spec.style != SeriesStyle::Points {
            let style = c.stroke_width(LINE_W);
            if spec.dashed {
                chart
                    .draw_series(DashedLineSeries::new(pts.clone(), 22, 14, style))
                    .map_err(err)?;
            } else {
                chart
                    .draw_series(LineSeries::new(pts.clone(), style))
                    .map_err(err)?;
            }
        }
        if spec.style != SeriesStyle::Line {
            for p in &pts {
                marker(chart.plotting_area(), *p, spec.marker_at(k), c, spec.dashed)?;
            }
        }
    }
    draw_legend(&legend_area, fig, prep, legend)
}

fn rgb((r, g, b): (u8, u8, u8)) -> RGBColor {
    RGBColor(r, g, b)
}

/// Marker shape by `Series::marker_at` (circle, triangle, square, cross), so series stay apart in
/// greyscale print too; the pgfplots file uses the same sequence. A dashed series has open
/// (white-filled, outlined) markers, so where it coincides with a solid series, as two models
/// with equal values do, its markers still show on top.
fn marker<DB: DrawingBackend, CT: CoordTranslate<From: Clone>>(
    area: &DrawingArea<DB, CT>,
    at: CT::From,
    k: usize,
    c: RGBColor,
    open: bool,
) -> DrawResult {
    let r = MARKER_R;
    let fills: &[ShapeStyle] = if open {
        &[WHITE.filled(), c.stroke_width(3)]
    } else {
        &[c.filled()]
    };
    let mut res = Ok(());
    for &f in fills {
        res = res.and(match k % 4 {
            0 => area.draw(&(EmptyElement::at(at.clone()) + Circle::new((0, 0), r, f))),
            // plotters' TriangleMarker always fills, so an open triangle is drawn as a path.
            1 => {
                let t = triangle(r + 3);
                if f.filled {
                    area.draw(&(EmptyElement::at(at.clone()) + Polygon::new(t.to_vec(), f)))
                } else {
                    let closed = vec![t[0], t[1], t[2], t[0], t[1]];
                    area.draw(&(EmptyElement::at(at.clone()) + PathElement::new(closed, f)))
                }
            }
            2 => area.draw(
                &(EmptyElement::at(at.clone())
                    + Rectangle::new([(1 - r, 1 - r), (r - 1, r - 1)], f)),
            ),
            _ => area
                .draw(&(EmptyElement::at(at.clone()) + Cross::new((0, 0), r, c.stroke_width(4)))),
        });
    }
    res.map_err(|e| e.to_string())
}

/// Vertices of an upward triangle inscribed in a circle of radius `size` (pixels; y grows
/// downwards), as plotters' `TriangleMarker` places them.
fn triangle(size: i32) -> [(i32, i32); 3] {
    [-90f64, -210.0, -330.0].map(|deg| {
        let a = deg.to_radians();
        (
            (size as f64 * a.cos()).round() as i32,
            (size as f64 * a.sin()).round() as i32,
        )
    })
}

fn draw_legend<DB: DrawingBackend>(
    area: &DrawingArea<DB, Shift>,
    fig: &Figure,
    prep: &Prepared,
    layout: &LegendLayout,
) -> DrawResult {
    let err = |e: DrawingAreaErrorKind<DB::ErrorType>| e.to_string();
    let (w, _) = area.dim_in_pixel();
    // Centre the block of columns under the figure.
    let block = layout.cols as i32 * layout.col_w;
    let left = ((w as i32 - block) / 2).max(10);
    for (k, (s, spec)) in prep.series.iter().zip(&fig.series).enumerate() {
        let (col, row) = ((k % layout.cols) as i32, (k / layout.cols) as i32);
        let x0 = left + col * layout.col_w;
        let yc = 12 + row * layout.row_h + layout.row_h / 2;
        let x1 = x0 + LEGEND_SAMPLE;
        let c = rgb(s.color);
        if s.interval == Interval::Band {
            area.draw(&Rectangle::new(
                [(x0, yc - 13), (x1, yc + 13)],
                c.mix(0.2).filled(),
            ))
            .map_err(err)?;
        }
        if s.interval == Interval::Bars {
            let xm = (x0 + x1) / 2;
            let bar = c.stroke_width(BAR_W);
            area.draw(&PathElement::new(vec![(xm, yc - 14), (xm, yc + 14)], bar))
                .map_err(err)?;
            area.draw(&PathElement::new(
                vec![(xm - 9, yc - 14), (xm + 9, yc - 14)],
                bar,
            ))
            .map_err(err)?;
            area.draw(&PathElement::new(
                vec![(xm - 9, yc + 14), (xm + 9, yc + 14)],
                bar,
            ))
            .map_err(err)?;
        }
        if spec.style != SeriesStyle::Points {
            let style = c.stroke_width(LINE_W);
            if spec.dashed {
                for (a, b) in [(0, 22), (36, 58), (72, 90)] {
                    area.draw(&PathElement::new(vec![(x0 + a, yc), (x0 + b, yc)], style))
                        .map_err(err)?;
                }
            } else {
                area.draw(&PathElement::new(vec![(x0, yc), (x1, yc)], style))
                    .map_err(err)?;
            }
        }
        if spec.style != SeriesStyle::Line {
            marker(area, ((x0 + x1) / 2, yc), spec.marker_at(k), c, spec.dashed)?;
        }
        let style = font(TICK_PX).pos(Pos::new(HPos::Left, VPos::Center));
        area.draw(&Text::new(spec.name.clone(), (x1 + 18, yc), style))
            .map_err(err)?;
    }
    Ok(())
}

/// Inserts a `pHYs` chunk (pixels per metre) after `IHDR`, or returns `None` if `png` is not a
/// PNG. An existing `pHYs` chunk is left alone.
pub(crate) fn png_with_dpi(png: &[u8], dpi: f64) -> Option<Vec<u8>> {
    const SIG: [u8; 8] = [0x89, b'P', b'N', b'G', b'\r', b'\n', 0x1a, b'\n'];
    if png.len() < 33 || png[..8] != SIG || &png[12..16] != b"IHDR" {
        return None;
    }
    if png.windows(4).any(|w| w == b"pHYs") {
        return Some(png.to_vec());
    }
    let ppm = (dpi / 0.0254).round() as u32;
    let mut chunk = Vec::with_capacity(21);
    chunk.extend_from_slice(&9u32.to_be_bytes());
    let mut body = b"pHYs".to_vec();
    body.extend_from_slice(&ppm.to_be_bytes());
    body.extend_from_slice(&ppm.to_be_bytes());
    body.push(1); // unit: metre
    chunk.extend_from_slice(&body);
    chunk.extend_from_slice(&crc32(&body).to_be_bytes());
    let mut out = png[..33].to_vec();
    out.extend_from_slice(&chunk);
    out.extend_from_slice(&png[33..]);
    Some(out)
}

/// CRC-32 (IEEE 802.3, as PNG requires), bitwise; the chunk is 13 bytes so speed is irrelevant.
fn crc32(data: &[u8]) -> u32 {
    let mut crc = 0xFFFF_FFFFu32;
    for &b in data {
        crc ^= b as u32;
        for _ in 0..8 {
            crc = if crc & 1 != 0 {
                (crc >> 1) ^ 0xEDB8_8320
            } else {
                crc >> 1
            };
        }
    }
    !crc
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn crc32_reference_value() {
        // The standard check value of CRC-32/ISO-HDLC: crc32("123456789") = 0xCBF43926.
        assert_eq!(crc32(b"123456789"), 0xCBF4_3926);
        // The PNG IEND chunk's CRC over "IEND" is AE 42 60 82 (every PNG file ends with it).
        assert_eq!(crc32(b"IEND"), 0xAE42_6082);
    }
}
