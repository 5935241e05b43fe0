//! The built-in kernels on a real Vulkan device (lavapipe without a GPU)
//! against their CPU implementations and an f64 reference, on awkward sizes.

mod common;

use common::{cpu, gpu, rel, Rng};
use std::sync::Arc;

use weft_gpu::{Device, Input, KeepAlive, Kind, Stats};

/// Row counts that miss every power of two and block size.
const SIZES: [usize; 5] = [0, 1, 255, 257, 1_000_003];

/// The exact product in f64, and per element `Σₚ |a_ip · b_pj|`.
fn matmul_reference(a: &[f32], b: &[f32], m: usize, k: usize, n: usize) -> (Vec<f64>, Vec<f64>) {
    let mut exact = vec![0.0; m * n];
    let mut scale = vec![0.0; m * n];
    for i in 0..m {
        for p in 0..k {
            let x = f64::from(a[i * k + p]);
            for j in 0..n {
                let y = f64::from(b[p * n + j]);
                exact[i * n + j] += x * y;
                scale[i * n + j] += (x * y).abs();
            }
        }
    }
    (exact, scale)
}

/// The largest error of `c` against the reference, relative to `scale`,
/// after asserting the documented bound `k · 2⁻²³ · scale`.
fn check_matmul(c: &[f32], exact: &[f64], scale: &[f64], k: usize, what: &str) -> f64 {
    assert_eq!(c.len(), exact.len(), "{what}: length");
    let mut worst = 0.0f64;
    for (i, ((&c, &e), &s)) in c.iter().zip(exact).zip(scale).enumerate() {
        let err = rel(f64::from(c), e, s.max(f64::MIN_POSITIVE));
        assert!(
            err <= k as f64 * f64::from(f32::EPSILON),
            "{what}: element {i} is {c}, exact {e} (relative error {err:e})"
        );
        worst = worst.max(err);
    }
    worst
}

fn matmul_case(device: &Device, rng: &mut Rng, m: usize, k: usize, n: usize) -> f64 {
    let a = rng.f32s(m * k, -1.0, 1.0);
    let b = rng.f32s(k * n, -1.0, 1.0);
    let (exact, scale) = matmul_reference(&a, &b, m, k, n);
    let on_gpu = device.matmul(&a, &b, m, k, n).unwrap();
    let on_cpu = cpu().matmul(&a, &b, m, k, n).unwrap();
    let what = format!("matmul {m}×{k}×{n}");
    let gpu_err = check_matmul(&on_gpu, &exact, &scale, k, &format!("{what} (gpu)"));
    check_matmul(&on_cpu, &exact, &scale, k, &format!("{what} (cpu)"));
    gpu_err
}

#[test]
fn matmul_matches_cpu_and_f64_on_awkward_shapes() {
    let device = gpu();
    let mut rng = Rng::new(1);
    let dims = [1, 17, 64, 129];
    let mut worst = 0.0f64;
    for m in dims {
        for k in dims {
            for n in dims {
                worst = worst.max(matmul_case(device, &mut rng, m, k, n));
            }
        }
    }
    worst = worst.max(matmul_case(device, &mut rng, 256, 300, 128));
    eprintln!("matmul: max error relative to Σ|a·b|: {worst:e}");
}

#[test]
fn matmul_in_row_blocks_equals_one_block() {
    // 4 KiB buffers: 1024 values, so a 200×37 input runs in blocks of 27 rows.
    let small = gpu().clone().with_max_buffer_bytes(4096);
    let mut rng = Rng::new(2);
    let (m, k, n) = (200, 37, 23);
    let a = rng.f32s(m * k, -1.0, 1.0);
    let b = rng.f32s(k * n, -1.0, 1.0);
    let whole = gpu().matmul(&a, &b, m, k, n).unwrap();
    assert_eq!(small.matmul(&a, &b, m, k, n).unwrap(), whole);
    // b larger than one buffer is refused, not truncated.
    let big_b = rng.f32s(64 * 64, -1.0, 1.0);
    let err = small.matmul(&[0.0; 64], &big_b, 1, 64, 64).unwrap_err();
    assert!(err.to_string().contains("does not fit"), "{err}");
}

