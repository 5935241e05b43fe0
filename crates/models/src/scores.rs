//! What a tree ensemble makes of the leaves a row reaches, as ONNX
//! Runtime's tree aggregators do it (`tree_ensemble_aggregator.h`,
//! `ml_common.h`): the weights summed (or averaged, or their minimum or
//! maximum) in tree order in `f32`, the base values, a classifier's label
//! with its two-class special cases, then the post transform. A score no
//! leaf gave reads as 0, as a `ScoreValue` without a score does there.

/// How a regressor combines its trees' weights (`aggregate_function`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Aggregate {
    Sum,
    Average,
    Min,
    Max,
}

/// `post_transform`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Post {
    None,
    Logistic,
    Softmax,
    SoftmaxZero,
}

/// A regressor's combination, or a classifier's labels: `binary` when it
/// has two classes and its weights name one, `positive` when no weight
/// is negative.
#[derive(Debug, Clone, PartialEq)]
pub(crate) enum Kind {
    Regressor(Aggregate),
    Classifier {
        labels: Vec<i64>,
        binary: bool,
        positive: bool,
    },
}

/// The scores an ensemble gives: `width` targets or classes.
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct Head {
    pub kind: Kind,
    pub width: usize,
    pub post: Post,
    pub base: Vec<f32>,
    /// How many trees, for an average.
    pub trees: usize,
}

impl Head {
    /// Whether scoring is a plain sum of each leaf's first weight: one
    /// target or weight column, summed or averaged (as [`Head::add`] does
    /// then).
    pub fn sums_first(&self) -> bool {
        let aggregate = match self.kind {
            Kind::Regressor(aggregate) => aggregate,
            Kind::Classifier { .. } => Aggregate::Sum,
        };
        self.width == 1 && matches!(aggregate, Aggregate::Sum | Aggregate::Average)
    }

    /// Add the `weights` of a leaf a row reached to its `scores`.
    #[inline(always)]
    pub fn add(&self, scores: &mut [f32], has: &mut [bool], weights: &[(u32, f32)]) {
        let aggregate = match self.kind {
            Kind::Regressor(aggregate) => aggregate,
            Kind::Classifier { .. } => Aggregate::Sum,
        };
        if self.width == 1 {
            // One target: ONNX Runtime takes the leaf's first weight.
            return fold(aggregate, &mut scores[0], &mut has[0], weights[0].1);
        }
        for &(at, weight) in weights {
            fold(
                aggregate,
                &mut scores[at as usize],
                &mut has[at as usize],
                weight,
            );
        }
    }

    /// The `width` outputs of one row from its `scores`, into `out`, and
    /// its label (0 for a regressor).
    pub fn finish(&self, scores: &mut [f32], has: &mut [bool], out: &mut [f32]) -> i64 {
        match &self.kind {
            Kind::Regressor(aggregate) => {
                self.regression(*aggregate, scores, has, out);
                0
            }
            Kind::Classifier { labels, .. } if self.width > 2 => {
                for ((s, h), b) in scores.iter_mut().zip(has.iter_mut()).zip(&self.base) {
                    *s = if *h { *s + b } else { *b };
                    *h = true;
                }
                let mut best: Option<usize> = None;
                for (c, (&s, &h)) in scores.iter().zip(has.iter()).enumerate() {
                    if h && best.is_none_or(|b| s > scores[b]) {
                        best = Some(c);
                    }
                }
                transform(self.post, scores, has, out);
                labels[best.unwrap_or(0)]
            }
            Kind::Classifier { .. } => self.two_classes(scores, has, out),
        }
    }

