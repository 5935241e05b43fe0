//! How a model's tensors map onto columns: how many feature columns an
//! input takes, and what the `onnx-model` step names an output's columns.
//! The host feeds and reads tensors by these rules and the step checks
//! its config by them, so both sides agree.

/// How many columns an input of `shape` takes, when that is fixed: one
/// for `[N]`, `k` for `[N, k]` with `k` known.
pub fn input_width(shape: &[i64]) -> Option<usize> {
    match shape {
        [_] => Some(1),
        [_, k] if *k > 0 => usize::try_from(*k).ok(),
        _ => None,
    }
}

/// Whether an output of `shape` is one column (`[N]` or `[N, 1]`).
pub fn single_column(shape: &[i64]) -> bool {
    matches!(shape, [_] | [_, 1])
}

/// The name of column `i` of the `count` an output of `shape` gave,
/// written as `column`: `column` itself for a single column, else
/// `column_i`.
pub fn column_name(column: &str, shape: &[i64], i: usize, count: usize) -> String {
    if single_column(shape) && count == 1 {
        column.to_owned()
    } else {
        format!("{column}_{i}")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn widths_and_names_follow_the_shapes() {
        assert_eq!(input_width(&[-1]), Some(1));
        assert_eq!(input_width(&[-1, 8]), Some(8));
        assert_eq!(input_width(&[-1, -1]), None);
        assert_eq!(input_width(&[-1, 2, 2]), None);
        assert_eq!(column_name("p", &[-1, 1], 0, 1), "p");
        assert_eq!(column_name("label", &[-1], 0, 1), "label");
        assert_eq!(column_name("p", &[-1, 2], 1, 2), "p_1");
        assert_eq!(
            column_name("p", &[-1, -1], 0, 1),
            "p_0",
            "a width not declared"
        );
    }
}