#[test]
fn matmul_rejects_wrong_shapes() {
    for device in [gpu().clone(), cpu()] {
        let err = device.matmul(&[1.0; 6], &[1.0; 6], 2, 3, 3).unwrap_err();
        assert!(err.to_string().contains("b has 6 values, not 3×3"), "{err}");
    }
}

/// count, nulls, sum, mean, m2, min, max of the counted values in f64.
fn stats_reference(values: &[f32], valid: Option<&[bool]>) -> Stats {
    let kept: Vec<f64> = values
        .iter()
        .enumerate()
        .filter(|(i, x)| valid.is_none_or(|v| v[*i]) && !x.is_nan())
        .map(|(_, &x)| f64::from(x))
        .collect();
    let count = kept.len();
    let sum: f64 = kept.iter().sum();
    let mean = sum / count as f64;
    Stats {
        count: count as u64,
        nulls: (values.len() - count) as u64,
        sum,
        mean,
        m2: kept.iter().map(|x| (x - mean) * (x - mean)).sum(),
        min: kept.iter().copied().fold(f64::NAN, f64::min),
        max: kept.iter().copied().fold(f64::NAN, f64::max),
    }
}

/// Σ|x| / count over the counted values: the scale of sum and mean errors.
fn mean_abs(values: &[f32], valid: Option<&[bool]>) -> f64 {
    let kept = values
        .iter()
        .enumerate()
        .filter(|(i, x)| valid.is_none_or(|v| v[*i]) && !x.is_nan());
    let (n, total) = kept.fold((0usize, 0.0f64), |(n, t), (_, &x)| {
        (n + 1, t + f64::from(x).abs())
    });
    total / n.max(1) as f64
}

/// Errors of `got` against `want`: (sum and mean relative to Σ|x|/count,
/// m2 relative to itself), after asserting the documented tolerances.
fn check_stats(got: &Stats, want: &Stats, abs_mean: f64, what: &str) -> (f64, f64) {
    assert_eq!(
        (got.count, got.nulls),
        (want.count, want.nulls),
        "{what}: counts"
    );
    let same = |x: f64, y: f64| x == y || (x.is_nan() && y.is_nan());
    assert!(
        same(got.min, want.min) && same(got.max, want.max),
        "{what}: {got:?} vs {want:?}"
    );
    if want.count == 0 {
        assert!(
            got.mean.is_nan() && got.sum == 0.0 && got.m2 == 0.0,
            "{what}: {got:?}"
        );
        return (0.0, 0.0);
    }
    let n = want.count as f64;
    let mean_err = rel(got.mean, want.mean, abs_mean).max(rel(got.sum, want.sum, abs_mean * n));
    let m2_err = if want.m2 == 0.0 {
        got.m2.abs()
    } else {
        rel(got.m2, want.m2, want.m2)
    };
    assert!(
        mean_err <= 1e-6,
        "{what}: sum/mean off by {mean_err:e}: {got:?} vs {want:?}"
    );
    assert!(
        m2_err <= 1e-5,
        "{what}: m2 off by {m2_err:e}: {got:?} vs {want:?}"
    );
    (mean_err, m2_err)
}

#[test]
fn column_stats_match_cpu_and_f64_on_awkward_sizes() {
    let device = gpu();
    let mut rng = Rng::new(3);
    let (mut mean_worst, mut m2_worst) = (0.0f64, 0.0f64);
    for len in SIZES {
        // Offset data (mean ~100, sd ~6) strains f32 sums of squares.
        let mut values = rng.f32s(len, 90.0, 110.0);
        for (i, v) in values.iter_mut().enumerate() {
            if i % 97 == 5 {
                *v = f32::NAN;
            }
        }
        let mask: Vec<bool> = (0..len).map(|_| rng.unit() > 0.1).collect();
        for valid in [None, Some(&mask[..])] {
            let want = stats_reference(&values, valid);
            let abs_mean = mean_abs(&values, valid);
            let what = format!("column_stats len {len}, mask {}", valid.is_some());
            let on_gpu = device.column_stats(&values, valid).unwrap();
            let on_cpu = cpu().column_stats(&values, valid).unwrap();
            let (e1, e2) = check_stats(&on_gpu, &want, abs_mean, &format!("{what} (gpu)"));
            check_stats(&on_cpu, &want, abs_mean, &format!("{what} (cpu)"));
            mean_worst = mean_worst.max(e1);
            m2_worst = m2_worst.max(e2);
        }
    }
    eprintln!("column_stats: max relative error sum/mean {mean_worst:e}, m2 {m2_worst:e}");
}

