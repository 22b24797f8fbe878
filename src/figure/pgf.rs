//! The data CSV and the pgfplots `.tex` of a figure.
//!
//! pgfplots cannot select rows of a long-format table by itself, so the `.tex` defines the
//! well-known `discard if not={column}{value}` style (an `x filter` that sets x to `inf` for rows
//! whose column differs; pgfplots drops unbounded points). Each series is selected by its numeric
//! `series_id`, never by its name, so names need no TeX-safe comparison. Requirements in the
//! including document's preamble: `\usepackage{pgfplots}`, `\pgfplotsset{compat=1.16}` (or newer)
//! and, if the figure has a band, `\usepgfplotslibrary{fillbetween}`. The CSV is read from
//! `\attnboundsfigdir/stem.csv`; `\attnboundsfigdir` defaults to `.` and can be defined before
//! `\input` (LaTeX resolves paths from the main document, not from the `.tex` file).

use std::fmt::Write;

use super::Figure;
use super::prepare::{Interval, Prepared};

/// Numbers round-trip exactly (`{:?}` is the shortest representation that parses back, with an
/// exponent for very large or small values, e.g. `1e-200`).
fn num(v: f64) -> String {
    format!("{v:?}")
}

/// Long format, exactly the plotted rows: `series_id,x,y,lower,upper,series`, `nan` where the
/// series has no interval. The name is last because pgfplots may treat `%` as a comment start:
/// then only the (unused) name cell is cut, never a number. The name cell is made CSV- and
/// pgfplots-safe by [`csv_name`]; the legend in the `.tex` carries the exact name, TeX-escaped.
pub(crate) fn csv(prep: &Prepared, fig: &Figure) -> String {
    let mut out = String::from("series_id,x,y,lower,upper,series\n");
    for (k, (s, spec)) in prep.series.iter().zip(&fig.series).enumerate() {
        for r in &s.rows {
            let opt = |v: Option<f64>| v.map(num).unwrap_or_else(|| "nan".into());
            let _ = writeln!(
                out,
                "{k},{},{},{},{},{}",
                num(r.x),
                num(r.y),
                opt(r.lower),
                opt(r.upper),
                csv_name(&spec.name)
            );
        }
    }
    out
}

/// The series name as a single unquoted CSV cell that pgfplots reads without complaint:
/// `,` becomes `;`, `"` becomes `'`, and the characters pgfplots or TeX treat specially in a
/// table (`# \ { } ~ %`) are dropped.
pub(crate) fn csv_name(name: &str) -> String {
    name.chars()
        .filter_map(|c| match c {
            ',' => Some(';'),
            '"' => Some('\''),
            '#' | '\\' | '{' | '}' | '~' | '%' => None,
            c => Some(c),
        })
        .collect()
}

/// Escapes TeX specials and maps common Unicode symbols to math so pdflatex accepts labels such
/// as "ε (accuracy)" or "log N ≤ …".
pub(crate) fn tex_escape(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for c in s.chars() {
        let rep: &str = match c {
            '\\' => r"\textbackslash{}",
            '{' => r"\{",
            '}' => r"\}",
            '$' => r"\$",
            '&' => r"\&",
            '#' => r"\#",
            '%' => r"\%",
            '_' => r"\_",
            '^' => r"\^{}",
            '~' => r"\~{}",
            'α' => r"\ensuremath{\alpha}",
            'β' => r"\ensuremath{\beta}",
            'γ' => r"\ensuremath{\gamma}",
            'δ' => r"\ensuremath{\delta}",
            'ε' => r"\ensuremath{\varepsilon}",
            'η' => r"\ensuremath{\eta}",
            'θ' => r"\ensuremath{\theta}",
            'Θ' => r"\ensuremath{\Theta}",
            'κ' => r"\ensuremath{\kappa}",
            'λ' => r"\ensuremath{\lambda}",
            'σ' => r"\ensuremath{\sigma}",
            'Σ' => r"\ensuremath{\Sigma}",
            '≤' => r"\ensuremath{\leq}",
            '≥' => r"\ensuremath{\geq}",
            '×' => r"\ensuremath{\times}",
            '·' => r"\ensuremath{\cdot}",
            '−' => r"\ensuremath{-}",
            '∞' => r"\ensuremath{\infty}",
            '√' => r"\ensuremath{\surd}",
            '…' => r"\ldots{}",
            '⁰' => r"\textsuperscript{0}",
            '¹' => r"\textsuperscript{1}",
            '²' => r"\textsuperscript{2}",
            '³' => r"\textsuperscript{3}",
            '⁻' => r"\textsuperscript{-}",
            _ => {
                out.push(c);
                continue;
            }
        };
        out.push_str(rep);
    }
    out
}

const MARKS: [&str; super::MARKER_SHAPES] = ["*", "triangle*", "square*", "x"];

