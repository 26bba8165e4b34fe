//! Rounding to whole numbers on the hot paths.
//!
//! `f64::round` compiles to a call into the compiler's runtime library on
//! the baseline x86-64 target (the `roundsd` instruction needs SSE4.1),
//! and a simulated event rounds about ten numbers (seconds drawn, ladder
//! instants, resolution seconds): about 1.4% of a year's instructions
//! (callgrind). [`round`] gives the same result with a truncating
//! conversion, which the baseline target has.

/// `x.round()` (half away from zero), bit for bit, for every `f64`.
#[inline]
pub(crate) fn round(x: f64) -> f64 {
    // From 2^52 on every f64 is whole; NaN and the infinities stay as they are.
    const WHOLE: f64 = 4_503_599_627_370_496.0;
    if x.is_nan() || x.abs() >= WHOLE {
        return x;
    }
    // Below 2^52 truncating through i64 is exact, and so is the remainder.
    let t = x as i64 as f64;
    let rest = x - t;
    let r = if rest >= 0.5 {
        t + 1.0
    } else if rest <= -0.5 {
        t - 1.0
    } else {
        t
    };
    // A nonzero result already has x's sign; this gives a zero one too
    // (`(-0.3f64).round()` is -0.0).
    r.copysign(x)
}

#[cfg(test)]
mod tests {
    use super::round;
    use proptest::prelude::*;

    fn same(x: f64) -> bool {
        let (a, b) = (round(x), x.round());
        a.to_bits() == b.to_bits() || (a.is_nan() && b.is_nan())
    }

    #[test]
    fn edges_round_as_the_standard_library_does() {
        let half_below = 0.5 - f64::EPSILON / 4.0; // 0.49999999999999994
        let cases = [
            0.0,
            -0.0,
            0.3,
            -0.3,
            0.5,
            -0.5,
            half_below,
            -half_below,
            1.5,
            -1.5,
            2.5,
            -2.5,
            4_503_599_627_370_495.5,
            -4_503_599_627_370_495.5,
            4_503_599_627_370_496.0,
            9_007_199_254_740_993.0,
            1e300,
            -1e300,
            f64::MAX,
            f64::MIN,
            f64::MIN_POSITIVE,
            f64::INFINITY,
            f64::NEG_INFINITY,
            f64::NAN,
        ];
        for x in cases {
            assert!(same(x), "{x:?}: {:?} against {:?}", round(x), x.round());
        }
    }

    proptest! {
        #[test]
        fn any_bits_round_as_the_standard_library_does(bits in any::<u64>()) {
            let x = f64::from_bits(bits);
            prop_assert!(same(x), "{:?}: {:?} against {:?}", x, round(x), x.round());
        }

        #[test]
        fn seconds_round_as_the_standard_library_does(x in -1e7f64..1e7) {
            prop_assert!(same(x), "{:?}", x);
            prop_assert!(same(x.trunc() + 0.5), "{:?}", x.trunc() + 0.5);
        }
    }
}