#[test]
fn column_stats_of_nothing_valid_and_in_chunks() {
    let device = gpu();
    let all_nan = device.column_stats(&[f32::NAN; 300], None).unwrap();
    assert_eq!((all_nan.count, all_nan.nulls), (0, 300));
    assert!(all_nan.mean.is_nan() && all_nan.min.is_nan());
    let none_valid = device.column_stats(&[1.0; 10], Some(&[false; 10])).unwrap();
    assert_eq!((none_valid.count, none_valid.nulls), (0, 10));

    let mut rng = Rng::new(4);
    let values = rng.f32s(100_001, -5.0, 5.0);
    let mask: Vec<bool> = (0..values.len()).map(|i| i % 7 != 0).collect();
    let small = device.clone().with_max_buffer_bytes(4096);
    let want = stats_reference(&values, Some(&mask));
    let got = small.column_stats(&values, Some(&mask)).unwrap();
    let abs_mean = mean_abs(&values, Some(&mask));
    check_stats(&got, &want, abs_mean, "column_stats in 1024-value chunks");
    let err = device.column_stats(&values, Some(&mask[1..])).unwrap_err();
    assert!(err.to_string().contains("validity flags"), "{err}");
}

#[test]
fn histogram_equals_cpu_exactly() {
    let device = gpu();
    let mut rng = Rng::new(5);
    for len in SIZES {
        let mut values = rng.f32s(len, -12.0, 12.0);
        // Sorted edges inside the data's range, some repeated; many values
        // land exactly on edges, and a few are NaN.
        let mut edges = rng.f32s(20, -10.0, 10.0);
        edges.push(edges[3]);
        edges.sort_by(f32::total_cmp);
        for (i, v) in values.iter_mut().enumerate() {
            match i % 11 {
                0 => *v = edges[i % edges.len()],
                1 if i % 3 == 0 => *v = f32::NAN,
                _ => {}
            }
        }
        let on_gpu = device.histogram(&values, &edges).unwrap();
        assert_eq!(
            on_gpu,
            cpu().histogram(&values, &edges).unwrap(),
            "len {len}"
        );
        let inside = values
            .iter()
            .filter(|&&x| x >= edges[0] && x <= edges[edges.len() - 1])
            .count() as u64;
        assert_eq!(on_gpu.iter().sum::<u64>(), inside, "len {len}");
    }
}

#[test]
fn histogram_follows_numpy_and_handles_many_bins() {
    let device = gpu();
    // numpy.histogram([0, 1, 1, 2, 2.5, 3, -1, nan], bins=[0, 1, 1, 2, 3])
    let values = [0.0, 1.0, 1.0, 2.0, 2.5, 3.0, -1.0, f32::NAN];
    let edges = [0.0, 1.0, 1.0, 2.0, 3.0];
    assert_eq!(device.histogram(&values, &edges).unwrap(), [1, 0, 2, 3]);
    assert_eq!(cpu().histogram(&values, &edges).unwrap(), [1, 0, 2, 3]);

    // More bins than fit workgroup memory, counted straight into the output;
    // and chunked input.
    let mut rng = Rng::new(6);
    let values = rng.f32s(300_000, 0.0, 1.0);
    let edges: Vec<f32> = (0..=5000).map(|i| i as f32 / 5000.0).collect();
    let want = cpu().histogram(&values, &edges).unwrap();
    assert_eq!(device.histogram(&values, &edges).unwrap(), want);
    let small = device.clone().with_max_buffer_bytes(64 << 10);
    assert_eq!(small.histogram(&values, &edges).unwrap(), want);

    for bad in [&[1.0][..], &[2.0, 1.0], &[0.0, f32::NAN]] {
        assert!(device.histogram(&values, bad).is_err(), "{bad:?}");
    }
}

