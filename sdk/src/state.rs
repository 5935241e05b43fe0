//! The bytes of a fitted state: how [`Step::State`](crate::Step::State) is
//! written for `state`/`merge` and read back in `load-state`.
//!
//! A state is CBOR (RFC 8949) behind the self-describe tag `0xd9d9f7`. CBOR
//! stores a float in the narrowest width that gives back the same bits, so
//! every f64 survives the round trip exactly: ±inf, -0.0 and NaN payloads
//! included. Bin edges and means then mean the same thing in the run that
//! fits them and in every worker and serving pod that loads them. (An f32
//! travels as an f64: its bits survive too, but for a signaling NaN, which
//! comes back quiet.)
//!
//! States written by weft-sdk 0.1.0 are JSON; they still load (as exactly
//! as JSON allows), and anything else is refused naming what it looks like.

use serde::de::DeserializeOwned;
use serde::Serialize;

use crate::{Result, StepError};

/// The CBOR self-describe tag (55799) that starts every state.
const MAGIC: [u8; 3] = [0xd9, 0xd9, 0xf7];

/// The bytes of `state`.
pub fn encode<S: Serialize>(state: &S) -> Result<Vec<u8>> {
    let mut bytes = MAGIC.to_vec();
    ciborium::into_writer(state, &mut bytes)
        .map_err(|e| StepError::Internal(format!("cannot encode state: {e}")))?;
    Ok(bytes)
}

/// The state in `bytes`, written by [`encode`] or, as JSON, by an older SDK.
pub fn decode<S: DeserializeOwned>(bytes: &[u8]) -> Result<S> {
    let refused = |why: String| {
        StepError::InvalidInput(format!(
            "state does not belong to this step or version: {why}; fit it again with this plugin"
        ))
    };
    match bytes.strip_prefix(&MAGIC) {
        Some(cbor) => ciborium::from_reader(cbor).map_err(|e| refused(e.to_string())),
        None if looks_like_json(bytes) => {
            serde_json::from_slice(bytes).map_err(|e| refused(format!("JSON state: {e}")))
        }
        None => Err(refused(format!(
            "{} bytes that are neither a CBOR state nor a JSON one",
            bytes.len()
        ))),
    }
}

/// Whether `bytes` start as a JSON document does.
fn looks_like_json(bytes: &[u8]) -> bool {
    let start = bytes.iter().find(|b| !b.is_ascii_whitespace());
    matches!(
        start,
        Some(b'{' | b'[' | b'"' | b'-' | b'0'..=b'9' | b'n' | b't' | b'f')
    )
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde::Deserialize;
    use weft_fuzz::Rng;

    #[derive(Debug, Serialize, Deserialize, PartialEq, Default)]
    struct Fitted {
        means: Vec<f64>,
        edges: Vec<Vec<f64>>,
        scale: Option<f64>,
        pairs: Vec<(String, f64)>,
        counts: Vec<u64>,
        single: f32,
    }

    /// An f64 from any bits: every class (NaNs with payloads, subnormals,
    /// ±0, ±inf) turns up, as do values JSON rounds.
    fn any_f64(rng: &mut Rng) -> f64 {
        match rng.below(4) {
            0 => f64::from_bits(rng.next_u64()),
            1 => *rng.pick(&[
                &f64::INFINITY,
                &f64::NEG_INFINITY,
                &-0.0,
                &0.0,
                &f64::NAN,
                &f64::MIN_POSITIVE,
                &5e-324,
                &f64::MAX,
            ]),
            2 => (rng.next_u64() as f64) / 3.0,
            _ => f64::from(f32::from_bits(rng.next_u64() as u32)),
        }
    }

    /// An f32 travels as an f64, and widening quiets a signaling NaN (the
    /// only f32 bits that change).
    fn quiet(v: f32) -> f32 {
        if v.is_nan() {
            f32::from_bits(v.to_bits() | 0x0040_0000)
        } else {
            v
        }
    }

    fn bits(values: &[f64]) -> Vec<u64> {
        values.iter().map(|v| v.to_bits()).collect()
    }

    #[test]
    fn every_f64_round_trips_bit_for_bit() {
        let mut rng = Rng::new(0x5eed_57a7e);
        for _ in 0..2000 {
            let n = rng.below(9);
            let means: Vec<f64> = (0..n).map(|_| any_f64(&mut rng)).collect();
            let state = Fitted {
                edges: vec![means.clone(), means.iter().rev().copied().collect()],
                scale: rng.one_in(2).then(|| any_f64(&mut rng)),
                pairs: means.iter().map(|v| (format!("{v:e}"), *v)).collect(),
                counts: (0..n).map(|_| rng.next_u64()).collect(),
                single: quiet(f32::from_bits(rng.next_u64() as u32)),
                means,
            };
            let back: Fitted = decode(&encode(&state).unwrap()).unwrap();
            assert_eq!(bits(&back.means), bits(&state.means));
            for (b, s) in back.edges.iter().zip(&state.edges) {
                assert_eq!(bits(b), bits(s));
            }
            assert_eq!(back.scale.map(f64::to_bits), state.scale.map(f64::to_bits));
            let pair_bits = |p: &[(String, f64)]| {
                p.iter()
                    .map(|(k, v)| (k.clone(), v.to_bits()))
                    .collect::<Vec<_>>()
            };
            assert_eq!(pair_bits(&back.pairs), pair_bits(&state.pairs));
            assert_eq!(back.counts, state.counts);
            assert_eq!(back.single.to_bits(), state.single.to_bits());
        }
    }

    #[test]
    fn the_value_json_lost_comes_back() {
        // serde_json without float_roundtrip read this back one ulp off.
        let v = 42.936244978842076_f64;
        let back: Vec<f64> = decode(&encode(&vec![v]).unwrap()).unwrap();
        assert_eq!(back[0].to_bits(), v.to_bits());
    }

    #[test]
    fn json_states_of_the_previous_sdk_still_load() {
        let old = br#"{"means":[42.936244978842076,-0.0],"edges":[],"scale":null,"pairs":[["a",1.5]],"counts":[3],"single":0.5}"#;
        let back: Fitted = decode(old).unwrap();
        assert_eq!(back.means[0].to_bits(), 42.936244978842076_f64.to_bits());
        assert_eq!(back.means[1].to_bits(), (-0.0_f64).to_bits());
        assert_eq!(back.pairs, vec![("a".to_owned(), 1.5)]);
        let unit: () = decode(b"null").unwrap();
        assert_eq!(unit, ());
    }

    #[test]
    fn foreign_bytes_are_refused_naming_the_cause() {
        for bytes in [&b"\x00\x01garbage"[..], b"", &[0xd9, 0xd9, 0xf7, 0xff]] {
            let err = decode::<Fitted>(bytes).unwrap_err().to_string();
            assert!(err.contains("state does not belong to this step"), "{err}");
            assert!(err.contains("fit it again"), "{err}");
        }
        let other = encode(&vec!["text"]).unwrap();
        let err = decode::<Fitted>(&other).unwrap_err().to_string();
        assert!(err.contains("state does not belong"), "{err}");
    }
}
