// Counts per bin between sorted edges, numpy.histogram semantics: bin i is
// [edges[i], edges[i + 1]), the last bin is closed, values outside the edges
// and NaN are not counted. Each workgroup counts into workgroup memory when
// the bins fit there, then adds its counts to the global ones.

const WORKGROUP: u32 = 256u;
const LOCAL_BINS: u32 = 4096u;

struct Params {
    len: u32,
    bins: u32,
    _pad0: u32,
    _pad1: u32,
}

@group(0) @binding(0) var<uniform> params: Params;
@group(0) @binding(1) var<storage, read> values: array<f32>;
@group(0) @binding(2) var<storage, read> edges: array<f32>;
@group(0) @binding(3) var<storage, read_write> counts: array<atomic<u32>>;

var<workgroup> local_counts: array<atomic<u32>, LOCAL_BINS>;

fn is_nan(x: f32) -> bool {
    return (bitcast<u32>(x) & 0x7fffffffu) > 0x7f800000u;
}

// The largest i with edges[i] <= x, at most bins - 1; the caller checks
// that x lies within the edges.
fn bin_of(x: f32) -> u32 {
    var lo = 0u;
    var hi = params.bins;
    while lo < hi {
        let mid = (lo + hi + 1u) / 2u;
        if edges[mid] <= x {
            lo = mid;
        } else {
            hi = mid - 1u;
        }
    }
    return min(lo, params.bins - 1u);
}

@compute @workgroup_size(256)
fn main(
    @builtin(local_invocation_index) lid: u32,
    @builtin(workgroup_id) wid: vec3<u32>,
    @builtin(num_workgroups) groups: vec3<u32>,
) {
    let local = params.bins <= LOCAL_BINS;
    if local {
        for (var b = lid; b < params.bins; b += WORKGROUP) {
            atomicStore(&local_counts[b], 0u);
        }
    }
    workgroupBarrier();
    let first = edges[0];
    let last = edges[params.bins];
    for (var i = wid.x * WORKGROUP + lid; i < params.len; i += groups.x * WORKGROUP) {
        let x = values[i];
        if !is_nan(x) && x >= first && x <= last {
            let b = bin_of(x);
            if local {
                atomicAdd(&local_counts[b], 1u);
            } else {
                atomicAdd(&counts[b], 1u);
            }
        }
    }
    workgroupBarrier();
    if local {
        for (var b = lid; b < params.bins; b += WORKGROUP) {
            let c = atomicLoad(&local_counts[b]);
            if c > 0u {
                atomicAdd(&counts[b], c);
            }
        }
    }
}