#[test]
fn affine_matches_cpu_and_f64() {
    let device = gpu();
    let mut rng = Rng::new(7);
    let (a, b) = (3.25f32, -0.7f32);
    let mut worst = 0.0f64;
    for len in SIZES {
        let mut values = rng.f32s(len, -1e3, 1e3);
        if len > 2 {
            values[1] = f32::NAN;
        }
        let on_gpu = device.affine(&values, a, b).unwrap();
        let on_cpu = cpu().affine(&values, a, b).unwrap();
        assert_eq!(on_gpu.len(), len);
        for (i, ((&g, &c), &x)) in on_gpu.iter().zip(&on_cpu).zip(&values).enumerate() {
            let exact = (f64::from(x) - f64::from(a)) * f64::from(b);
            if x.is_nan() {
                assert!(g.is_nan() && c.is_nan());
                continue;
            }
            assert_eq!(g.to_bits(), c.to_bits(), "len {len}, row {i}: {g} vs {c}");
            let err = rel(f64::from(g), exact, exact.abs());
            assert!(err <= f64::from(f32::EPSILON), "row {i}: {g} vs {exact}");
            worst = worst.max(err);
        }
    }
    let chunked = device.clone().with_max_buffer_bytes(4096);
    let values = rng.f32s(10_000, -1.0, 1.0);
    assert_eq!(
        chunked.affine(&values, a, b).unwrap(),
        device.affine(&values, a, b).unwrap()
    );
    eprintln!("affine: max relative error {worst:e}");
}

#[test]
fn concurrent_callers_share_one_device() {
    let device = gpu();
    std::thread::scope(|s| {
        for t in 0..8u64 {
            s.spawn(move || {
                let mut rng = Rng::new(100 + t);
                let values = rng.f32s(50_000 + t as usize, -1.0, 1.0);
                let edges = [-1.0, -0.5, 0.0, 0.25, 1.0];
                let cpu = cpu();
                assert_eq!(
                    device.histogram(&values, &edges).unwrap(),
                    cpu.histogram(&values, &edges).unwrap()
                );
                assert_eq!(
                    device.affine(&values, 0.5, 2.0).unwrap(),
                    cpu.affine(&values, 0.5, 2.0).unwrap()
                );
                let got = device.column_stats(&values, None).unwrap();
                assert_eq!(got.count, values.len() as u64);
                let (a, b) = (rng.f32s(33 * 19, -1.0, 1.0), rng.f32s(19 * 40, -1.0, 1.0));
                let (exact, scale) = matmul_reference(&a, &b, 33, 19, 40);
                check_matmul(
                    &device.matmul(&a, &b, 33, 19, 40).unwrap(),
                    &exact,
                    &scale,
                    19,
                    "threaded",
                );
            });
        }
    });
}

#[test]
fn devices_report_what_runs_the_kernels() {
    let info = gpu().info();
    assert_ne!(info.kind, Kind::CpuFallback);
    assert_eq!(info.backend, "vulkan");
    assert_eq!(info.custom_wgsl.as_deref(), Some(info.name.as_str()));

    let cpu = cpu();
    assert_eq!(cpu.info().kind, Kind::CpuFallback);
    assert_eq!(cpu.info().custom_wgsl, None);

    // Auto runs the built-in kernels on hardware or on the CPU, never on a
    // software adapter; custom shaders still get the adapter there is.
    let auto = Device::new(weft_gpu::Choice::Auto).unwrap();
    assert_ne!(auto.info().kind, Kind::Software, "{:?}", auto.info());
    assert!(auto.info().custom_wgsl.is_some(), "{:?}", auto.info());
    eprintln!("Auto: {:?}", auto.info());

    for (text, choice) in [
        ("auto", weft_gpu::Choice::Auto),
        (" GPU ", weft_gpu::Choice::Gpu),
        ("cpu", weft_gpu::Choice::Cpu),
        ("", weft_gpu::Choice::Auto),
    ] {
        assert_eq!(text.parse::<weft_gpu::Choice>().unwrap(), choice);
    }
    let err = "cuda".parse::<weft_gpu::Choice>().unwrap_err();
    assert!(err.to_string().contains("WEFT_COMPUTE=\"cuda\""), "{err}");
}

