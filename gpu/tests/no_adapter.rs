//! Without any Vulkan driver: each test re-runs itself in a child process
//! whose Vulkan loader is pointed at a driver manifest that does not exist
//! (`VK_ICD_FILENAMES`/`VK_DRIVER_FILES`), which hides lavapipe and any GPU.

mod common;

use std::process::Command;

use common::{cpu, Rng};
use weft_gpu::{Buffer, Choice, Device, GpuError, Kind, Limits};

/// Set in the child process.
const CHILD: &str = "WEFT_GPU_TEST_NO_ADAPTER";

/// In the parent, run `test` of this binary again with no driver visible
/// and `WEFT_COMPUTE` set to `compute`, and require it to pass; returns
/// false there. In the child, returns true: the caller runs the checks.
fn in_child(test: &str, compute: &str) -> bool {
    if std::env::var_os(CHILD).is_some() {
        return true;
    }
    let output = Command::new(std::env::current_exe().unwrap())
        .args([test, "--exact", "--nocapture", "--test-threads=1"])
        .env(CHILD, "1")
        .env("VK_ICD_FILENAMES", "/nonexistent/icd.json")
        .env("VK_DRIVER_FILES", "/nonexistent/icd.json")
        .env("WGPU_BACKEND", "vulkan")
        .env("WEFT_COMPUTE", compute)
        .output()
        .unwrap();
    let log = format!(
        "{}{}",
        String::from_utf8_lossy(&output.stdout),
        String::from_utf8_lossy(&output.stderr)
    );
    assert!(output.status.success(), "child process failed:\n{log}");
    assert!(log.contains("1 passed"), "the child ran no test:\n{log}");
    false
}

#[test]
fn gpu_choice_without_an_adapter_is_a_clear_error() {
    if !in_child("gpu_choice_without_an_adapter_is_a_clear_error", "gpu") {
        return;
    }
    let err = Device::from_env().unwrap_err();
    assert!(matches!(err, GpuError::NoAdapter(_)), "{err:?}");
    let message = err.to_string();
    for needed in [
        "WEFT_COMPUTE=gpu",
        "no GPU adapter",
        "mesa-vulkan-drivers",
        "WEFT_COMPUTE=cpu",
    ] {
        assert!(
            message.contains(needed),
            "{needed:?} missing from: {message}"
        );
    }
}

#[test]
fn auto_without_an_adapter_falls_back_to_the_cpu() {
    if !in_child("auto_without_an_adapter_falls_back_to_the_cpu", "auto") {
        return;
    }
    let device = Device::from_env().unwrap();
    assert_eq!(device.info().kind, Kind::CpuFallback);
    assert_eq!(device.info().custom_wgsl, None);
    let cpu = cpu();
    let mut rng = Rng::new(9);
    let values = rng.f32s(10_007, -3.0, 3.0);
    let (a, b) = (rng.f32s(17 * 33, -1.0, 1.0), rng.f32s(33 * 5, -1.0, 1.0));
    let edges = [-2.0, -1.0, 0.0, 0.5, 3.0];
    let mask: Vec<bool> = (0..values.len()).map(|i| i % 3 != 0).collect();
    assert_eq!(
        device.matmul(&a, &b, 17, 33, 5).unwrap(),
        cpu.matmul(&a, &b, 17, 33, 5).unwrap()
    );
    assert_eq!(
        device.column_stats(&values, Some(&mask)).unwrap(),
        cpu.column_stats(&values, Some(&mask)).unwrap()
    );
    assert_eq!(
        device.histogram(&values, &edges).unwrap(),
        cpu.histogram(&values, &edges).unwrap()
    );
    assert_eq!(
        device.affine(&values, 1.0, 3.0).unwrap(),
        cpu.affine(&values, 1.0, 3.0).unwrap()
    );
    let source = "@compute @workgroup_size(1) fn main() {}";
    let err = device
        .run_wgsl(
            source,
            "main",
            &mut [Buffer::read(&[0u32])],
            [1, 1, 1],
            &Limits::default(),
        )
        .unwrap_err();
    assert!(matches!(err, GpuError::NoAdapter(_)), "{err:?}");
    assert_eq!(Choice::from_env().unwrap(), Choice::Auto);
}
