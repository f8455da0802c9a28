//! The CPU task: π by Gauss–Legendre (the paper's test: 2^22 decimal digits), on our own
//! fixed-point numbers with number-theoretic-transform multiplication.
//!
//! A number is a little-endian vector of base-2^16 digits whose last digit is the integer part
//! ([`Fx`]). Products are exact convolutions modulo the prime p = 2^64 − 2^32 + 1: 16-bit
//! digits give terms below 2^32, and a sum of at most 2^21 of them stays below p, so a product
//! of up to 2^21 digits (≈ 10 M decimal digits) needs one transform and no Chinese remainder
//! step. Square roots and the final division are Newton iterations whose precision doubles
//! each step (the cost of about two full-precision steps).
//!
//! The result is checked twice: the iteration must converge at working precision (the last
//! correction to `t` is zero), and the first 1000 decimals (or all, when fewer) must equal
//! [`PI_1000`], which was computed independently (Machin's formula, checked with mpmath).

use std::cmp::Ordering;

/// π's first 1000 decimals (after "3.").
pub const PI_1000: &str = concat!(
    "1415926535897932384626433832795028841971693993751058209749445923078164062862089986280348253421170679",
    "8214808651328230664709384460955058223172535940812848111745028410270193852110555964462294895493038196",
    "4428810975665933446128475648233786783165271201909145648566923460348610454326648213393607260249141273",
    "7245870066063155881748815209209628292540917153643678925903600113305305488204665213841469519415116094",
    "3305727036575959195309218611738193261179310511854807446237996274956735188575272489122793818301194912",
    "9833673362440656643086021394946395224737190702179860943702770539217176293176752384674818467669405132",
    "0005681271452635608277857713427577896091736371787214684409012249534301465495853710507922796892589235",
    "4201995611212902196086403441815981362977477130996051870721134999999837297804995105973173281609631859",
    "5024459455346908302642522308253344685035261931188171010003137838752886587533208381420617177669147303",
    "5982534904287554687311595628638823537875937519577818577805321712268066130019278766111959092164201989",
);

/// The Goldilocks prime 2^64 − 2^32 + 1 (2^32 | p − 1, so transforms of any size used here).
const P: u64 = 0xffff_ffff_0000_0001;
/// 2^64 mod p.
const EPS: u64 = 0xffff_ffff;
/// A generator of the multiplicative group mod p.
const GENERATOR: u64 = 7;
/// Longest convolution whose terms stay below p (16-bit digits: 2^32 · 2^21 < p).
const MAX_DIGITS: usize = 1 << 21;

#[inline]
fn add(a: u64, b: u64) -> u64 {
    let (s, carry) = a.overflowing_add(b);
    let (s2, borrow) = s.overflowing_sub(P);
    if carry || !borrow {
        s2
    } else {
        s
    }
}

#[inline]
fn sub(a: u64, b: u64) -> u64 {
    let (d, borrow) = a.overflowing_sub(b);
    if borrow {
        d.wrapping_add(P)
    } else {
        d
    }
}

/// a·b mod p, from 2^64 ≡ 2^32 − 1 and 2^96 ≡ −1 (mod p).
#[inline]
fn mul(a: u64, b: u64) -> u64 {
    let x = a as u128 * b as u128;
    let (lo, hi) = (x as u64, (x >> 64) as u64);
    let (hh, hl) = (hi >> 32, hi & EPS);
    let (mut t0, borrow) = lo.overflowing_sub(hh);
    if borrow {
        t0 = t0.wrapping_sub(EPS);
    }
    let (mut r, carry) = t0.overflowing_add(hl * EPS);
    if carry {
        r = r.wrapping_add(EPS);
    }
    if r >= P {
        r - P
    } else {
        r
    }
}

fn pow(mut b: u64, mut e: u64) -> u64 {
    let mut r = 1;
    while e > 0 {
        if e & 1 == 1 {
            r = mul(r, b);
        }
        b = mul(b, b);
        e >>= 1;
    }
    r
}

