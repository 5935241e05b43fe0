//! Precision, recall and F1 from counts, as scikit-learn's
//! `precision_recall_fscore_support` with `zero_division="warn"`.

/// `num / den`, or 0.0 when `den` is 0 (scikit-learn's default
/// `zero_division`, which also warns).
pub fn ratio(num: u64, den: u64) -> f64 {
    if den == 0 {
        0.0
    } else {
        num as f64 / den as f64
    }
}

/// `[precision, recall, f1]` of one class from its true positives, its
/// predicted count and its true count (support). F1 is `2 tp / (true +
/// predicted)`, as scikit-learn computes it.
pub fn prf(tp: u64, predicted: u64, support: u64) -> [f64; 3] {
    [
        ratio(tp, predicted),
        ratio(tp, support),
        ratio(2 * tp, predicted + support),
    ]
}
