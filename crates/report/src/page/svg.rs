//! The page's charts as inline SVG (no `xmlns`: the HTML parser places
//! `<svg>` in the SVG namespace itself, and the page names no URL at all).

use std::fmt::Write as _;

use super::figures::{Band, Drift};
use super::text::{esc, num};

/// Side of the ROC plot area, in pixels.
const ROC_SIDE: f64 = 240.0;
/// Left margin of the ROC plot (tick labels, y-axis title).
const ROC_LEFT: f64 = 52.0;
/// Top margin of the ROC plot (its title).
const ROC_TOP: f64 = 30.0;
/// Bottom margin of the ROC plot (tick labels, x-axis title).
const ROC_BOTTOM: f64 = 44.0;

/// The ROC curve through `points` (`(fpr, tpr)`, sorted by fpr), with axes,
/// the chance diagonal and a title naming `auc`.
pub fn roc_curve(points: &[(f64, f64)], auc: Option<f64>) -> String {
    let title = match auc {
        Some(a) => format!("ROC curve, AUC {}", num(a)),
        None => "ROC curve".to_string(),
    };
    let (w, h) = (ROC_LEFT + ROC_SIDE + 16.0, ROC_TOP + ROC_SIDE + ROC_BOTTOM);
    let mut s = format!(
        "<svg class=\"roc-curve\" role=\"img\" width=\"{w}\" height=\"{h}\" viewBox=\"0 0 {w} {h}\">\
         <title>{t}</title><text class=\"title\" x=\"{cx}\" y=\"18\" text-anchor=\"middle\">{t}</text>",
        t = esc(&title),
        cx = ROC_LEFT + ROC_SIDE / 2.0,
    );
    s.push_str(&roc_axes());
    let (x0, y0) = roc_xy(0.0, 0.0);
    let (x1, y1) = roc_xy(1.0, 1.0);
    let _ = write!(
        s,
        "<line class=\"diagonal\" x1=\"{x0:.1}\" y1=\"{y0:.1}\" x2=\"{x1:.1}\" y2=\"{y1:.1}\"></line>"
    );
    let coords: Vec<String> = points
        .iter()
        .map(|&(f, t)| {
            let (x, y) = roc_xy(f, t);
            format!("{x:.1},{y:.1}")
        })
        .collect();
    let _ = write!(
        s,
        "<polyline class=\"roc\" points=\"{}\"></polyline></svg>",
        coords.join(" ")
    );
    s
}

/// Pixel position of `(fpr, tpr)`, clamped to the plot area.
fn roc_xy(fpr: f64, tpr: f64) -> (f64, f64) {
    let (f, t) = (fpr.clamp(0.0, 1.0), tpr.clamp(0.0, 1.0));
    (ROC_LEFT + f * ROC_SIDE, ROC_TOP + (1.0 - t) * ROC_SIDE)
}

/// Both axes with ticks at 0, 0.25, ..., 1 and their titles.
fn roc_axes() -> String {
    let (left, bottom) = (ROC_LEFT, ROC_TOP + ROC_SIDE);
    let (right, top) = (ROC_LEFT + ROC_SIDE, ROC_TOP);
    let mut s = format!(
        "<g class=\"axes\"><line class=\"axis\" x1=\"{left}\" y1=\"{bottom}\" x2=\"{right}\" y2=\"{bottom}\"></line>\
         <line class=\"axis\" x1=\"{left}\" y1=\"{bottom}\" x2=\"{left}\" y2=\"{top}\"></line>"
    );
    for i in 0..=4 {
        let v = f64::from(i) / 4.0;
        let (x, y) = roc_xy(v, v);
        let _ = write!(
            s,
            "<line class=\"tick\" x1=\"{x:.1}\" y1=\"{bottom}\" x2=\"{x:.1}\" y2=\"{:.1}\"></line>\
             <text class=\"tick-label\" x=\"{x:.1}\" y=\"{:.1}\" text-anchor=\"middle\">{v}</text>\
             <line class=\"tick\" x1=\"{left}\" y1=\"{y:.1}\" x2=\"{:.1}\" y2=\"{y:.1}\"></line>\
             <text class=\"tick-label\" x=\"{:.1}\" y=\"{:.1}\" text-anchor=\"end\">{v}</text>",
            bottom + 4.0,
            bottom + 16.0,
            left - 4.0,
            left - 6.0,
            y + 4.0,
        );
    }
    let _ = write!(
        s,
        "<text class=\"axis-title\" x=\"{:.1}\" y=\"{:.1}\" text-anchor=\"middle\">false positive rate</text>\
         <text class=\"axis-title\" transform=\"translate(14 {:.1}) rotate(-90)\" text-anchor=\"middle\">true positive rate</text></g>",
        left + ROC_SIDE / 2.0,
        bottom + 36.0,
        top + ROC_SIDE / 2.0,
    );
    s
}

/// Width of the drift chart's bar area, in pixels.
const BAR_AREA: f64 = 280.0;
/// Height of one drift row.
const ROW: f64 = 26.0;
/// Height of the legend above the bars.
const LEGEND: f64 = 30.0;
/// Room for the figures right of the bars.
const STATS: f64 = 300.0;
/// Longest column name shown whole.
const MAX_LABEL: usize = 40;

