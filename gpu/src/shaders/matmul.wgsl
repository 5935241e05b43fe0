// c (m×n) = a (m×k) · b (k×n), row-major, in 16×16 tiles staged through
// workgroup memory; tiles past the edges of a and b read as zero, so k
// need not be a multiple of 16. Sums in f32 in order of k.

const TILE: u32 = 16u;

struct Params {
    // Rows of a and c in this dispatch.
    m: u32,
    k: u32,
    n: u32,
    _pad: u32,
}

@group(0) @binding(0) var<uniform> params: Params;
@group(0) @binding(1) var<storage, read> a: array<f32>;
@group(0) @binding(2) var<storage, read> b: array<f32>;
@group(0) @binding(3) var<storage, read_write> c: array<f32>;

var<workgroup> tile_a: array<array<f32, TILE>, TILE>;
var<workgroup> tile_b: array<array<f32, TILE>, TILE>;

@compute @workgroup_size(16, 16)
fn main(@builtin(local_invocation_id) lid: vec3<u32>, @builtin(workgroup_id) wid: vec3<u32>) {
    let row = wid.y * TILE + lid.y;
    let col = wid.x * TILE + lid.x;
    let tiles = (params.k + TILE - 1u) / TILE;
    var sum = 0.0;
    for (var t = 0u; t < tiles; t++) {
        let ka = t * TILE + lid.x;
        let kb = t * TILE + lid.y;
        var x = 0.0;
        if row < params.m && ka < params.k {
            x = a[row * params.k + ka];
        }
        var y = 0.0;
        if kb < params.k && col < params.n {
            y = b[kb * params.n + col];
        }
        tile_a[lid.y][lid.x] = x;
        tile_b[lid.y][lid.x] = y;
        workgroupBarrier();
        for (var i = 0u; i < TILE; i++) {
            sum += tile_a[lid.y][i] * tile_b[i][lid.x];
        }
        workgroupBarrier();
    }
    if row < params.m && col < params.n {
        c[row * params.n + col] = sum;
    }
}
