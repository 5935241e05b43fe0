//! The export macros: they expand to the component's exports on wasm32 and
//! to nothing on native targets, so plugin crates also build for `cargo test`.
//!
//! [`Transform`]: crate::Transform
//! [`Evaluate`]: crate::Evaluate

/// Export a [`Transform`](crate::Transform) type as this component's step.
#[macro_export]
macro_rules! export_transform {
    ($t:ty) => {
        #[cfg(target_arch = "wasm32")]
        const _: () = {
            use $crate::__rt::{self as rt, HostBatch, HostError};
            struct WeftStep;
            ::std::thread_local! {
                static SLOT: rt::Slot<$t> = const { ::std::cell::RefCell::new(None) };
            }
            impl rt::Guest for WeftStep {
                fn describe() -> $crate::bindings::exports::weft::step::step::Metadata {
                    rt::describe_transform::<$t>()
                }
                fn configure(config: String) -> ::core::result::Result<(), HostError> {
                    SLOT.with(|s| rt::configure_transform::<$t>(s, config))
                }
                fn fit(data: &HostBatch) -> ::core::result::Result<(), HostError> {
                    SLOT.with(|s| rt::fit(s, data, <$t as $crate::Transform>::fit))
                }
                fn state() -> ::core::result::Result<Vec<u8>, HostError> {
                    SLOT.with(|s| rt::state(s, <$t as $crate::Transform>::state))
                }
                fn load_state(state: Vec<u8>) -> ::core::result::Result<(), HostError> {
                    SLOT.with(|s| rt::load_state(s, state, <$t as $crate::Transform>::load_state))
                }
                fn merge(states: Vec<Vec<u8>>) -> ::core::result::Result<Vec<u8>, HostError> {
                    SLOT.with(|s| rt::merge(s, states, <$t as $crate::Transform>::merge))
                }
                fn transform(data: &HostBatch) -> ::core::result::Result<HostBatch, HostError> {
                    SLOT.with(|s| rt::transform::<$t>(s, data))
                }
                fn update(_: &HostBatch) -> ::core::result::Result<(), HostError> {
                    rt::unsupported("transform", "update")
                }
                fn report() -> ::core::result::Result<
                    Vec<$crate::bindings::exports::weft::step::step::Metric>,
                    HostError,
                > {
                    rt::unsupported("transform", "report")
                }
            }
    $crate::bindings::__export_plugin!(WeftStep with_types_in $crate::bindings);
        };
    };
}

/// Export an [`Evaluate`](crate::Evaluate) type as this component's step.
#[macro_export]
macro_rules! export_evaluate {
    ($t:ty) => {
        #[cfg(target_arch = "wasm32")]
        const _: () = {
            use $crate::__rt::{self as rt, HostBatch, HostError};
            struct WeftStep;
            ::std::thread_local! {
                static SLOT: rt::Slot<$t> = const { ::std::cell::RefCell::new(None) };
            }
            impl rt::Guest for WeftStep {
                fn describe() -> $crate::bindings::exports::weft::step::step::Metadata {
                    rt::describe_evaluate::<$t>()
                }
                fn configure(config: String) -> ::core::result::Result<(), HostError> {
                    SLOT.with(|s| rt::configure_evaluate::<$t>(s, config))
                }
                fn fit(data: &HostBatch) -> ::core::result::Result<(), HostError> {
                    SLOT.with(|s| rt::fit(s, data, <$t as $crate::Evaluate>::fit))
                }
                fn state() -> ::core::result::Result<Vec<u8>, HostError> {
                    SLOT.with(|s| rt::state(s, <$t as $crate::Evaluate>::state))
                }
                fn load_state(state: Vec<u8>) -> ::core::result::Result<(), HostError> {
                    SLOT.with(|s| rt::load_state(s, state, <$t as $crate::Evaluate>::load_state))
                }
                fn merge(states: Vec<Vec<u8>>) -> ::core::result::Result<Vec<u8>, HostError> {
                    SLOT.with(|s| rt::merge(s, states, <$t as $crate::Evaluate>::merge))
                }
                fn transform(_: &HostBatch) -> ::core::result::Result<HostBatch, HostError> {
                    rt::unsupported("evaluate", "transform")
                }
                fn update(data: &HostBatch) -> ::core::result::Result<(), HostError> {
                    SLOT.with(|s| rt::update::<$t>(s, data))
                }
                fn report() -> ::core::result::Result<
                    Vec<$crate::bindings::exports::weft::step::step::Metric>,
                    HostError,
                > {
                    SLOT.with(|s| rt::report::<$t>(s))
                }
            }
    $crate::bindings::__export_plugin!(WeftStep with_types_in $crate::bindings);
        };
    };
}