/// The drift chart: a horizontal bar per column, width proportional to its
/// psi, colored by [`Band`], with the KS test (or unseen count) in a column
/// beside the bars, dashed lines at the band limits and a legend.
pub fn drift_chart(rows: &[Drift]) -> String {
    let widest = rows
        .iter()
        .map(|r| r.column.chars().count().min(MAX_LABEL + 1))
        .max()
        .unwrap_or(0);
    let label_w = (widest as f64 * 7.5 + 16.0).max(72.0);
    let top = rows
        .iter()
        .map(|r| r.psi)
        .filter(|p| p.is_finite())
        .fold(0.3_f64, f64::max);
    let scale = BAR_AREA / top;
    let (w, h) = (
        label_w + BAR_AREA + STATS,
        LEGEND + ROW * rows.len() as f64 + 22.0,
    );
    let mut s = format!(
        "<svg class=\"drift\" role=\"img\" width=\"{w}\" height=\"{h}\" viewBox=\"0 0 {w} {h}\">\
         <title>Drift: population stability index per column</title>"
    );
    s.push_str(&legend());
    let bottom = LEGEND + ROW * rows.len() as f64;
    s.push_str(&thresholds(label_w, LEGEND, bottom, scale));
    for (i, row) in rows.iter().enumerate() {
        s.push_str(&drift_row(row, label_w, LEGEND + ROW * i as f64, scale));
    }
    s.push_str("</svg>");
    s
}

/// One column's label, bar and figures, at height `y`.
fn drift_row(row: &Drift, label_w: f64, y: f64, scale: f64) -> String {
    let band = Band::of(row.psi);
    let width = if row.psi.is_finite() {
        (row.psi.max(0.0) * scale).min(BAR_AREA)
    } else {
        0.0
    };
    let col = esc(&row.column);
    let shown = if row.column.chars().count() > MAX_LABEL {
        let head: String = row.column.chars().take(MAX_LABEL).collect();
        esc(&format!("{head}\u{2026}"))
    } else {
        col.clone()
    };
    format!(
        "<g class=\"drift-row\"><text class=\"column\" x=\"{:.1}\" y=\"{:.1}\" text-anchor=\"end\">{shown}</text>\
         <rect class=\"bar\" data-column=\"{col}\" data-band=\"{b}\" x=\"{label_w:.1}\" y=\"{:.1}\" width=\"{width:.2}\" height=\"{:.1}\" fill=\"{c}\">\
         <title>{col}: psi {p} ({b})</title></rect>\
         <text class=\"stats\" x=\"{:.1}\" y=\"{:.1}\">{}</text></g>",
        label_w - 8.0,
        y + 17.0,
        y + 4.0,
        ROW - 8.0,
        label_w + BAR_AREA + 12.0,
        y + 17.0,
        esc(&stats(row)),
        b = band.name(),
        c = band.color(),
        p = num(row.psi),
    )
}

/// The figures beside a bar: psi, then KS statistic and p-value or the
/// unseen count.
fn stats(row: &Drift) -> String {
    let mut s = format!("psi {}", num(row.psi));
    if let Some(ks) = row.ks_statistic {
        let _ = write!(s, " \u{b7} KS {}", num(ks));
        if let Some(p) = row.ks_pvalue {
            let _ = write!(s, " (p = {})", num(p));
        }
    }
    if let Some(u) = row.unseen {
        let _ = write!(s, " \u{b7} unseen {}", num(u));
    }
    s
}

/// Swatches naming each band's range.
fn legend() -> String {
    let mut s = String::from("<g class=\"legend\">");
    for (i, band) in Band::ALL.into_iter().enumerate() {
        let x = 8.0 + 190.0 * i as f64;
        let _ = write!(
            s,
            "<rect class=\"swatch\" data-band=\"{n}\" x=\"{x}\" y=\"6\" width=\"12\" height=\"12\" fill=\"{c}\"></rect>\
             <text x=\"{:.1}\" y=\"16\">{n}: {r}</text>",
            x + 18.0,
            n = band.name(),
            c = band.color(),
            r = esc(band.range()),
        );
    }
    s.push_str("</g>");
    s
}

/// Dashed lines at the band limits, labelled with their psi.
fn thresholds(label_w: f64, top: f64, bottom: f64, scale: f64) -> String {
    let mut s = String::from("<g class=\"thresholds\">");
    for limit in [Band::STABLE_BELOW, Band::MODERATE_UP_TO] {
        let x = label_w + limit * scale;
        let _ = write!(
            s,
            "<line class=\"threshold\" x1=\"{x:.1}\" y1=\"{top:.1}\" x2=\"{x:.1}\" y2=\"{bottom:.1}\"></line>\
             <text class=\"tick-label\" x=\"{x:.1}\" y=\"{:.1}\" text-anchor=\"middle\">{limit}</text>",
            bottom + 14.0,
        );
    }
    s.push_str("</g>");
    s
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn roc_polyline_has_a_point_per_input() {
        let svg = roc_curve(&[(0.0, 0.0), (0.5, 0.9), (1.0, 1.0)], Some(0.9));
        let points = svg
            .split("points=\"")
            .nth(1)
            .unwrap()
            .split('"')
            .next()
            .unwrap();
        assert_eq!(points.split(' ').count(), 3);
        assert!(svg.contains("AUC 0.9"));
    }

    #[test]
    fn bars_escape_column_names() {
        let row = Drift {
            column: "<b>&".into(),
            psi: 0.3,
            ks_statistic: Some(0.2),
            ks_pvalue: Some(0.01),
            unseen: None,
        };
        let svg = drift_chart(&[row]);
        assert!(svg.contains("data-column=\"&lt;b&gt;&amp;\""));
        assert!(!svg.contains("<b>"));
        assert!(svg.contains("data-band=\"major\""));
    }
}
