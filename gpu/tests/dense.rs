//! Dense layers on a real Vulkan device (lavapipe without a GPU) against
//! their CPU implementation and an f64 reference.

mod common;

use std::sync::Arc;
use std::time::{Duration, Instant};

use common::{cpu, gpu, Rng};
use weft_gpu::{Activation, Choice, Device, GpuError, Layer, LimitKind};

/// Device bytes the tests allow when blocks are not what they test.
const MAX_BYTES: u64 = 256 << 20;

const ACTIVATIONS: [Activation; 6] = [
    Activation::Identity,
    Activation::Relu,
    Activation::Sigmoid,
    Activation::Tanh,
    Activation::LeakyRelu(0.1),
    Activation::Softmax,
];

/// Layers 8→33→17→3, each ending in `activation`, with alpha and beta
/// other than 1 and no bias in the middle one. Weights are scaled by 1/√k
/// so the values stay near 1 through every layer.
fn layers(rng: &mut Rng, activation: Activation) -> Vec<Layer> {
    let shapes = [
        (8, 33, 1.25, Some(0.75)),
        (33, 17, 0.5, None),
        (17, 3, 0.9, Some(2.0)),
    ];
    shapes
        .into_iter()
        .map(|(k, n, alpha, beta)| {
            let scale = 1.0 / (k as f64).sqrt();
            Layer {
                weights: rng.f32s(k * n, -scale, scale).into(),
                bias: beta.map(|_| rng.f32s(n, -0.5, 0.5).into()),
                k,
                n,
                alpha,
                beta: beta.unwrap_or(1.0),
                activation,
            }
        })
        .collect()
}

/// `x` through `layers` in f64 with the textbook formulas.
fn reference(x: &[f32], layers: &[Layer]) -> Vec<f64> {
    let mut y: Vec<f64> = x.iter().map(|&v| f64::from(v)).collect();
    for layer in layers {
        let (k, n) = (layer.k, layer.n);
        let mut z = Vec::with_capacity(y.len() / k * n);
        for row in y.chunks_exact(k) {
            let start = z.len();
            for j in 0..n {
                let sum: f64 = (0..k)
                    .map(|p| row[p] * f64::from(layer.weights[p * n + j]))
                    .sum();
                let bias = layer.bias.as_ref().map_or(0.0, |b| f64::from(b[j]));
                let v = f64::from(layer.alpha) * sum + f64::from(layer.beta) * bias;
                z.push(match layer.activation {
                    Activation::Identity | Activation::Softmax => v,
                    Activation::Relu => v.max(0.0),
                    Activation::Sigmoid => 1.0 / (1.0 + (-v).exp()),
                    Activation::Tanh => v.tanh(),
                    Activation::LeakyRelu(leak) => {
                        if v < 0.0 {
                            f64::from(leak) * v
                        } else {
                            v
                        }
                    }
                });
            }
            if layer.activation == Activation::Softmax {
                let out = &mut z[start..];
                let top = out.iter().copied().fold(f64::NEG_INFINITY, f64::max);
                let total: f64 = out.iter().map(|v| (v - top).exp()).sum();
                out.iter_mut().for_each(|v| *v = (*v - top).exp() / total);
            }
        }
        y = z;
    }
    y
}

/// The largest error of `got` against `want` relative to `1e-6 + 1e-5·|want|`,
/// after asserting it is at most 1.
fn check(got: &[f32], want: &[f64], what: &str) -> f64 {
    assert_eq!(got.len(), want.len(), "{what}: length");
    let mut worst = 0.0f64;
    for (i, (&g, &w)) in got.iter().zip(want).enumerate() {
        let err = (f64::from(g) - w).abs() / (1e-6 + 1e-5 * w.abs());
        assert!(err <= 1.0, "{what}: value {i} is {g}, want {w}");
        worst = worst.max(err);
    }
    worst
}

#[test]
fn dense_matches_cpu_and_f64() {
    let mut rng = Rng::new(11);
    let mut worst = 0.0f64;
    for activation in ACTIVATIONS {
        let layers = layers(&mut rng, activation);
        for rows in [0, 1, 257, 100_003] {
            let x = rng.f32s(rows * 8, -2.0, 2.0);
            let what = format!("{activation:?}, {rows} rows");
            let on_gpu = gpu().dense(&x, &layers, MAX_BYTES, None).unwrap();
            let on_cpu = cpu().dense(&x, &layers, MAX_BYTES, None).unwrap();
            let exact = reference(&x, &layers);
            let as_f64: Vec<f64> = on_cpu.iter().map(|&v| f64::from(v)).collect();
            worst = worst.max(check(&on_gpu, &exact, &format!("{what} (gpu)")));
            check(&on_cpu, &exact, &format!("{what} (cpu)"));
            check(&on_gpu, &as_f64, &format!("{what} (gpu vs cpu)"));
        }
    }
    eprintln!("dense: max error against f64 in units of 1e-6 + 1e-5·|y|: {worst:e}");
}