/// A pgfplots `tikzpicture` reading `stem.csv`, with the same ranges, colours, marks and legend
/// order as the PNG/SVG. Ticks are left to pgfplots (its log ticks are already 10^k style).
pub(crate) fn tex(fig: &Figure, prep: &Prepared, stem: &str) -> String {
    let mut t = String::new();
    let has_band = prep.series.iter().any(|s| s.interval == Interval::Band);
    let _ = writeln!(
        t,
        "% Figure `{stem}` written by attnbounds (src/figure). Data: {stem}.csv, long format."
    );
    let _ = writeln!(
        t,
        "% Preamble needs: \\usepackage{{pgfplots}} \\pgfplotsset{{compat=1.16}}"
    );
    if has_band {
        let _ = writeln!(
            t,
            "% and \\usepgfplotslibrary{{fillbetween}} (this figure has a shaded band)."
        );
    }
    let _ = writeln!(
        t,
        "% The CSV is read from \\attnboundsfigdir (default: .); define it before \\input to change."
    );
    // Every line outside the picture ends in `%`: a bare line end is a space in the paragraph
    // and would widen the figure by one space per line.
    t.push_str("\\providecommand{\\attnboundsfigdir}{.}%\n");
    t.push_str(
        "\\pgfplotsset{discard if not/.style 2 args={x filter/.append code={%\n  \
         \\edef\\attnboundsA{\\thisrow{#1}}\\edef\\attnboundsB{#2}%\n  \
         \\ifx\\attnboundsA\\attnboundsB\\else\\def\\pgfmathresult{inf}\\fi}}}%\n",
    );
    for (k, s) in prep.series.iter().enumerate() {
        let (r, g, b) = s.color;
        let _ = writeln!(
            t,
            "\\definecolor{{attnboundsC{k}}}{{HTML}}{{{r:02X}{g:02X}{b:02X}}}%"
        );
    }
    t.push_str("\\begin{tikzpicture}\n\\begin{axis}[\n");
    let _ = writeln!(
        t,
        "  % {}in column: the axis box is scaled exactly, leaving 0.9 in for tick labels and\n  \
         % the y label, so the picture fits the column whatever the labels are.\n  \
         scale only axis, width={:.2}in, height={:.2}in,",
        fig.size.width_in(),
        fig.size.width_in() - 0.9,
        fig.size.plot_height_in() - 0.6
    );
    if fig.x_log {
        t.push_str("  xmode=log,\n");
    }
    if fig.y_log {
        t.push_str("  ymode=log,\n");
    }
    let (x, y) = (&prep.x, &prep.y);
    let _ = writeln!(
        t,
        "  xmin={:e}, xmax={:e}, ymin={:e}, ymax={:e},",
        x.data_lo(),
        x.data_hi(),
        y.data_lo(),
        y.data_hi()
    );
    let _ = writeln!(
        t,
        "  xlabel={{{}}}, ylabel={{{}}},",
        tex_escape(&fig.x_label),
        tex_escape(&fig.y_label)
    );
    if !fig.title.is_empty() {
        // Long titles wrap inside the figure width instead of overflowing the column.
        let _ = writeln!(
            t,
            "  title={{{}}}, title style={{align=center, text width={:.2}in}},",
            tex_escape(&fig.title),
            fig.size.width_in() - 1.0
        );
    }
    // Many short legend entries go in columns, as many as fit the width (about 0.075 in per
    // footnotesize character plus the sample line), so a long legend is not taller than a page.
    let names: Vec<&str> = fig.series.iter().map(|s| s.name.as_str()).collect();
    let longest = names.iter().map(|n| n.chars().count()).max().unwrap_or(0) as f64;
    let fit = ((fig.size.width_in() - 0.3) / (0.075 * longest + 0.9)).floor() as usize;
    let columns = if names.len() > 6 { fit.clamp(1, 4) } else { 1 };
    let _ = writeln!(
        t,
        "  tick label style={{font=\\footnotesize}}, label style={{font=\\small}},\n  \
         grid=major, grid style={{black!10}}, mark size=1.6pt,\n  \
         legend cell align=left, legend columns={columns},\n  \
         legend style={{font=\\footnotesize, draw=none, fill=none, at={{(0.5,0)}}, anchor=north, yshift=-3.4em, /tikz/every even column/.append style={{column sep=0.8em}}}},\n]"
    );
    let table = |k: usize, y_col: &str, extra: &str| {
        format!(
            "table [col sep=comma, x=x, y={y_col}, discard if not={{series_id}}{{{k}}}{extra}] {{\\attnboundsfigdir/{stem}.csv}};"
        )
    };
    // Bands first, behind every line; `forget plot` keeps them out of the legend.
    for (k, s) in prep.series.iter().enumerate() {
        if s.interval != Interval::Band || s.rows.is_empty() {
            continue;
        }
        let _ = writeln!(
            t,
            "\\addplot [name path=attnboundsLo{k}, draw=none, forget plot] {}",
            table(k, "lower", "")
        );
        let _ = writeln!(
            t,
            "\\addplot [name path=attnboundsHi{k}, draw=none, forget plot] {}",
            table(k, "upper", "")
        );
        let _ = writeln!(
            t,
            "\\addplot [fill=attnboundsC{k}, fill opacity=0.2, draw=none, forget plot] fill between [of=attnboundsHi{k} and attnboundsLo{k}];"
        );
    }
    for (k, (s, spec)) in prep.series.iter().zip(&fig.series).enumerate() {
        let mut opts = vec![
            format!("color=attnboundsC{k}"),
            "line width=1pt".to_string(),
        ];
        match spec.style {
            super::SeriesStyle::Line => opts.push("no marks".into()),
            super::SeriesStyle::Points => {
                opts.push(format!("only marks, mark={}", MARKS[spec.marker_at(k)]))
            }
            super::SeriesStyle::LinePoints => {
                opts.push(format!("mark={}", MARKS[spec.marker_at(k)]))
            }
        }
        if spec.dashed {
            opts.push("dashed, mark options={solid, fill=white}".into());
        }
        let mut extra = String::new();
        if s.interval == Interval::Bars {
            opts.push(
                "error bars/.cd, y dir=both, y explicit, error bar style={line width=0.6pt}".into(),
            );
            extra = ", y error plus expr=\\thisrow{upper}-\\thisrow{y}, y error minus expr=\\thisrow{y}-\\thisrow{lower}".into();
        }
        let _ = writeln!(t, "% series {k}: {}", spec.name);
        if s.rows.is_empty() {
            let _ = writeln!(t, "% (no plottable rows; omitted)");
            continue;
        }
        let _ = writeln!(
            t,
            "\\addplot [{}] {}",
            opts.join(", "),
            table(k, "y", &extra)
        );
        let _ = writeln!(t, "\\addlegendentry{{{}}}", tex_escape(&spec.name));
    }
    t.push_str("\\end{axis}\n\\end{tikzpicture}%\n");
    t
}