/// In-place transform of `a` (length a power of two): forward, or inverse including the
/// division by the length.
fn ntt(a: &mut [u64], inverse: bool) {
    let n = a.len();
    let bits = n.trailing_zeros();
    for i in 0..n {
        let j = i.reverse_bits() >> (usize::BITS - bits);
        if i < j {
            a.swap(i, j);
        }
    }
    let mut len = 2;
    let mut tw = vec![0u64; n / 2];
    while len <= n {
        let mut w = pow(GENERATOR, (P - 1) / len as u64);
        if inverse {
            w = pow(w, P - 2);
        }
        let half = len / 2;
        tw[0] = 1;
        for k in 1..half {
            tw[k] = mul(tw[k - 1], w);
        }
        for chunk in a.chunks_exact_mut(len) {
            let (lo, hi) = chunk.split_at_mut(half);
            for ((x, y), &t) in lo.iter_mut().zip(hi.iter_mut()).zip(&tw[..half]) {
                let v = mul(*y, t);
                *y = sub(*x, v);
                *x = add(*x, v);
            }
        }
        len <<= 1;
    }
    if inverse {
        let inv_n = pow(n as u64, P - 2);
        for x in a.iter_mut() {
            *x = mul(*x, inv_n);
        }
    }
}

/// The digit-by-digit product of `a` and `b` (base 2^16), carried: `a.len() + b.len()` digits.
fn convolve(a: &[u32], b: &[u32]) -> Vec<u32> {
    let out = a.len() + b.len();
    assert!(
        a.len().max(b.len()) <= MAX_DIGITS,
        "operands of more than {MAX_DIGITS} digits would overflow the transform's modulus"
    );
    let n = out.next_power_of_two();
    let mut fa: Vec<u64> = a.iter().map(|&d| d as u64).collect();
    fa.resize(n, 0);
    ntt(&mut fa, false);
    if std::ptr::eq(a, b) {
        for x in fa.iter_mut() {
            *x = mul(*x, *x);
        }
    } else {
        let mut fb: Vec<u64> = b.iter().map(|&d| d as u64).collect();
        fb.resize(n, 0);
        ntt(&mut fb, false);
        for (x, y) in fa.iter_mut().zip(&fb) {
            *x = mul(*x, *y);
        }
    }
    ntt(&mut fa, true);
    let mut r = Vec::with_capacity(out);
    let mut carry = 0u64;
    for &v in &fa[..out] {
        let s = v + carry;
        r.push((s & 0xffff) as u32);
        carry = s >> 16;
    }
    debug_assert_eq!(carry, 0);
    r
}

/// A non-negative fixed-point number: base-2^16 digits, little-endian; the last is the integer
/// part (below 2^16), the others the fraction. Its precision is the number of fraction digits.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Fx(Vec<u32>);

impl Fx {
    fn int(v: u32, prec: usize) -> Fx {
        let mut d = vec![0; prec + 1];
        d[prec] = v;
        Fx(d)
    }

    /// The closest number to `v` (≥ 0) with three fraction digits (48 bits), at `prec`.
    fn from_f64(v: f64, prec: usize) -> Fx {
        let mut f = Fx::int(v.trunc() as u32, prec);
        let mut frac = v.fract();
        for i in 1..=3.min(prec) {
            frac *= 65536.0;
            f.0[prec - i] = frac.trunc() as u32;
            frac = frac.fract();
        }
        f
    }

    fn prec(&self) -> usize {
        self.0.len() - 1
    }

    /// The same number at precision `m`: low digits dropped, or zeros appended below.
    fn at(&self, m: usize) -> Fx {
        let p = self.prec();
        if m <= p {
            Fx(self.0[p - m..].to_vec())
        } else {
            let mut d = vec![0; m - p];
            d.extend_from_slice(&self.0);
            Fx(d)
        }
    }

