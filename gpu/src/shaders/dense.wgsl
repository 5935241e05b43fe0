// One dense layer: c (m×n) = act(alpha · a (m×k) · w (k×n) + beta · bias),
// row-major, in 16×16 tiles staged through workgroup memory (sums in f32
// in order of k); then the epilogue per element. With alpha 1, no bias
// and no activation it is the plain product `matmul` runs.

const TILE: u32 = 16u;

struct Params {
    // Rows of a and c in this dispatch.
    m: u32,
    k: u32,
    n: u32,
    // 0 identity, 1 relu, 2 sigmoid, 3 tanh, 4 leaky relu.
    act: u32,
    alpha: f32,
    beta: f32,
    // The slope of leaky relu below zero.
    leak: f32,
    // 1 when `bias` holds n values, 0 when the layer has none.
    has_bias: u32,
}

@group(0) @binding(0) var<uniform> params: Params;
@group(0) @binding(1) var<storage, read> a: array<f32>;
@group(0) @binding(2) var<storage, read> w: array<f32>;
@group(0) @binding(3) var<storage, read> bias: array<f32>;
@group(0) @binding(4) var<storage, read_write> c: array<f32>;

var<workgroup> tile_a: array<array<f32, TILE>, TILE>;
var<workgroup> tile_w: array<array<f32, TILE>, TILE>;

// The activation of `v`, in forms that stay finite for large |v| (the
// builtin tanh turns into NaN there on some drivers); NaN stays NaN.
fn activate(v: f32) -> f32 {
    switch params.act {
        case 1u: {
            return select(v, 0.0, v < 0.0);
        }
        case 2u: {
            let e = exp(-abs(v));
            return select(e / (1.0 + e), 1.0 / (1.0 + e), v >= 0.0);
        }
        case 3u: {
            let e = exp(-2.0 * abs(v));
            return sign(v) * ((1.0 - e) / (1.0 + e));
        }
        case 4u: {
            return select(v, params.leak * v, v < 0.0);
        }
        default: {
            return v;
        }
    }
}

@compute @workgroup_size(16, 16)
fn main(@builtin(local_invocation_id) lid: vec3<u32>, @builtin(workgroup_id) wid: vec3<u32>) {
    let row = wid.y * TILE + lid.y;
    let col = wid.x * TILE + lid.x;
    let tiles = (params.k + TILE - 1u) / TILE;
    var sum = 0.0;
    for (var t = 0u; t < tiles; t++) {
        let ka = t * TILE + lid.x;
        let kw = t * TILE + lid.y;
        var x = 0.0;
        if row < params.m && ka < params.k {
            x = a[row * params.k + ka];
        }
        var y = 0.0;
        if kw < params.k && col < params.n {
            y = w[kw * params.n + col];
        }
        tile_a[lid.y][lid.x] = x;
        tile_w[lid.y][lid.x] = y;
        workgroupBarrier();
        for (var i = 0u; i < TILE; i++) {
            sum += tile_a[lid.y][i] * tile_w[i][lid.x];
        }
        workgroupBarrier();
    }
    if row < params.m && col < params.n {
        var v = params.alpha * sum;
        if params.has_bias != 0u {
            v += params.beta * bias[col];
        }
        c[row * params.n + col] = activate(v);
    }
}
