//! The trees of a `TreeEnsembleClassifier` or `TreeEnsembleRegressor`
//! node read from its attributes into flat arrays, as ONNX Runtime builds
//! them (roots, leaf weights sorted by tree and node), and walked for a
//! block of rows at a time: every tree for all the rows of the block, each
//! row taking exactly as many steps as its tree is deep (a leaf leads back
//! to itself), so the rows of a block walk side by side without a branch.

use std::collections::{HashMap, HashSet};

use crate::graph::{Attribute, Op};

/// The comparisons a branch makes, `x[feature] <op> threshold`.
pub(crate) const LEQ: u8 = 0;
pub(crate) const LT: u8 = 1;
pub(crate) const GTE: u8 = 2;
pub(crate) const GT: u8 = 3;
pub(crate) const EQ: u8 = 4;
pub(crate) const NEQ: u8 = 5;
/// Branches of several kinds: each node's kind is in its feature's bits.
pub(crate) const MIXED: u8 = 6;

/// Feature bits: the index, the comparison, and whether a NaN goes the
/// true way (`nodes_missing_value_tracks_true`).
const FEATURE: u32 = 0x00ff_ffff;
const MODE_SHIFT: u32 = 24;
const NAN_TRUE: u32 = 1 << 31;

/// One node: a branch, or a leaf whose `next` are both itself.
#[derive(Debug, Clone, Copy, PartialEq)]
pub(crate) struct Step {
    feature: u32,
    threshold: f32,
    /// The node taken when the comparison fails, and when it holds.
    next: [u32; 2],
}

/// An ensemble ready to walk.
#[derive(Debug)]
pub(crate) struct Ensemble {
    steps: Vec<Step>,
    /// The comparison all branches make, or [`MIXED`].
    mode: u8,
    /// Whether some branch sends NaN the true way.
    tracks: bool,
    /// Each tree's first node and depth, in ONNX Runtime's order.
    pub trees: Vec<(u32, u32)>,
    /// For each node, the range of its weights in `weights` (leaves only).
    spans: Vec<(u32, u32)>,
    /// `(target or class, weight)`.
    weights: Vec<(u32, f32)>,
    /// For each node, its first weight (0 for a branch): what a sum over
    /// one target adds.
    first: Vec<f32>,
}

/// The attribute `name` of `op` as integers (absent: none).
fn ints<'o>(op: &'o Op<'_>, name: &str) -> &'o [i64] {
    op.attribute(name).map_or(&[], |a| &a.ints)
}

/// A float list attribute, or its `_as_tensor` twin (a float tensor).
pub(crate) fn floats(op: &Op<'_>, name: &str) -> Result<Vec<f32>, String> {
    let tensor = format!("{name}_as_tensor");
    match (op.attribute(name), op.attribute(&tensor)) {
        (_, Some(Attribute { t: None, .. })) => Err(format!("{tensor} is not a float tensor")),
        (Some(a), Some(_)) if !a.floats.is_empty() => Err(format!("both {name} and {tensor}")),
        (_, Some(Attribute { t: Some(t), .. })) => Ok(t.clone()),
        (Some(a), None) => Ok(a.floats.clone()),
        (None, None) => Ok(Vec::new()),
    }
}

fn mode(name: &str) -> Option<u8> {
    Some(match name {
        "BRANCH_LEQ" => LEQ,
        "BRANCH_LT" => LT,
        "BRANCH_GTE" => GTE,
        "BRANCH_GT" => GT,
        "BRANCH_EQ" => EQ,
        "BRANCH_NEQ" => NEQ,
        _ => return None,
    })
}

/// The node attributes of an ensemble, one entry per node.
struct Nodes<'o> {
    trees: &'o [i64],
    ids: &'o [i64],
    features: &'o [i64],
    yes: &'o [i64],
    no: &'o [i64],
    /// `nodes_missing_value_tracks_true`, which may be shorter.
    tracks: &'o [i64],
    values: Vec<f32>,
    modes: &'o [String],
}