    fn to_f64(&self) -> f64 {
        self.0
            .iter()
            .rev()
            .take(4)
            .enumerate()
            .map(|(i, &d)| d as f64 * 65536f64.powi(-(i as i32)))
            .sum()
    }

    fn is_zero(&self) -> bool {
        self.0.iter().all(|&d| d == 0)
    }

    fn cmp_to(&self, o: &Fx) -> Ordering {
        debug_assert_eq!(self.prec(), o.prec());
        self.0.iter().rev().cmp(o.0.iter().rev())
    }

    fn plus(&self, o: &Fx) -> Fx {
        debug_assert_eq!(self.prec(), o.prec());
        let mut carry = 0;
        let d = self
            .0
            .iter()
            .zip(&o.0)
            .map(|(&a, &b)| {
                let s = a + b + carry;
                carry = s >> 16;
                s & 0xffff
            })
            .collect();
        assert_eq!(carry, 0, "fixed-point overflow: integer part beyond 2^16");
        Fx(d)
    }

    /// `self − o`, which must not be negative.
    fn minus(&self, o: &Fx) -> Fx {
        debug_assert_eq!(self.prec(), o.prec());
        let mut borrow = 0i64;
        let d = self
            .0
            .iter()
            .zip(&o.0)
            .map(|(&a, &b)| {
                let mut s = a as i64 - b as i64 - borrow;
                borrow = 0;
                if s < 0 {
                    s += 65536;
                    borrow = 1;
                }
                s as u32
            })
            .collect();
        assert_eq!(borrow, 0, "fixed-point subtraction went negative");
        Fx(d)
    }

    /// `self / 2^k`.
    fn shr(&self, k: u32) -> Fx {
        let mut r = self.clone();
        for _ in 0..k / 16 {
            r.0.remove(0);
            r.0.push(0);
        }
        let k = k % 16;
        if k > 0 {
            let mut carry = 0;
            for d in r.0.iter_mut().rev() {
                let v = (carry << 16) | *d;
                *d = v >> k;
                carry = v & ((1 << k) - 1);
            }
        }
        r
    }

    /// `self · 2^k`.
    fn shl(&self, k: u32) -> Fx {
        let mut r = self.clone();
        for _ in 0..k / 16 {
            assert_eq!(r.0.pop(), Some(0), "fixed-point overflow in a shift");
            r.0.insert(0, 0);
        }
        let k = k % 16;
        if k > 0 {
            let mut carry = 0u64;
            for d in r.0.iter_mut() {
                let v = ((*d as u64) << k) | carry;
                *d = (v & 0xffff) as u32;
                carry = v >> 16;
            }
            assert_eq!(carry, 0, "fixed-point overflow in a shift");
        }
        r
    }

    /// `self · o` at precision `m` (truncated).
    fn times(&self, o: &Fx, m: usize) -> Fx {
        let (a, b) = (self.at(m), o.at(m));
        let prod = convolve(&a.0, &b.0);
        Self::from_product(prod, m)
    }

    /// `self²` at precision `m` (one forward transform instead of two).
    fn squared(&self, m: usize) -> Fx {
        let a = self.at(m);
        let prod = convolve(&a.0, &a.0);
        Self::from_product(prod, m)
    }

    /// A product of two precision-`m` numbers has 2m fraction digits; keep the top m.
    fn from_product(prod: Vec<u32>, m: usize) -> Fx {
        assert!(
            prod[2 * m + 1..].iter().all(|&d| d == 0),
            "fixed-point overflow: a product beyond 2^16"
        );
        Fx(prod[m..=2 * m].to_vec())
    }

    /// Decimal digits of the fraction, the first `n`.
    pub fn fraction_decimals(&self, n: usize) -> String {
        // n decimals need n·log2(10) bits; two digits more absorb the truncation.
        let keep = ((n as f64 * 3.33 / 16.0).ceil() as usize + 2).min(self.prec());
        let mut f: Vec<u32> = self.0[self.prec() - keep..self.prec()].to_vec();
        let mut s = String::with_capacity(n);
        for _ in 0..n {
            let mut carry = 0u32;
            for d in f.iter_mut() {
                let v = *d * 10 + carry;
                *d = v & 0xffff;
                carry = v >> 16;
            }
            s.push(char::from(b'0' + carry as u8));
        }
        s
    }
}

