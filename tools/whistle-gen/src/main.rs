//! `whistle-gen`: writes benchmark inputs (docs/BENCHMARKS.md).
//!
//! ```text
//! whistle-gen bundle --out DIR [--categories 200] [--departments 30] [--tests 0] [--seed 42]
//! whistle-gen events --policy DIR [--count 1000000] [--seed 7] [--out FILE|-]
//! whistle-gen events --synthetic N [--departments 30] ...   (events for a generated bundle)
//! ```

use std::io::{BufWriter, Write};
use std::path::PathBuf;
use std::process::ExitCode;

use whistle_gen::{BundleSpec, EventGen, START_2026_CST, scan_bundle, synthetic_bundle};

fn usage() -> ExitCode {
    eprintln!(
        "usage:\n  whistle-gen bundle --out DIR [--categories N] [--departments N] [--tests N] [--seed N]\n  \
         whistle-gen events (--policy DIR | --synthetic N [--departments N]) [--count N] [--seed N] [--out FILE|-]"
    );
    ExitCode::from(2)
}

struct Opts {
    args: Vec<String>,
}

impl Opts {
    fn get(&self, name: &str) -> Option<&str> {
        self.args
            .iter()
            .position(|a| a == name)
            .and_then(|i| self.args.get(i + 1))
            .map(String::as_str)
    }

    fn num(&self, name: &str, default: u64) -> Result<u64, String> {
        match self.get(name) {
            None => Ok(default),
            Some(v) => v
                .replace('_', "")
                .parse()
                .map_err(|_| format!("{name}: not a number: {v}")),
        }
    }
}

fn main() -> ExitCode {
    let mut args: Vec<String> = std::env::args().skip(1).collect();
    if args.is_empty() {
        return usage();
    }
    let cmd = args.remove(0);
    let o = Opts { args };
    let r = match cmd.as_str() {
        "bundle" => bundle(&o),
        "events" => events(&o),
        _ => return usage(),
    };
    match r {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("error: {e}");
            ExitCode::FAILURE
        }
    }
}

fn spec(o: &Opts, categories: u64) -> Result<BundleSpec, String> {
    Ok(BundleSpec {
        categories: categories as usize,
        departments: o.num("--departments", 30)? as usize,
        tests: o.num("--tests", 0)? as usize,
        per_file: o.num("--per-file", 25)? as usize,
        seed: o.num("--seed", 42)?,
    })
}

fn bundle(o: &Opts) -> Result<(), String> {
    let out = PathBuf::from(o.get("--out").ok_or("--out DIR is required")?);
    let s = synthetic_bundle(spec(o, o.num("--categories", 200)?)?);
    for (rel, text) in &s.files {
        let p = out.join(rel);
        if let Some(dir) = p.parent() {
            std::fs::create_dir_all(dir).map_err(|e| format!("{}: {e}", dir.display()))?;
        }
        std::fs::write(&p, text).map_err(|e| format!("{}: {e}", p.display()))?;
    }
    eprintln!(
        "wrote {} files, {} lines ({} bytes) of .whistle, {} categories, to {}",
        s.files.len(),
        s.whistle_lines(),
        s.whistle_bytes(),
        s.categories.len(),
        out.display()
    );
    Ok(())
}

fn events(o: &Opts) -> Result<(), String> {
    let count = o.num("--count", 1_000_000)?;
    let seed = o.num("--seed", 7)?;
    let mut g = if let Some(n) = o.get("--synthetic") {
        let n = n.parse().map_err(|_| "--synthetic N: not a number")?;
        EventGen::for_synthetic(seed, &synthetic_bundle(spec(o, n)?))
    } else {
        let dir = PathBuf::from(o.get("--policy").ok_or("--policy DIR or --synthetic N")?);
        let (cats, grids) = scan_bundle(&dir).map_err(|e| format!("{}: {e}", dir.display()))?;
        if cats.is_empty() {
            return Err(format!("no category found under {}", dir.display()));
        }
        EventGen::new(seed, cats, grids, START_2026_CST, 32, 10)
    };
    let sink: Box<dyn Write> = match o.get("--out") {
        None | Some("-") => Box::new(std::io::stdout().lock()),
        Some(p) => Box::new(std::fs::File::create(p).map_err(|e| format!("{p}: {e}"))?),
    };
    let mut w = BufWriter::with_capacity(1 << 16, sink);
    let mut line = String::new();
    for _ in 0..count {
        line.clear();
        g.next_line(&mut line);
        w.write_all(line.as_bytes()).map_err(|e| e.to_string())?;
    }
    w.flush().map_err(|e| e.to_string())
}