impl<'o> Nodes<'o> {
    fn read(op: &'o Op<'_>) -> Result<Nodes<'o>, String> {
        let nodes = Nodes {
            trees: ints(op, "nodes_treeids"),
            ids: ints(op, "nodes_nodeids"),
            features: ints(op, "nodes_featureids"),
            yes: ints(op, "nodes_truenodeids"),
            no: ints(op, "nodes_falsenodeids"),
            tracks: ints(op, "nodes_missing_value_tracks_true"),
            values: floats(op, "nodes_values")?,
            modes: op.attribute("nodes_modes").map_or(&[], |a| &a.strings),
        };
        let n = nodes.trees.len();
        let lengths = [
            nodes.ids.len(),
            nodes.features.len(),
            nodes.yes.len(),
            nodes.no.len(),
            nodes.values.len(),
            nodes.modes.len(),
        ];
        if n == 0 || lengths.iter().any(|&l| l != n) || nodes.tracks.len() > n {
            return Err("its node attributes differ in length".into());
        }
        Ok(nodes)
    }

    /// Each node's index, by tree and node id.
    fn index(&self) -> Result<HashMap<(i64, i64), u32>, String> {
        let mut at = HashMap::with_capacity(self.trees.len());
        for (i, key) in self
            .trees
            .iter()
            .copied()
            .zip(self.ids.iter().copied())
            .enumerate()
        {
            if at.insert(key, i as u32).is_some() {
                return Err(format!("node {} of tree {} is listed twice", key.1, key.0));
            }
        }
        Ok(at)
    }

    /// Node `i` as a step, its children found in `at`, its feature below `k`.
    fn step(&self, i: usize, at: &HashMap<(i64, i64), u32>, k: usize) -> Result<Step, String> {
        let Some(kind) = mode(&self.modes[i]) else {
            if self.modes[i] != "LEAF" {
                return Err(format!("node mode {:?}", self.modes[i]));
            }
            let next = [i as u32; 2];
            return Ok(Step {
                feature: 0,
                threshold: 0.0,
                next,
            });
        };
        let named = format!("node {} of tree {}", self.ids[i], self.trees[i]);
        let child = |id: i64| match at.get(&(self.trees[i], id)) {
            Some(&c) if c as usize != i && (0..self.trees.len() as i64).contains(&id) => Ok(c),
            _ => Err(format!("{named} has no child {id}")),
        };
        let feature = u32::try_from(self.features[i])
            .ok()
            .filter(|&f| (f as usize) < k);
        let feature =
            feature.ok_or_else(|| format!("{named} reads feature {}", self.features[i]))?;
        let nan = if self.tracks.get(i) == Some(&1) {
            NAN_TRUE
        } else {
            0
        };
        Ok(Step {
            feature: feature | u32::from(kind) << MODE_SHIFT | nan,
            threshold: self.values[i],
            next: [child(self.no[i])?, child(self.yes[i])?],
        })
    }
}

impl Ensemble {
    /// The trees of `op`, whose weights are read from the attributes
    /// `<prefix>_ids`, `_nodeids`, `_treeids` and `_weights` (`class` or
    /// `target`), each id below `width`; features below `k`.
    pub fn read(op: &Op<'_>, prefix: &str, width: usize, k: usize) -> Result<Ensemble, String> {
        let nodes = Nodes::read(op)?;
        let at = nodes.index()?;
        let n = nodes.trees.len();
        let steps = (0..n)
            .map(|i| nodes.step(i, &at, k))
            .collect::<Result<Vec<_>, _>>()?;
        let kinds: HashSet<u8> = (0..n)
            .filter(|&i| steps[i].next != [i as u32; 2])
            .map(|i| (steps[i].feature >> MODE_SHIFT) as u8 & 0xf)
            .collect();
        let mode = match kinds.len() {
            1 => kinds.into_iter().next().unwrap_or(MIXED),
            _ => MIXED,
        };
        let (spans, weights) = leaves(op, prefix, &at, &steps, width)?;
        let first = spans
            .iter()
            .map(|&(start, end)| match start < end {
                true => weights[start as usize].1,
                false => 0.0,
            })
            .collect();
        let mut ensemble = Ensemble {
            tracks: steps.iter().any(|s| s.feature & NAN_TRUE != 0),
            steps,
            mode,
            trees: Vec::new(),
            spans,
            weights,
            first,
        };
        // A tree starts where the tree id changes, as in ONNX Runtime; a
        // node no root reaches, or two reach, is refused (ONNX Runtime
        // would misplace its weights).
        let mut seen = vec![false; n];
        for i in 0..n {
            if i == 0 || nodes.trees[i] != nodes.trees[i - 1] {
                let depth = ensemble.depth(i as u32, &mut seen)?;
                ensemble.trees.push((i as u32, depth));
            }
        }
        if let Some(lost) = seen.iter().position(|s| !s) {
            let (tree, id) = (nodes.trees[lost], nodes.ids[lost]);
            return Err(format!(
                "node {id} of tree {tree} is not under its tree's first node"
            ));
        }
        Ok(ensemble)
    }

    /// How many steps from `root` reach every leaf, marking the nodes
    /// `seen`; `Err` when one is reached twice.
    fn depth(&self, root: u32, seen: &mut [bool]) -> Result<u32, String> {
        let mut deepest = 0;
        let mut stack = vec![(root, 0u32)];
        while let Some((i, depth)) = stack.pop() {
            if std::mem::replace(&mut seen[i as usize], true) {
                return Err("a tree's branches meet or loop".into());
            }
            let next = self.steps[i as usize].next;
            if next == [i; 2] {
                deepest = deepest.max(depth);
            } else {
                stack.extend(next.map(|c| (c, depth + 1)));
            }
        }
        Ok(deepest)
    }

