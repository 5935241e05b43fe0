//! A bounded, deterministic, uniform sample of a column's valid values.
//!
//! Every value is kept while there are at most `capacity` of them, so the
//! sample *is* the data and everything computed from it is exact. Past
//! that, reservoir sampling (Vitter's algorithm R) with a fixed-seed
//! SplitMix64 generator keeps a uniform sample of `capacity` values: the
//! same data in the same order always gives the same sample.
//!
//! In a state file the values are base64 of their little-endian IEEE bytes,
//! so they load back bit for bit (JSON number parsing may round).

use base64::engine::general_purpose::STANDARD;
use base64::Engine as _;
use serde::{Deserialize, Deserializer, Serialize, Serializer};

/// The generator's fixed seed.
const SEED: u64 = 0x5745_4654_4452_4946;

/// SplitMix64.
#[derive(Debug, Clone)]
struct Rng(u64);

impl Default for Rng {
    fn default() -> Rng {
        Rng(SEED)
    }
}

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^ (z >> 31)
    }

    /// A number in `0..n` (Lemire's multiply-shift).
    fn below(&mut self, n: u64) -> u64 {
        ((self.next() as u128 * n as u128) >> 64) as u64
    }
}

/// The sample of one column.
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
pub struct Reservoir {
    /// Valid values offered so far.
    pub seen: u64,
    /// The values kept, in no particular order.
    #[serde(serialize_with = "to_base64", deserialize_with = "from_base64")]
    pub values: Vec<f64>,
    #[serde(skip)]
    rng: Rng,
}

impl Reservoir {
    /// Offer one value.
    pub fn push(&mut self, value: f64, capacity: usize) {
        self.seen += 1;
        if self.values.len() < capacity {
            self.values.push(value);
            return;
        }
        let slot = self.rng.below(self.seen);
        if slot < capacity as u64 {
            self.values[slot as usize] = value;
        }
    }

    /// Whether every value offered was kept.
    pub fn is_exact(&self) -> bool {
        self.seen == self.values.len() as u64
    }

    /// The kept values, sorted ascending.
    pub fn sorted(&self) -> Vec<f64> {
        let mut values = self.values.clone();
        values.sort_by(f64::total_cmp);
        values
    }

    /// The sample of the union of disjoint parts: all values, in part
    /// order, when every part is exact and they fit `capacity` together;
    /// otherwise each part contributes `capacity * seen_i / seen` of its
    /// values (at most all of them), drawn with the fixed-seed generator.
    pub fn merge(parts: Vec<Reservoir>, capacity: usize) -> Reservoir {
        let seen: u64 = parts.iter().map(|p| p.seen).sum();
        let kept: usize = parts.iter().map(|p| p.values.len()).sum();
        let mut rng = Rng::default();
        let values = if kept <= capacity && parts.iter().all(Reservoir::is_exact) {
            parts.into_iter().flat_map(|p| p.values).collect()
        } else {
            parts
                .into_iter()
                .flat_map(|p| {
                    let quota = (capacity as u128 * p.seen as u128 / seen.max(1) as u128) as usize;
                    draw(p.values, quota, &mut rng)
                })
                .collect()
        };
        Reservoir { seen, values, rng }
    }
}

/// `count` values of `values` chosen uniformly (a partial Fisher-Yates shuffle).
fn draw(mut values: Vec<f64>, count: usize, rng: &mut Rng) -> Vec<f64> {
    let count = count.min(values.len());
    for i in 0..count {
        let j = i + rng.below((values.len() - i) as u64) as usize;
        values.swap(i, j);
    }
    values.truncate(count);
    values
}

fn to_base64<S: Serializer>(values: &[f64], s: S) -> Result<S::Ok, S::Error> {
    let bytes: Vec<u8> = values.iter().flat_map(|v| v.to_le_bytes()).collect();
    s.serialize_str(&STANDARD.encode(bytes))
}

fn from_base64<'de, D: Deserializer<'de>>(d: D) -> Result<Vec<f64>, D::Error> {
    let text = String::deserialize(d)?;
    let bytes = STANDARD
        .decode(text.as_bytes())
        .map_err(serde::de::Error::custom)?;
    if bytes.len() % 8 != 0 {
        return Err(serde::de::Error::custom(
            "sample: byte length is not a multiple of 8",
        ));
    }
    Ok(bytes
        .chunks_exact(8)
        .map(|c| f64::from_le_bytes(c.try_into().expect("8 bytes")))
        .collect())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn filled(values: impl IntoIterator<Item = f64>, capacity: usize) -> Reservoir {
        let mut r = Reservoir::default();
        values.into_iter().for_each(|v| r.push(v, capacity));
        r
    }

    #[test]
    fn keeps_everything_until_full_then_stays_uniform_and_deterministic() {
        let small = filled((0..5).map(f64::from), 10);
        assert!(small.is_exact());
        assert_eq!(small.values, [0.0, 1.0, 2.0, 3.0, 4.0]);
        let a = filled((0..100_000).map(f64::from), 1000);
        let b = filled((0..100_000).map(f64::from), 1000);
        assert_eq!(a.values, b.values);
        assert!(!a.is_exact() && a.values.len() == 1000 && a.seen == 100_000);
        let mean = a.values.iter().sum::<f64>() / 1000.0;
        assert!((mean - 50_000.0).abs() < 3000.0, "{mean}");
    }

    #[test]
    fn merge_is_exact_while_it_fits() {
        let parts = vec![filled([1.0, 2.0], 10), filled([3.0], 10)];
        let merged = Reservoir::merge(parts, 10);
        assert!(merged.is_exact());
        assert_eq!(merged.values, [1.0, 2.0, 3.0]);
        let parts = vec![
            filled((0..300).map(f64::from), 100),
            filled((0..100).map(f64::from), 100),
        ];
        let merged = Reservoir::merge(parts, 100);
        assert_eq!((merged.seen, merged.values.len()), (400, 100));
    }

    #[test]
    fn serializes_bit_for_bit() {
        let r = filled([0.1 + 0.2, -0.0, 1e-310, f64::MAX], 10);
        let json = serde_json::to_string(&r).unwrap();
        let back: Reservoir = serde_json::from_str(&json).unwrap();
        let bits = |r: &Reservoir| r.values.iter().map(|v| v.to_bits()).collect::<Vec<_>>();
        assert_eq!(bits(&back), bits(&r));
        assert_eq!(back.seen, 4);
        assert!(serde_json::from_str::<Reservoir>(r#"{"seen":1,"values":"AAAA"}"#).is_err());
    }
}
