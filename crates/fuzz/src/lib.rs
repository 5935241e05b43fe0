//! What the property tests of weft's crates share: a seeded generator and a mutator of
//! well-formed inputs, so every run of the suite tries the same cases.

/// A xorshift64* generator: deterministic, good enough to pick bytes.
pub struct Rng(u64);

impl Rng {
    /// A generator starting from `seed` (not 0).
    pub fn new(seed: u64) -> Rng {
        Rng(seed.max(1))
    }

    /// The next number.
    pub fn next_u64(&mut self) -> u64 {
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        self.0.wrapping_mul(0x2545_f491_4f6c_dd1d)
    }

    /// A number in `0..n` (0 when `n` is 0).
    pub fn below(&mut self, n: usize) -> usize {
        (self.next_u64() % n.max(1) as u64) as usize
    }

    /// True one time in `n`.
    pub fn one_in(&mut self, n: usize) -> bool {
        self.below(n) == 0
    }

    /// One of `items`.
    pub fn pick<'a, T: ?Sized>(&mut self, items: &[&'a T]) -> &'a T {
        items[self.below(items.len())]
    }
}

/// `bytes` changed a few ways the generator picks: bits flipped, bytes of
/// `tokens` inserted, bytes deleted, a slice repeated or moved, cut short.
pub fn mutate(rng: &mut Rng, bytes: &mut Vec<u8>, tokens: &[&[u8]]) {
    for _ in 0..1 + rng.below(4) {
        let (a, b) = (rng.below(bytes.len() + 1), rng.below(bytes.len() + 1));
        let (from, to) = (a.min(b), a.max(b));
        match rng.below(6) {
            0 if from < bytes.len() => bytes[from] ^= 1 << rng.below(8),
            1 => {
                let token = rng.pick(tokens).to_vec();
                bytes.splice(from..from, token);
            }
            2 => drop(bytes.drain(from..(from + 1 + rng.below(8)).min(to.max(from)))),
            3 => {
                let slice = bytes[from..to].to_vec();
                bytes.splice(to..to, slice);
            }
            4 => {
                let slice: Vec<u8> = bytes.drain(from..to).collect();
                let at = rng.below(bytes.len() + 1);
                bytes.splice(at..at, slice);
            }
            _ if rng.one_in(4) => bytes.truncate(from),
            _ => {}
        }
    }
}