/// Structural check of a generated `.tex` against the CSV it reads: braces and brackets balance
/// (escaped `\{ \} \[ \]` and `%` comments excluded), `\begin{..}`/`\end{..}` pair up, and every
/// column the plots read (`x=`, `y=`, `\thisrow{..}`, `discard if not={..}`) is in `csv_header`.
/// A stand-in for compiling with pdflatex where no TeX installation exists; `Figure::write`
/// refuses to write a file that fails it.
pub(crate) fn check_tex(tex: &str, csv_header: &[&str]) -> Result<(), String> {
    let mut stack: Vec<(char, usize)> = Vec::new();
    let mut envs: Vec<String> = Vec::new();
    for (n, line) in tex.lines().enumerate() {
        let line_no = n + 1;
        let mut prev_backslash = false;
        let mut code = String::new();
        for c in line.chars() {
            if c == '%' && !prev_backslash {
                break;
            }
            code.push(c);
            if !prev_backslash {
                match c {
                    '{' | '[' => stack.push((c, line_no)),
                    '}' | ']' => {
                        let want = if c == '}' { '{' } else { '[' };
                        match stack.pop() {
                            Some((open, _)) if open == want => {}
                            Some((open, l)) => {
                                return Err(format!(
                                    "line {line_no}: '{c}' closes '{open}' opened on line {l}"
                                ));
                            }
                            None => return Err(format!("line {line_no}: unmatched '{c}'")),
                        }
                    }
                    _ => {}
                }
            }
            prev_backslash = c == '\\' && !prev_backslash;
        }
        for (kw, opening) in [("\\begin{", true), ("\\end{", false)] {
            let mut rest = code.as_str();
            while let Some(i) = rest.find(kw) {
                rest = &rest[i + kw.len()..];
                let name: String = rest.chars().take_while(|&c| c != '}').collect();
                if opening {
                    envs.push(name);
                } else if envs.pop().as_deref() != Some(name.as_str()) {
                    return Err(format!(
                        "line {line_no}: \\end{{{name}}} without its \\begin"
                    ));
                }
            }
        }
        for key in ["x=", "y=", "\\thisrow{", "discard if not={"] {
            let mut rest = code.as_str();
            while let Some(i) = rest.find(key) {
                let before = rest[..i].chars().last();
                rest = &rest[i + key.len()..];
                // `x=` must be a key of its own, not the tail of e.g. `yshift=` or `xmax=`.
                if key.ends_with('=') && before.is_some_and(|c| c.is_alphanumeric()) {
                    continue;
                }
                let col: String = rest
                    .chars()
                    .take_while(|&c| c != ',' && c != '}' && c != ']')
                    .collect();
                let col = col.trim();
                if (key.ends_with('=') && rest.starts_with('{'))
                    || col.is_empty()
                    || col.starts_with('#')
                {
                    continue;
                }
                if !csv_header.contains(&col) {
                    return Err(format!(
                        "line {line_no}: column '{col}' is not in the CSV header {csv_header:?}"
                    ));
                }
            }
        }
    }
    if let Some((open, l)) = stack.pop() {
        return Err(format!("'{open}' opened on line {l} is never closed"));
    }
    if let Some(env) = envs.pop() {
        return Err(format!("\\begin{{{env}}} is never ended"));
    }
    Ok(())
}
