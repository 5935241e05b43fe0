// (x - a) * b for every value of `input`, into `output`.

struct Params {
    len: u32,
    // Invocations per row of the dispatch grid (workgroups in x * 256).
    row_stride: u32,
    a: f32,
    b: f32,
}

@group(0) @binding(0) var<uniform> params: Params;
@group(0) @binding(1) var<storage, read> input: array<f32>;
@group(0) @binding(2) var<storage, read_write> output: array<f32>;

@compute @workgroup_size(256)
fn main(@builtin(global_invocation_id) id: vec3<u32>) {
    let i = id.y * params.row_stride + id.x;
    if i < params.len {
        output[i] = (input[i] - params.a) * params.b;
    }
}