    fn regression(&self, aggregate: Aggregate, scores: &mut [f32], has: &[bool], out: &mut [f32]) {
        let per_tree = |s: f32| match aggregate {
            Aggregate::Average => s / self.trees as f32,
            _ => s,
        };
        if self.width == 1 {
            let origin = if self.base.len() == 1 {
                self.base[0]
            } else {
                0.0
            };
            let v = match aggregate {
                Aggregate::Min | Aggregate::Max if !has[0] => origin,
                _ => per_tree(scores[0]) + origin,
            };
            // One target: the other transforms are not applied.
            out[0] = v;
            return;
        }
        let base = self.base.len() == self.width;
        for (c, s) in scores.iter_mut().enumerate() {
            *s = match base {
                true => per_tree(*s) + self.base[c],
                false => per_tree(*s),
            };
        }
        transform(self.post, scores, has, out);
    }

    /// Two classes, with ONNX Runtime's special cases: one weight column
    /// (`binary`) gives the other class as its complement.
    fn two_classes(&self, s: &mut [f32], has: &mut [bool], out: &mut [f32]) -> i64 {
        let Kind::Classifier {
            labels,
            binary,
            positive,
        } = &self.kind
        else {
            return 0;
        };
        let mut second = -1;
        let mut both = true;
        match self.base.as_slice() {
            [_, b1] if has[1] => {
                s[1] = b1 + s[0];
                s[0] = -s[1];
            }
            [b0, b1] => {
                s[1] += b1;
                s[0] += b0;
            }
            [b0] => {
                s[0] += b0;
                both = has[1];
            }
            _ => {
                second = 3;
                both = has[1];
            }
        }
        let weight = match (both && has[1], has[0]) {
            (true, _) => s[1],
            (false, true) => s[0],
            (false, false) => 0.0,
        };
        let label = match (binary, positive) {
            (true, true) if weight > 0.5 => (0, labels[1]),
            (true, true) => (1, labels[0]),
            (true, false) if weight > 0.0 => (2, labels[1]),
            (true, false) => (3, labels[0]),
            (false, _) => (second, i64::from(weight > 0.0)),
        };
        if both {
            transform(self.post, s, has, out);
            return label.1;
        }
        let e = if has[0] { s[0] } else { 0.0 };
        let (first, other) = match label.0 {
            _ if self.post == Post::Logistic => (logistic(-e), logistic(e)),
            0 | 1 => (1.0 - e, e),
            _ => (-e, e),
        };
        out[0] = first;
        out[1] = other;
        label.1
    }
}

#[inline(always)]
fn fold(aggregate: Aggregate, score: &mut f32, has: &mut bool, weight: f32) {
    *score = match aggregate {
        Aggregate::Sum | Aggregate::Average => *score + weight,
        Aggregate::Min if !*has || weight < *score => weight,
        Aggregate::Max if !*has || weight > *score => weight,
        Aggregate::Min | Aggregate::Max => *score,
    };
    *has = true;
}

/// `post` over two or more scores (a missing one reads as 0), into `out`.
fn transform(post: Post, scores: &[f32], has: &[bool], out: &mut [f32]) {
    for ((o, &s), &h) in out.iter_mut().zip(scores).zip(has) {
        *o = if h { s } else { 0.0 };
    }
    match post {
        Post::None => {}
        Post::Logistic => out.iter_mut().for_each(|v| *v = logistic(*v)),
        Post::Softmax | Post::SoftmaxZero => softmax(out, post == Post::SoftmaxZero),
    }
}

/// ONNX Runtime's `ComputeSoftmax`, or `ComputeSoftmaxZero` (which leaves
/// scores within 1e-7 of zero out of the sum).
fn softmax(values: &mut [f32], zero: bool) {
    let max = values
        .iter()
        .fold(-f32::MAX, |m, &v| if v > m { v } else { m });
    let scale = (-max).exp();
    let mut sum = 0f32;
    for v in values.iter_mut() {
        if zero && !(*v > 0.000_000_1 || *v < -0.000_000_1) {
            *v *= scale;
        } else {
            *v = (*v - max).exp();
            sum += *v;
        }
    }
    values.iter_mut().for_each(|v| *v /= sum);
}

/// ONNX Runtime's `ComputeLogistic`.
fn logistic(v: f32) -> f32 {
    let e = 1.0 / (1.0 + (-v.abs()).exp());
    if v < 0.0 {
        1.0 - e
    } else {
        e
    }
}
