//! Random durations and `attr` values, from their scenario spelling.
//!
//! Durations are drawn by inversion where the distribution allows (one
//! uniform number per draw), so that the draft and the baseline, drawing
//! from the same per-event stream, get values that move together: a slow
//! case under one policy is a slow case under the other (common random
//! numbers).

use rand::Rng;
use rand_distr::{Distribution, Gamma, Normal, Poisson};
use serde_json::{Map, Number, Value};

use super::scenario::{DistKeys, DistSpec, ScenarioError, duration_seconds};

/// A uniform number in [0, 1) from 53 random bits.
pub fn unit(rng: &mut impl Rng) -> f64 {
    (rng.next_u64() >> 11) as f64 * (1.0 / (1u64 << 53) as f64)
}

/// z of the standard normal distribution at `p` (Acklam's rational
/// approximation: relative error below 1.2e-9, plenty for a simulation).
pub fn normal_quantile(p: f64) -> f64 {
    const A: [f64; 6] = [
        -3.969_683_028_665_376e1,
        2.209_460_984_245_205e2,
        -2.759_285_104_469_687e2,
        1.383_577_518_672_69e2,
        -3.066_479_806_614_716e1,
        2.506_628_277_459_239,
    ];
    const B: [f64; 5] = [
        -5.447_609_879_822_406e1,
        1.615_858_368_580_409e2,
        -1.556_989_798_598_866e2,
        6.680_131_188_771_972e1,
        -1.328_068_155_288_572e1,
    ];
    const C: [f64; 6] = [
        -7.784_894_002_430_293e-3,
        -3.223_964_580_411_365e-1,
        -2.400_758_277_161_838,
        -2.549_732_539_343_734,
        4.374_664_141_464_968,
        2.938_163_982_698_783,
    ];
    const D: [f64; 4] = [
        7.784_695_709_041_462e-3,
        3.224_671_290_700_398e-1,
        2.445_134_137_142_996,
        3.754_408_661_907_416,
    ];
    let p = p.clamp(1e-300, 1.0 - 1e-16);
    let tail = |q: f64| {
        (((((C[0] * q + C[1]) * q + C[2]) * q + C[3]) * q + C[4]) * q + C[5])
            / ((((D[0] * q + D[1]) * q + D[2]) * q + D[3]) * q + 1.0)
    };
    if p < 0.02425 {
        tail((-2.0 * p.ln()).sqrt())
    } else if p > 1.0 - 0.02425 {
        -tail((-2.0 * (1.0 - p).ln()).sqrt())
    } else {
        let q = p - 0.5;
        let r = q * q;
        (((((A[0] * r + A[1]) * r + A[2]) * r + A[3]) * r + A[4]) * r + A[5]) * q
            / (((((B[0] * r + B[1]) * r + B[2]) * r + B[3]) * r + B[4]) * r + 1.0)
    }
}

/// z of the 90th percentile of the standard normal distribution.
const Z90: f64 = 1.281_551_565_544_600_5;

/// A distribution of durations, in seconds.
#[derive(Debug, Clone)]
pub enum Dist {
    /// Always the same.
    Constant(f64),
    /// Exponential with a mean.
    Exponential(f64),
    /// Uniform in [lo, hi].
    Uniform(f64, f64),
    /// `exp(mu + sigma * z)`.
    LogNormal {
        /// Log of the median.
        mu: f64,
        /// Spread.
        sigma: f64,
    },
    /// Gamma: the unit-scale distribution of the shape, the scale, the mean.
    Gamma(Gamma<f64>, f64, f64),
}

/// The longest time a scenario may give (seconds): ten years, the
/// longest period.
const LONGEST: f64 = 3660.0 * 86_400.0;

