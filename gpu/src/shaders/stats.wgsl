// Per-workgroup count, mean, sum of squared deviations (m2), min and max of
// the valid values (mask bit set, not NaN): each invocation runs Welford's
// update over ITEMS values, then the workgroup merges its invocations'
// results pairwise (Chan et al.). All in f32; the host merges the
// per-workgroup partials in f64.

const WORKGROUP: u32 = 256u;
const ITEMS: u32 = 16u;

struct Params {
    len: u32,
    // 1 when `mask` holds validity bits (bit i % 32 of word i / 32).
    has_mask: u32,
    // Workgroups per row of the dispatch grid.
    groups_x: u32,
    // Workgroups that have values (ceil(len / (WORKGROUP * ITEMS))).
    groups: u32,
}

struct Acc {
    n: f32,
    mean: f32,
    m2: f32,
    min: f32,
    max: f32,
}

@group(0) @binding(0) var<uniform> params: Params;
@group(0) @binding(1) var<storage, read> values: array<f32>;
@group(0) @binding(2) var<storage, read> mask: array<u32>;
@group(0) @binding(3) var<storage, read_write> partials: array<Acc>;

var<workgroup> shared_acc: array<Acc, WORKGROUP>;

fn valid(i: u32) -> bool {
    if params.has_mask != 0u && ((mask[i >> 5u] >> (i & 31u)) & 1u) == 0u {
        return false;
    }
    // Not NaN: the magnitude bits are at most those of infinity.
    return (bitcast<u32>(values[i]) & 0x7fffffffu) <= 0x7f800000u;
}

fn merge(a: Acc, b: Acc) -> Acc {
    if b.n == 0.0 {
        return a;
    }
    if a.n == 0.0 {
        return b;
    }
    let n = a.n + b.n;
    let d = b.mean - a.mean;
    return Acc(n, a.mean + d * (b.n / n), a.m2 + b.m2 + d * d * (a.n * (b.n / n)), min(a.min, b.min), max(a.max, b.max));
}

@compute @workgroup_size(256)
fn main(@builtin(local_invocation_index) lid: u32, @builtin(workgroup_id) wid: vec3<u32>) {
    let group = wid.y * params.groups_x + wid.x;
    let base = group * WORKGROUP * ITEMS;
    var acc = Acc(0.0, 0.0, 0.0, 0.0, 0.0);
    for (var j = 0u; j < ITEMS; j++) {
        let i = base + j * WORKGROUP + lid;
        if group < params.groups && i < params.len && valid(i) {
            let x = values[i];
            if acc.n == 0.0 {
                acc = Acc(1.0, x, 0.0, x, x);
            } else {
                acc.n += 1.0;
                let d = x - acc.mean;
                acc.mean += d / acc.n;
                acc.m2 += d * (x - acc.mean);
                acc.min = min(acc.min, x);
                acc.max = max(acc.max, x);
            }
        }
    }
    shared_acc[lid] = acc;
    workgroupBarrier();
    for (var stride = WORKGROUP / 2u; stride > 0u; stride /= 2u) {
        if lid < stride {
            shared_acc[lid] = merge(shared_acc[lid], shared_acc[lid + stride]);
        }
        workgroupBarrier();
    }
    if lid == 0u && group < params.groups {
        partials[group] = shared_acc[0];
    }
}
