//! The export macros: they expand to the component's exports on wasm32 and
//! to nothing on native targets, so plugin crates also build for `cargo test`.

/// Export a [`Transform`](crate::Transform) type as this component's step.
#[macro_export]
macro_rules! export_transform {
    ($t:ty) => {
        $crate::__export_step!(Transforms, $t);
    };
}

/// Export an [`Evaluate`](crate::Evaluate) type as this component's step.
#[macro_export]
macro_rules! export_evaluate {
    ($t:ty) => {
        $crate::__export_step!(Evaluates, $t);
    };
}

/// What both export macros expand to: `$kind` (`Transforms` or `Evaluates`,
/// in `__rt`) picks the calls that differ by kind of step.
#[doc(hidden)]
#[macro_export]
macro_rules! __export_step {
    ($kind:ident, $t:ty) => {
        #[cfg(target_arch = "wasm32")]
        const _: () = {
            struct WeftStep;
            ::std::thread_local! {
                static SLOT: $crate::__rt::Slot<$t> = const { ::std::cell::RefCell::new(None) };
            }
            impl $crate::__rt::Export for WeftStep {
                type Step = $t;
                type Kind = $crate::__rt::$kind;
                fn slot() -> &'static ::std::thread::LocalKey<$crate::__rt::Slot<$t>> {
                    &SLOT
                }
            }
    $crate::bindings::__export_plugin!(WeftStep with_types_in $crate::bindings);
        };
    };
}