impl Dist {
    /// Reads a spec; errors name `path`.
    pub fn from_spec(spec: &DistSpec, path: &str) -> Result<Dist, ScenarioError> {
        let secs = |text: &str, at: &str| {
            let s = duration_seconds(text).ok_or_else(|| {
                ScenarioError::at(
                    at,
                    format!("\"{text}\" is not a duration such as \"30m\" or \"1h30m\""),
                )
            })?;
            // Longer than the longest period, a time would never end in
            // the run: a slip of the keyboard, not a plan.
            if s > LONGEST {
                return Err(ScenarioError::at(
                    at,
                    format!("\"{text}\" is longer than any period can be (3660d, ten years)"),
                ));
            }
            Ok(s)
        };
        let keys = match spec {
            DistSpec::Fixed(text) => return Ok(Dist::Constant(secs(text, path)?)),
            DistSpec::Dist(k) => k,
        };
        let DistKeys {
            constant,
            exponential,
            uniform,
            lognormal,
            gamma,
        } = keys;
        if let Some(c) = constant {
            return Ok(Dist::Constant(secs(c, &format!("{path}.constant"))?));
        }
        if let Some(m) = exponential {
            return Ok(Dist::Exponential(secs(m, &format!("{path}.exponential"))?));
        }
        if let Some([a, b]) = uniform {
            let at = format!("{path}.uniform");
            let (lo, hi) = (secs(a, &at)?, secs(b, &at)?);
            if hi < lo {
                return Err(ScenarioError::at(
                    at,
                    format!("the upper bound \"{b}\" is below the lower bound \"{a}\""),
                ));
            }
            return Ok(Dist::Uniform(lo, hi));
        }
        if let Some(q) = lognormal {
            let at = format!("{path}.lognormal");
            let (median, p90) = (secs(&q.median, &at)?, secs(&q.p90, &at)?);
            if median <= 0.0 || p90 < median {
                return Err(ScenarioError::at(
                    at,
                    "a log-normal needs 0 < median <= p90".to_string(),
                ));
            }
            return Ok(Dist::LogNormal {
                mu: median.ln(),
                sigma: (p90.ln() - median.ln()) / Z90,
            });
        }
        if let Some(g) = gamma {
            let at = format!("{path}.gamma");
            let mean = secs(&g.mean, &at)?;
            let scale = mean / g.shape;
            return match Gamma::new(g.shape, 1.0) {
                Ok(d) if scale.is_finite() => Ok(Dist::Gamma(d, scale, mean)),
                _ => Err(ScenarioError::at(
                    at,
                    "a gamma needs a positive shape".to_string(),
                )),
            };
        }
        Err(ScenarioError::at(path, "no distribution given".to_string()))
    }

    /// A draw, in seconds (never negative).
    pub fn sample(&self, rng: &mut impl Rng) -> f64 {
        let x = match self {
            Dist::Constant(c) => *c,
            Dist::Exponential(m) => -m * (1.0 - unit(rng)).ln(),
            Dist::Uniform(lo, hi) => lo + (hi - lo) * unit(rng),
            Dist::LogNormal { mu, sigma } => (mu + sigma * normal_quantile(unit(rng))).exp(),
            Dist::Gamma(g, scale, _) => g.sample(rng) * scale,
        };
        if x.is_finite() { x.max(0.0) } else { 0.0 }
    }

    /// A draw rounded to whole seconds (the simulated clock's resolution).
    pub fn seconds(&self, rng: &mut impl Rng) -> i64 {
        // Whole seconds: any draw past a century is a spec mistake, capped.
        crate::round::round(self.sample(rng)).min(3.2e9) as i64
    }

    /// The mean, in seconds.
    pub fn mean(&self) -> f64 {
        match self {
            Dist::Constant(c) => *c,
            Dist::Exponential(m) => *m,
            Dist::Uniform(lo, hi) => (lo + hi) / 2.0,
            Dist::LogNormal { mu, sigma } => (mu + sigma * sigma / 2.0).exp(),
            Dist::Gamma(_, _, mean) => *mean,
        }
    }
}

/// How one `attr` value is drawn.
#[derive(Debug, Clone)]
enum Draw {
    Const(Value),
    Bernoulli(f64),
    Poisson(Poisson<f64>),
    Uniform(f64, f64),
    Integer(i64, i64),
    Normal(Normal<f64>),
    LogNormal(f64, f64),
    Choice(Vec<(Value, f64)>),
}

/// One `attr` field of a category: its path, how often it is there, and
/// how its value is drawn.
#[derive(Debug, Clone)]
pub struct AttrField {
    path: Vec<String>,
    present: f64,
    draw: Draw,
}