#[test]
fn dense_in_row_blocks_equals_one_block() {
    let mut rng = Rng::new(12);
    let layers = layers(&mut rng, Activation::Softmax);
    let x = rng.f32s(1000 * 8, -2.0, 2.0);
    let whole = gpu().dense(&x, &layers, MAX_BYTES, None).unwrap();
    // Weights and biases are 3,648 bytes and a row 244: about 40 rows a
    // block; buffers of 1024 values allow 31 rows of 33 values.
    for (buffer_bytes, max_bytes) in [(MAX_BYTES, 3_648 + 40 * 244), (4096, MAX_BYTES)] {
        let device = Device::new(Choice::Gpu)
            .unwrap()
            .with_max_buffer_bytes(buffer_bytes);
        let blocks = device.dense(&x, &layers, max_bytes, None).unwrap();
        assert_eq!(
            blocks, whole,
            "buffers of {buffer_bytes}, {max_bytes} bytes"
        );
        // Five weights and biases, and a block of x per upload after them.
        let uploads = device.transfers().uploads;
        assert!(uploads >= 5 + 1000 / 40, "{uploads} uploads");
    }
}

#[test]
fn dense_keeps_weights_on_the_device() {
    // A device of its own, so other tests' traffic does not count.
    let device = Device::new(Choice::Gpu).unwrap();
    let mut rng = Rng::new(13);
    let layers = layers(&mut rng, Activation::Relu);
    let x = rng.f32s(300 * 8, -2.0, 2.0);
    let first = device.dense(&x, &layers, MAX_BYTES, None).unwrap();
    let t = device.transfers();
    assert_eq!((t.uploads, t.resident_hits), (6, 0), "{t:?}");
    let second = device.dense(&x, &layers, MAX_BYTES, None).unwrap();
    let t = device.transfers();
    assert_eq!((t.uploads, t.resident_hits), (7, 5), "{t:?}");
    assert_eq!(first, second);
}

#[test]
fn dense_refuses_before_dispatching() {
    let mut rng = Rng::new(14);
    let good = layers(&mut rng, Activation::Tanh);
    let x = rng.f32s(10 * 8, -1.0, 1.0);
    let invalid = |device: &Device, layers: &[Layer], x: &[f32], expect: &str| match device
        .dense(x, layers, MAX_BYTES, None)
    {
        Err(GpuError::InvalidInput(message)) => assert!(message.contains(expect), "{message}"),
        other => panic!("{expect}: {other:?}"),
    };
    for device in [gpu().clone(), cpu()] {
        let unchained = [good[0].clone(), good[2].clone()];
        invalid(
            &device,
            &unchained,
            &x,
            "layer 1 takes 17 inputs, the layer before gives 33",
        );
        let mut short = good.clone();
        short[1].weights = Arc::from(&good[1].weights[1..]);
        invalid(&device, &short, &x, "layer 1 has 560 weights, not 33×17");
        let mut biased = good.clone();
        biased[2].bias = Some(Arc::from(&[0.0f32; 2][..]));
        invalid(&device, &biased, &x, "layer 2 has 2 biases, not 3");
        invalid(
            &device,
            &good,
            &x[1..],
            "x has 79 values, not a multiple of 8",
        );
        invalid(&device, &[], &x, "no layers");
    }
    // Weights larger than one device buffer.
    let small = gpu().clone().with_max_buffer_bytes(4096);
    let mut wide = good.clone();
    wide[1] = Layer {
        weights: rng.f32s(33 * 64, -1.0, 1.0).into(),
        bias: None,
        n: 64,
        ..good[1].clone()
    };
    wide[2] = Layer {
        weights: rng.f32s(64 * 3, -1.0, 1.0).into(),
        k: 64,
        ..good[2].clone()
    };
    invalid(&small, &wide, &x, "weights of layer 1 (33×64) do not fit");
    // Weights and biases alone take 3,648 bytes.
    match gpu().dense(&x, &good, 3_000, None) {
        Err(GpuError::LimitExceeded {
            kind: LimitKind::TotalBytes,
            requested,
            limit: 3_000,
        }) => assert_eq!(requested, 3_648 + 16 * 244),
        other => panic!("{other:?}"),
    }
    // A deadline already past: nothing is launched.
    let late = gpu().dense(&x, &good, MAX_BYTES, Some(Instant::now()));
    assert!(matches!(late, Err(GpuError::Timeout(_))), "{late:?}");
    let soon = Some(Instant::now() + Duration::from_secs(60));
    let in_time = gpu().dense(&x, &good, MAX_BYTES, soon).unwrap();
    check(&in_time, &reference(&x, &good), "within the deadline");
}

#[test]
fn a_matrix_shared_by_layers_counts_once_against_max_bytes() {
    let mut rng = Rng::new(15);
    let layer = |weights: Arc<[f32]>, k| Layer {
        weights,
        bias: None,
        k,
        n: 16,
        alpha: 1.0,
        beta: 1.0,
        activation: Activation::Relu,
    };
    let square: Arc<[f32]> = rng.f32s(16 * 16, -0.25, 0.25).into();
    let first = layer(rng.f32s(8 * 16, -0.5, 0.5).into(), 8);
    let shared = vec![
        first.clone(),
        layer(square.clone(), 16),
        layer(square.clone(), 16),
        layer(square.clone(), 16),
    ];
    let copies: Vec<Layer> = shared
        .iter()
        .map(|l| layer(Arc::from(&l.weights[..]), l.k))
        .collect();
    let x = rng.f32s(40 * 8, -1.0, 1.0);
    // 512 + 1,024 bytes of weights and 16 rows of 224 bytes: 5,120; three
    // copies of the square take 2,048 more.
    let got = gpu().dense(&x, &shared, 6_000, None).unwrap();
    check(&got, &reference(&x, &shared), "shared weights");
    match gpu().dense(&x, &copies, 6_000, None) {
        Err(GpuError::LimitExceeded { requested, .. }) => assert_eq!(requested, 7_168),
        other => panic!("{other:?}"),
    }
}