/// Newton steps from a 48-bit start up to precision `n`, doubling: the precisions to use.
fn schedule(n: usize) -> Vec<usize> {
    let mut ps = vec![n];
    while *ps.last().unwrap_or(&0) > 3 {
        let m = ps[ps.len() - 1];
        ps.push(m / 2 + 1);
    }
    ps.reverse();
    ps
}

/// 1/√x at precision `n` (x > 0).
fn inv_sqrt(x: &Fx, n: usize) -> Fx {
    let mut y = Fx::from_f64(1.0 / x.to_f64().sqrt(), n.min(3));
    for m in schedule(n).into_iter().chain([n]) {
        let y_m = y.at(m);
        let e = x.times(&y_m.squared(m), m); // x·y² → 1
        let one = Fx::int(1, m);
        y = match e.cmp_to(&one) {
            Ordering::Greater => y_m.minus(&y_m.times(&e.minus(&one), m).shr(1)),
            _ => y_m.plus(&y_m.times(&one.minus(&e), m).shr(1)),
        };
    }
    y
}

/// 1/x at precision `n` (x > 0).
fn recip(x: &Fx, n: usize) -> Fx {
    let mut y = Fx::from_f64(1.0 / x.to_f64(), n.min(3));
    for m in schedule(n).into_iter().chain([n]) {
        let y_m = y.at(m);
        let e = x.times(&y_m, m); // x·y → 1
        let one = Fx::int(1, m);
        y = match e.cmp_to(&one) {
            Ordering::Greater => y_m.minus(&y_m.times(&e.minus(&one), m)),
            _ => y_m.plus(&y_m.times(&one.minus(&e), m)),
        };
    }
    y
}

/// What a π computation did.
#[derive(Clone, Debug)]
pub struct Pi {
    /// π at working precision.
    pub value: Fx,
    /// Gauss–Legendre iterations until the correction to `t` vanished.
    pub iterations: u32,
    /// Decimals compared with [`PI_1000`] (all matched, else `compute` fails).
    pub checked: usize,
}

