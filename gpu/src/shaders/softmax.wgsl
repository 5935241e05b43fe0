// Softmax of every row of `y` (rows×n, row-major), in place: subtract the
// row's maximum, exponentiate, divide by the sum (taken in order of the row).

struct Params {
    rows: u32,
    n: u32,
    // Invocations per row of the dispatch grid (workgroups in x * 256).
    row_stride: u32,
    _pad: u32,
}

@group(0) @binding(0) var<uniform> params: Params;
@group(0) @binding(1) var<storage, read_write> y: array<f32>;

@compute @workgroup_size(256)
fn main(@builtin(global_invocation_id) id: vec3<u32>) {
    let row = id.y * params.row_stride + id.x;
    if row >= params.rows {
        return;
    }
    let start = row * params.n;
    let end = start + params.n;
    var top = y[start];
    for (var i = start + 1u; i < end; i++) {
        top = max(top, y[i]);
    }
    var sum = 0.0;
    for (var i = start; i < end; i++) {
        let e = exp(y[i] - top);
        y[i] = e;
        sum += e;
    }
    for (var i = start; i < end; i++) {
        y[i] = y[i] / sum;
    }
}
