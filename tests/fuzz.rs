//! A small seeded generator of malformed input for the fuzz suites (`api/fuzz.rs`): the same
//! seed gives the same inputs, so a failure can be replayed. No dependency: xorshift64* is
//! plenty for picking mutations.

/// A seeded xorshift64* generator.
pub struct Rng(u64);

impl Rng {
    pub fn new(seed: u64) -> Self {
        Rng(seed.max(1))
    }

    pub fn next_u64(&mut self) -> u64 {
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        self.0.wrapping_mul(0x2545_F491_4F6C_DD1D)
    }

    /// A number in `0..n` (`n` > 0).
    pub fn below(&mut self, n: usize) -> usize {
        (self.next_u64() % n as u64) as usize
    }

    pub fn pick<'a, T>(&mut self, items: &'a [T]) -> &'a T {
        &items[self.below(items.len())]
    }

    /// A value that parsers and handlers commonly get wrong.
    pub fn nasty(&mut self) -> String {
        const NASTY: &[&str] = &[
            "",
            "0",
            "-1",
            "1e999",
            "-1e999",
            "NaN",
            "nan",
            "inf",
            "-inf",
            "9223372036854775807",
            "-9223372036854775808",
            "18446744073709551616",
            "0x10",
            "1.5",
            "true",
            "null",
            "[]",
            "{}",
            "%00",
            "%FF%FE",
            "%0D%0A",
            "%09",
            "..%2F..%2Fetc%2Fpasswd",
            "\u{1F600}",
            "a b",
            "'; DROP TABLE users; --",
            "<script>",
            "7x",
            "1h",
            "30d",
            "99999y",
        ];
        match self.below(4) {
            0 => {
                let len = self.below(300);
                (0..len)
                    .map(|_| (b'!' + self.below(94) as u8) as char)
                    .collect()
            }
            _ => self.pick(NASTY).to_string(),
        }
    }

    /// `text` with a few random edits: bytes flipped, lines dropped or repeated, numbers
    /// replaced with nasty values, the text cut short.
    pub fn mutate(&mut self, text: &str) -> String {
        let mut lines: Vec<String> = text.lines().map(str::to_string).collect();
        for _ in 0..1 + self.below(4) {
            if lines.is_empty() {
                lines.push(self.nasty());
                continue;
            }
            let i = self.below(lines.len());
            match self.below(6) {
                0 => {
                    lines.remove(i);
                }
                1 => {
                    let copy = lines[i].clone();
                    lines.insert(i, copy);
                }
                2 => {
                    let words: Vec<String> = lines[i]
                        .split(' ')
                        .map(|w| {
                            if self.below(3) == 0 {
                                self.nasty()
                            } else {
                                w.to_string()
                            }
                        })
                        .collect();
                    lines[i] = words.join(" ");
                }
                3 => {
                    let cut = self.below(lines[i].len() + 1);
                    let cut = (0..=cut)
                        .rev()
                        .find(|&c| lines[i].is_char_boundary(c))
                        .unwrap_or(0);
                    lines[i].truncate(cut);
                }
                4 => lines[i] = self.nasty(),
                _ => {
                    let mut bytes = lines[i].clone().into_bytes();
                    if !bytes.is_empty() {
                        let j = self.below(bytes.len());
                        bytes[j] = self.below(256) as u8;
                    }
                    lines[i] = String::from_utf8_lossy(&bytes).into_owned();
                }
            }
        }
        lines.join("\n")
    }
}
