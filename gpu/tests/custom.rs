//! Custom WGSL kernels on a real Vulkan device: the happy path, invalid
//! shaders, each limit, and wgpu validation errors, after each of which the
//! device still works.

mod common;

use common::{cpu, gpu};
use weft_gpu::{Access, Buffer, Device, GpuError, LimitKind, Limits};

const DOUBLE: &str = r#"
@group(0) @binding(0) var<storage, read> input: array<f32>;
@group(0) @binding(1) var<storage, read_write> output: array<f32>;

@compute @workgroup_size(64)
fn main(@builtin(global_invocation_id) id: vec3<u32>) {
    if id.x < arrayLength(&input) {
        output[id.x] = input[id.x] * 2.0;
    }
}
"#;

/// Run the doubling shader over 1000 values and check the result.
fn doubles(device: &Device) {
    let input: Vec<f32> = (0..1000).map(|i| i as f32 - 500.5).collect();
    let mut buffers = [
        Buffer::read(&input),
        Buffer::read_write(&vec![0.0f32; 1000]),
    ];
    device
        .run_wgsl(DOUBLE, "main", &mut buffers, [16, 1, 1], &Limits::default())
        .unwrap();
    let want: Vec<f32> = input.iter().map(|x| x * 2.0).collect();
    assert_eq!(buffers[1].values::<f32>(), want);
    assert_eq!(
        buffers[0].values::<f32>(),
        input,
        "read-only buffers are left alone"
    );
}

#[test]
fn doubling_shader_runs() {
    doubles(gpu());
}

#[test]
fn syntax_error_names_the_line() {
    let source = "@compute @workgroup_size(1)\nfn main() {\n    let x = 1.0\n}\n";
    let err = gpu()
        .run_wgsl(source, "main", &mut [], [1, 1, 1], &Limits::default())
        .unwrap_err();
    let GpuError::InvalidShader(message) = &err else {
        panic!("{err:?}")
    };
    assert!(message.starts_with("line 4:1: expected `;`"), "{message}");
    // A type error the parser already catches.
    let source = "@compute @workgroup_size(1)\nfn main() {\n    let x: u32 = 1.5;\n}\n";
    let err = gpu()
        .run_wgsl(source, "main", &mut [], [1, 1, 1], &Limits::default())
        .unwrap_err();
    assert!(
        err.to_string().contains("line 3:9: the type of `x`"),
        "{err}"
    );
    doubles(gpu());
}

#[test]
fn validation_error_names_the_line() {
    // Parses, but naga's validator rejects the store to a read-only buffer.
    let source = "@group(0) @binding(0) var<storage, read> a: array<f32>;\n\
                  @compute @workgroup_size(1)\nfn main() {\n    a[0] = 1.0;\n}\n";
    let err = gpu()
        .run_wgsl(
            source,
            "main",
            &mut [Buffer::read(&[0.0f32])],
            [1, 1, 1],
            &Limits::default(),
        )
        .unwrap_err();
    let GpuError::InvalidShader(message) = &err else {
        panic!("{err:?}")
    };
    assert!(
        message.starts_with("line 4:5: Entry point main"),
        "{message}"
    );
    let err = gpu()
        .run_wgsl(DOUBLE, "double", &mut [], [1, 1, 1], &Limits::default())
        .unwrap_err();
    assert!(
        err.to_string()
            .contains("no compute entry point named `double`"),
        "{err}"
    );
    doubles(gpu());
}

#[test]
fn each_limit_is_a_typed_error_and_nothing_runs() {
    let device = gpu();
    let values = vec![1.0f32; 1000];
    let limited = |kind: LimitKind, limits: Limits, workgroups: [u32; 3]| {
        let mut buffers = [Buffer::read(&values), Buffer::read_write(&values)];
        let err = device
            .run_wgsl(DOUBLE, "main", &mut buffers, workgroups, &limits)
            .unwrap_err();
        match err {
            GpuError::LimitExceeded { kind: k, .. } if k == kind => {}
            other => panic!("expected a {kind} limit error, got {other:?}"),
        }
        assert_eq!(buffers[1].values::<f32>(), values, "nothing was dispatched");
        doubles(device);
    };
    let default = Limits::default();
    limited(
        LimitKind::Buffers,
        Limits {
            max_buffers: 1,
            ..default
        },
        [16, 1, 1],
    );
    limited(
        LimitKind::TotalBytes,
        Limits {
            max_total_bytes: 7999,
            ..default
        },
        [16, 1, 1],
    );
    limited(
        LimitKind::Workgroups,
        Limits {
            max_workgroups: 63,
            ..default
        },
        [4, 4, 4],
    );
    let err = device
        .run_wgsl(
            DOUBLE,
            "main",
            &mut [Buffer::read(&values), Buffer::read_write(&values)],
            [1, 1, 1],
            &Limits {
                max_buffers: 1,
                ..default
            },
        )
        .unwrap_err();
    assert_eq!(
        err.to_string(),
        "kernel call exceeds its limit on buffers: asks for 2, the limit is 1"
    );
    let err = device
        .run_wgsl(
            DOUBLE,
            "main",
            &mut [Buffer {
                data: vec![0; 6],
                access: Access::Read,
            }],
            [1, 1, 1],
            &default,
        )
        .unwrap_err();
    assert!(matches!(err, GpuError::InvalidInput(_)), "{err:?}");
}

#[test]
fn wgpu_validation_errors_are_returned_and_the_device_survives() {
    let device = gpu();
    let values = vec![1.0f32; 64];
    // The shader writes binding 1, which the call binds read-only.
    let mut buffers = [Buffer::read(&values), Buffer::read(&values)];
    let err = device
        .run_wgsl(DOUBLE, "main", &mut buffers, [1, 1, 1], &Limits::default())
        .unwrap_err();
    let GpuError::Validation(message) = &err else {
        panic!("{err:?}")
    };
    assert!(
        message.contains("binding: 1") && !message.contains('\n'),
        "{message}"
    );
    doubles(device);

    // A binding the shader declares is missing.
    let err = device
        .run_wgsl(
            DOUBLE,
            "main",
            &mut [Buffer::read(&values)],
            [1, 1, 1],
            &Limits::default(),
        )
        .unwrap_err();
    assert!(matches!(err, GpuError::Validation(_)), "{err:?}");
    doubles(device);

    // More workgroups in x than the adapter dispatches, within our limits.
    let mut buffers = [Buffer::read(&values), Buffer::read_write(&values)];
    let limits = Limits {
        max_workgroups: u64::MAX,
        ..Limits::default()
    };
    let err = device
        .run_wgsl(DOUBLE, "main", &mut buffers, [u32::MAX, 1, 1], &limits)
        .unwrap_err();
    assert!(
        matches!(&err, GpuError::Validation(m) if m.contains("dispatch")),
        "{err:?}"
    );
    assert_eq!(buffers[1].values::<f32>(), values);
    doubles(device);
}

#[test]
fn cpu_device_has_no_custom_kernels() {
    let err = cpu()
        .run_wgsl(
            DOUBLE,
            "main",
            &mut [Buffer::read(&[1.0f32]), Buffer::read_write(&[0.0f32])],
            [1, 1, 1],
            &Limits::default(),
        )
        .unwrap_err();
    assert!(matches!(err, GpuError::NoAdapter(_)), "{err:?}");
    assert!(err.to_string().contains("WEFT_COMPUTE"), "{err}");
}