impl AttrField {
    /// Reads `attr.NAME: SPEC`; errors name `at`.
    pub fn from_spec(name: &str, spec: &Value, at: &str) -> Result<AttrField, ScenarioError> {
        let path = name.split('.').map(str::to_string).collect();
        let err = |m: &str| ScenarioError::at(at, m.to_string());
        let Some(obj) = spec.as_object() else {
            return Ok(AttrField {
                path,
                present: 1.0,
                draw: Draw::Const(spec.clone()),
            });
        };
        let present = obj.get("present").and_then(Value::as_f64).unwrap_or(1.0);
        let keys: Vec<&String> = obj.keys().filter(|k| *k != "present").collect();
        let [key] = keys.as_slice() else {
            return Err(err(
                "give exactly one of bernoulli, poisson, uniform, integer, normal, lognormal, choice, constant",
            ));
        };
        let v = &obj[key.as_str()];
        let num = |v: &Value| v.as_f64().ok_or_else(|| err("expected a number"));
        let pair = |v: &Value| -> Result<(f64, f64), ScenarioError> {
            match v.as_array().map(Vec::as_slice) {
                Some([a, b]) => Ok((num(a)?, num(b)?)),
                _ => Err(err("expected [A, B]")),
            }
        };
        let draw = match key.as_str() {
            "constant" => Draw::Const(v.clone()),
            "bernoulli" => Draw::Bernoulli(num(v)?),
            "poisson" => {
                let mean = num(v)?;
                if mean <= 0.0 {
                    Draw::Const(Value::from(0))
                } else {
                    // The library's words name its own constants.
                    Draw::Poisson(Poisson::new(mean).map_err(|_| {
                        err(&format!(
                            "a Poisson mean of {mean:.3e} is more than can be drawn (at most {:.0e})",
                            Poisson::<f64>::MAX_LAMBDA
                        ))
                    })?)
                }
            }
            "uniform" => {
                let (a, b) = pair(v)?;
                if b < a {
                    return Err(err("the upper bound is below the lower bound"));
                }
                Draw::Uniform(a, b)
            }
            "integer" => {
                let (a, b) = pair(v)?;
                if b < a {
                    return Err(err("the upper bound is below the lower bound"));
                }
                Draw::Integer(a as i64, b as i64)
            }
            "normal" => {
                let mean = num(&v["mean"])?;
                let sd = num(&v["sd"])?;
                Draw::Normal(Normal::new(mean, sd).map_err(|e| err(&e.to_string()))?)
            }
            "lognormal" => {
                let (m, q) = (num(&v["median"])?, num(&v["p90"])?);
                if m <= 0.0 || q < m {
                    return Err(err("a log-normal needs 0 < median <= p90"));
                }
                Draw::LogNormal(m.ln(), (q.ln() - m.ln()) / Z90)
            }
            "choice" => {
                let Some(map) = v.as_object() else {
                    return Err(err("expected {VALUE: WEIGHT, ...}"));
                };
                let total: f64 = map.values().filter_map(Value::as_f64).sum();
                if total <= 0.0 {
                    return Err(err("the weights of a choice must not all be 0"));
                }
                let mut acc = 0.0;
                let choices = map
                    .iter()
                    .map(|(k, w)| {
                        acc += w.as_f64().unwrap_or(0.0) / total;
                        (choice_value(k), acc)
                    })
                    .collect();
                Draw::Choice(choices)
            }
            other => return Err(err(&format!("unknown distribution `{other}`"))),
        };
        Ok(AttrField {
            path,
            present,
            draw,
        })
    }

    /// Draws the field into `attr` (or leaves it out, `1 - present` of the time).
    pub fn draw_into(&self, attr: &mut Map<String, Value>, rng: &mut impl Rng) {
        if let Some(value) = self.draw(rng) {
            insert(attr, &self.path, value);
        }
    }

    /// Draws the field's value, `None` (`1 - present` of the time) when
    /// it is left out; the same draws as [`AttrField::draw_into`].
    pub fn draw(&self, rng: &mut impl Rng) -> Option<Value> {
        if self.present < 1.0 && unit(rng) >= self.present {
            return None;
        }
        Some(match &self.draw {
            Draw::Const(v) => v.clone(),
            Draw::Bernoulli(p) => Value::Bool(unit(rng) < *p),
            Draw::Poisson(d) => Value::from(d.sample(rng) as u64),
            Draw::Uniform(a, b) => number(a + (b - a) * unit(rng)),
            Draw::Integer(a, b) => {
                let span = (b - a + 1).max(1) as f64;
                Value::from(a + ((unit(rng) * span) as i64).min(b - a))
            }
            Draw::Normal(d) => number(d.sample(rng)),
            Draw::LogNormal(mu, sigma) => number((mu + sigma * normal_quantile(unit(rng))).exp()),
            Draw::Choice(cs) => {
                let u = unit(rng);
                cs.iter()
                    .find(|(_, c)| u < *c)
                    .or(cs.last())
                    .map_or(Value::Null, |(v, _)| v.clone())
            }
        })
    }

    /// The field's key when its path is one key (`attr.blocks_road`, not
    /// `attr.site.floor`).
    pub fn key(&self) -> Option<&str> {
        match self.path.as_slice() {
            [key] => Some(key),
            _ => None,
        }
    }
}

