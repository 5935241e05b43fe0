//! Host-side bindings of the `weft:step` world, generated from `wit/`.

wasmtime::component::bindgen!({
    path: "../../wit",
    world: "plugin",
    with: {
        "weft:step/types.column": super::Column,
        "weft:step/types.batch": super::Batch,
        "weft:step/model.model": super::ModelHandle,
    },
    imports: { default: trappable },
});

pub use self::weft::step::types::StepError;
pub use exports::weft::step::step::{Kind, Metadata, Metric};