/// π to `digits` decimals by Gauss–Legendre, checked (see the module's text).
pub fn compute(digits: u64) -> Result<Pi, String> {
    if digits == 0 {
        return Err("π to 0 digits: give at least 1".into());
    }
    // Decimal digits → base-2^16 digits, plus two guard digits.
    let n = (digits as f64 * std::f64::consts::LOG2_10 / 16.0).ceil() as usize + 2;
    if n > MAX_DIGITS / 2 {
        return Err(format!(
            "π to {digits} digits: at most {} with this arithmetic",
            (MAX_DIGITS / 2 - 2) as f64 * 16.0 / std::f64::consts::LOG2_10
        ));
    }
    let two = Fx::int(2, n);
    let mut a = Fx::int(1, n);
    let mut b = inv_sqrt(&two, n);
    let mut t = Fx::int(1, n).shr(2);
    let mut k = 0u32; // p = 2^k
    let mut iterations = 0;
    loop {
        iterations += 1;
        if iterations > 64 {
            return Err("Gauss–Legendre did not converge in 64 iterations".into());
        }
        let a1 = a.plus(&b).shr(1);
        let ab = a.times(&b, n);
        b = ab.times(&inv_sqrt(&ab, n), n);
        let d = a.minus(&a1);
        let corr = d.squared(n).shl(k);
        a = a1;
        k += 1;
        if corr.is_zero() {
            break;
        }
        t = t.minus(&corr);
    }
    let value = a.plus(&b).squared(n).times(&recip(&t, n), n).shr(2);
    let checked = (digits as usize).min(PI_1000.len());
    if value.0[n] != 3 {
        return Err(format!(
            "π computed as {}: integer part wrong",
            value.to_f64()
        ));
    }
    let got = value.fraction_decimals(checked);
    if got != PI_1000[..checked] {
        let at = got
            .bytes()
            .zip(PI_1000.bytes())
            .position(|(x, y)| x != y)
            .unwrap_or(0);
        return Err(format!(
            "π's decimal {} is wrong (got {}…)",
            at + 1,
            &got[at..(at + 10).min(checked)]
        ));
    }
    Ok(Pi {
        value,
        iterations,
        checked,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn modular_arithmetic_agrees_with_u128() {
        let xs = [
            0,
            1,
            2,
            EPS,
            P - 1,
            P - 2,
            1 << 63,
            0x1234_5678_9abc_def0 % P,
        ];
        for &a in &xs {
            for &b in &xs {
                let want = ((a as u128 * b as u128) % P as u128) as u64;
                assert_eq!(mul(a, b), want, "{a} * {b}");
                assert_eq!(add(a, b), ((a as u128 + b as u128) % P as u128) as u64);
                assert_eq!(
                    sub(a, b),
                    ((a as u128 + P as u128 - b as u128) % P as u128) as u64
                );
            }
        }
    }

    #[test]
    fn convolution_is_the_schoolbook_product() {
        let a: Vec<u32> = (0..300u32).map(|i| (i * 7919 + 13) & 0xffff).collect();
        let b: Vec<u32> = (0..177u32)
            .map(|i| 0xffff - ((i * 104_729) & 0xffff))
            .collect();
        let mut want = vec![0u64; a.len() + b.len() + 1];
        for (i, &x) in a.iter().enumerate() {
            for (j, &y) in b.iter().enumerate() {
                want[i + j] += x as u64 * y as u64;
            }
        }
        let mut carried = Vec::new();
        let mut c = 0u64;
        for w in want {
            let s = w + c;
            carried.push((s & 0xffff) as u32);
            c = s >> 16;
        }
        assert_eq!(convolve(&a, &b), carried[..a.len() + b.len()]);
        assert_eq!(convolve(&a, &a), convolve(&a, &a.clone()));
    }

    #[test]
    fn square_roots_and_reciprocals_hold_to_the_last_digits() {
        let n = 40;
        let two = Fx::int(2, n);
        let r = inv_sqrt(&two, n); // 1/√2
        let back = two.times(&r.squared(n), n); // 2·(1/√2)² = 1 - tiny
        let one = Fx::int(1, n);
        let err = if back.cmp_to(&one) == Ordering::Greater {
            back.minus(&one)
        } else {
            one.minus(&back)
        };
        // Within a few units of the last places: nothing above the lowest four digits.
        assert!(err.0[4..].iter().all(|&d| d == 0), "{err:?}");
        let three = Fx::int(3, n);
        let third = recip(&three, n);
        assert!(third.0[2..n].iter().all(|&d| d == 0x5555), "{third:?}");
    }

    #[test]
    fn pi_matches_the_known_digits() {
        for digits in [1, 10, 100, 1000] {
            let pi = compute(digits).unwrap();
            assert_eq!(pi.checked, digits as usize);
            assert_eq!(
                pi.value.fraction_decimals(digits as usize),
                PI_1000[..digits as usize]
            );
        }
        // More digits than the constant: still converges, the prefix checked.
        let pi = compute(20_000).unwrap();
        assert_eq!(pi.checked, 1000);
        assert!(pi.iterations >= 12, "{}", pi.iterations);
    }

    #[test]
    fn a_wrong_value_is_caught_by_the_decimal_check() {
        let mut pi = compute(1000).unwrap().value;
        let n = pi.prec();
        pi.0[n - 20] ^= 1; // a bit near decimal 95
        let got = pi.fraction_decimals(1000);
        assert_ne!(got, PI_1000);
    }
}