/// `v` as a kernel input the device may keep.
fn resident(v: &Arc<Vec<f32>>) -> Input<'_> {
    Input::resident(v.as_slice(), v.clone() as KeepAlive)
}

#[test]
fn resident_inputs_and_kept_results_are_not_copied_again() {
    // A device of its own, so other tests' traffic does not count.
    let device = Device::new(weft_gpu::Choice::Gpu).unwrap();
    let values: Arc<Vec<f32>> = Arc::new((0..1000).map(|i| i as f32 * 0.25).collect());
    let first = device.column_stats(resident(&values), None).unwrap();
    let t = device.transfers();
    assert_eq!((t.uploads, t.resident_hits), (1, 0), "{t:?}");
    // The second read of the kept column finds it on the device, and the
    // result stays there.
    let scaled = device.affine_kept(resident(&values), 1.0, 2.0).unwrap();
    assert!(scaled.on_device());
    assert_eq!(scaled.len(), values.len());
    let t = device.transfers();
    assert_eq!(
        (t.uploads, t.resident_hits, t.downloads),
        (1, 1, 0),
        "{t:?}"
    );
    // Kernels read the result where it is.
    let again = device.column_stats(&scaled, None).unwrap();
    let twice = device.affine_kept(&scaled, 0.0, 0.5).unwrap();
    let t = device.transfers();
    assert_eq!(
        (t.uploads, t.resident_hits, t.downloads),
        (1, 3, 0),
        "{t:?}"
    );
    // Reading copies back, once per read.
    let host = scaled.read().unwrap();
    let t = device.transfers();
    assert_eq!((t.downloads, t.downloaded_bytes), (1, 4000), "{t:?}");
    let want: Vec<f32> = values.iter().map(|x| (x - 1.0) * 2.0).collect();
    assert_eq!(host, want);
    let want_twice: Vec<f32> = want.iter().map(|x| x * 0.5).collect();
    assert_eq!(twice.read().unwrap(), want_twice);
    // The same figures as from plain uploads.
    assert_eq!(first, device.column_stats(values.as_slice(), None).unwrap());
    assert_eq!(again, device.column_stats(&host, None).unwrap());
}

#[test]
fn kept_results_in_several_pieces_read_back_whole() {
    // Buffers of 2048 values: 2500 values are two pieces on the device.
    let device = Device::new(weft_gpu::Choice::Gpu)
        .unwrap()
        .with_max_buffer_bytes(8192);
    let values: Vec<f32> = (0..2500).map(|i| i as f32).collect();
    let kept = device.affine_kept(&values, 0.5, 2.0).unwrap();
    let stats = device.column_stats(&kept, None).unwrap();
    let host = kept.read().unwrap();
    let want: Vec<f32> = values.iter().map(|x| (x - 0.5) * 2.0).collect();
    assert_eq!(host, want);
    assert_eq!(stats.count, 2500);
    assert_eq!((stats.min, stats.max), (-1.0, 4997.0));
    let counts = device.histogram(&kept, &[-1.0, 0.0, 5000.0]).unwrap();
    assert_eq!(counts, [1, 2499]);
    // A device with smaller buffers cannot take the pieces as they are,
    // and reads them back and uploads them in its own pieces instead.
    let smaller = device.clone().with_max_buffer_bytes(4096);
    assert_eq!(smaller.column_stats(&kept, None).unwrap(), stats);
}