    /// The leaf each row of `x` (rows of `k` features) reaches in the tree
    /// starting at `root`, `depth` deep, written to `at`.
    pub fn walk(&self, (root, depth): (u32, u32), x: &[f32], k: usize, at: &mut [u32]) {
        match (self.mode, self.tracks) {
            (LEQ, false) => self.walk_as::<LEQ, false>(root, depth, x, k, at),
            (LEQ, true) => self.walk_as::<LEQ, true>(root, depth, x, k, at),
            (LT, false) => self.walk_as::<LT, false>(root, depth, x, k, at),
            (LT, true) => self.walk_as::<LT, true>(root, depth, x, k, at),
            // Rarer comparisons: each node's own, from its bits.
            _ => self.walk_as::<MIXED, true>(root, depth, x, k, at),
        }
    }

    #[inline(always)]
    fn walk_as<const MODE: u8, const NAN: bool>(
        &self,
        root: u32,
        depth: u32,
        x: &[f32],
        k: usize,
        at: &mut [u32],
    ) {
        at.fill(root);
        for _ in 0..depth {
            for (row, i) in at.iter_mut().enumerate() {
                let step = &self.steps[*i as usize];
                let v = x[row * k + (step.feature & FEATURE) as usize];
                let mode = match MODE {
                    MIXED => (step.feature >> MODE_SHIFT) as u8 & 0xf,
                    _ => MODE,
                };
                let holds = holds(mode, v, step.threshold)
                    || (NAN && step.feature & NAN_TRUE != 0 && v.is_nan());
                *i = step.next[usize::from(holds)];
            }
        }
    }

    /// The first weight of the leaf at node `leaf`.
    #[inline(always)]
    pub fn first(&self, leaf: u32) -> f32 {
        self.first[leaf as usize]
    }

    /// The weights of the leaf at node `leaf`.
    #[inline(always)]
    pub fn weights(&self, leaf: u32) -> &[(u32, f32)] {
        let (start, end) = self.spans[leaf as usize];
        &self.weights[start as usize..end as usize]
    }
}

#[inline(always)]
fn holds(mode: u8, v: f32, threshold: f32) -> bool {
    match mode {
        LEQ => v <= threshold,
        LT => v < threshold,
        GTE => v >= threshold,
        GT => v > threshold,
        EQ => v == threshold,
        _ => v != threshold,
    }
}

/// Each leaf's weights, sorted by tree and node id (then as listed), as
/// ONNX Runtime sorts them; weights of branches are ignored, as there.
#[allow(clippy::type_complexity)]
fn leaves(
    op: &Op<'_>,
    prefix: &str,
    at: &HashMap<(i64, i64), u32>,
    steps: &[Step],
    width: usize,
) -> Result<(Vec<(u32, u32)>, Vec<(u32, f32)>), String> {
    let ids = ints(op, &format!("{prefix}_ids"));
    let nodes = ints(op, &format!("{prefix}_nodeids"));
    let trees = ints(op, &format!("{prefix}_treeids"));
    let values = floats(op, &format!("{prefix}_weights"))?;
    if [nodes.len(), trees.len(), values.len()] != [ids.len(); 3] {
        return Err(format!("its {prefix} attributes differ in length"));
    }
    let mut order: Vec<usize> = (0..ids.len()).collect();
    order.sort_by_key(|&i| (trees[i], nodes[i], i));
    let mut listed: Vec<Vec<(u32, f32)>> = vec![Vec::new(); steps.len()];
    for i in order {
        let node = *at.get(&(trees[i], nodes[i])).ok_or_else(|| {
            format!(
                "a weight names node {} of tree {}, not in it",
                nodes[i], trees[i]
            )
        })?;
        let class = u32::try_from(ids[i]).ok().filter(|&c| (c as usize) < width);
        let class =
            class.ok_or_else(|| format!("a weight's id {} is not below {width}", ids[i]))?;
        if steps[node as usize].next == [node; 2] {
            listed[node as usize].push((class, values[i]));
        }
    }
    let mut spans = Vec::with_capacity(steps.len());
    let mut weights = Vec::with_capacity(values.len());
    for (node, list) in listed.into_iter().enumerate() {
        if list.is_empty() && steps[node].next == [node as u32; 2] {
            return Err(format!("leaf {node} has no weight"));
        }
        let start = weights.len() as u32;
        weights.extend(list);
        spans.push((start, weights.len() as u32));
    }
    Ok((spans, weights))
}