/// A choice key as a value: `true`/`false` and numbers as such, else a string.
fn choice_value(k: &str) -> Value {
    match k {
        "true" => Value::Bool(true),
        "false" => Value::Bool(false),
        _ => k
            .parse::<i64>()
            .map(Value::from)
            .or_else(|_| k.parse::<f64>().map(number))
            .unwrap_or_else(|_| Value::String(k.to_string())),
    }
}

/// A number rounded to 2 decimals (attributes are measurements; more
/// digits only make events longer).
fn number(x: f64) -> Value {
    Number::from_f64((x * 100.0).round() / 100.0).map_or(Value::Null, Value::Number)
}

fn insert(map: &mut Map<String, Value>, path: &[String], value: Value) {
    match path {
        [] => {}
        [last] => {
            map.insert(last.clone(), value);
        }
        [first, rest @ ..] => {
            let child = map
                .entry(first.clone())
                .or_insert_with(|| Value::Object(Map::new()));
            if !child.is_object() {
                *child = Value::Object(Map::new());
            }
            if let Value::Object(m) = child {
                insert(m, rest, value);
            }
        }
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, clippy::panic)]
    use super::*;
    use rand::SeedableRng;
    use rand_pcg::Pcg64Mcg;

    fn mean_of(d: &Dist, n: usize) -> f64 {
        let mut rng = Pcg64Mcg::seed_from_u64(7);
        (0..n).map(|_| d.sample(&mut rng)).sum::<f64>() / n as f64
    }

    #[test]
    fn means_match_the_spec() {
        let exp = Dist::Exponential(600.0);
        assert!((mean_of(&exp, 200_000) / 600.0 - 1.0).abs() < 0.01);
        let spec: DistSpec =
            serde_json::from_str(r#"{"lognormal":{"median":"1h","p90":"4h"}}"#).unwrap();
        let ln = Dist::from_spec(&spec, "x").unwrap();
        let mut rng = Pcg64Mcg::seed_from_u64(3);
        let mut xs: Vec<f64> = (0..100_001).map(|_| ln.sample(&mut rng)).collect();
        xs.sort_by(f64::total_cmp);
        assert!(
            (xs[50_000] / 3600.0 - 1.0).abs() < 0.02,
            "median {}",
            xs[50_000]
        );
        assert!(
            (xs[90_000] / 14_400.0 - 1.0).abs() < 0.03,
            "p90 {}",
            xs[90_000]
        );
        let g: DistSpec = serde_json::from_str(r#"{"gamma":{"mean":"2h","shape":2}}"#).unwrap();
        let g = Dist::from_spec(&g, "x").unwrap();
        assert!((mean_of(&g, 200_000) / 7200.0 - 1.0).abs() < 0.01);
        assert_eq!(g.mean(), 7200.0);
    }

    #[test]
    fn bad_specs_name_the_field() {
        let spec: DistSpec = serde_json::from_str(r#"{"uniform":["2h","1h"]}"#).unwrap();
        let e = Dist::from_spec(&spec, "capacity.levels.grid.handling").unwrap_err();
        assert_eq!(e.path, "capacity.levels.grid.handling.uniform");
    }

    #[test]
    fn normal_quantiles() {
        assert!(normal_quantile(0.5).abs() < 1e-9);
        assert!((normal_quantile(0.975) - 1.959_963_985).abs() < 1e-6);
        assert!((normal_quantile(0.01) + 2.326_347_874).abs() < 1e-6);
    }

    #[test]
    fn attributes_nest_and_draw() {
        let f = AttrField::from_spec("a.b", &serde_json::json!({"bernoulli": 1.0}), "x").unwrap();
        let mut m = Map::new();
        let mut rng = Pcg64Mcg::seed_from_u64(1);
        f.draw_into(&mut m, &mut rng);
        assert_eq!(Value::Object(m), serde_json::json!({"a": {"b": true}}));
        let c = AttrField::from_spec("k", &serde_json::json!({"choice": {"x": 1, "3": 0}}), "x")
            .unwrap();
        let mut m = Map::new();
        c.draw_into(&mut m, &mut rng);
        assert_eq!(m["k"], "x");
        let absent =
            AttrField::from_spec("k", &serde_json::json!({"poisson": 2, "present": 0}), "x")
                .unwrap();
        let mut m = Map::new();
        absent.draw_into(&mut m, &mut rng);
        assert!(m.is_empty());
        let two = AttrField::from_spec(
            "k",
            &serde_json::json!({"poisson": 2, "bernoulli": 0.5}),
            "at",
        );
        assert_eq!(two.unwrap_err().path, "at");
    }
}
