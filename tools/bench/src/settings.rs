//! The benchmark's settings, read from the environment (`BENCH_*`), and the
//! progress line it prints to stderr.

use std::path::PathBuf;

use shared::function::Config;

pub struct Settings {
    pub sizes: Vec<usize>,
    pub concurrency: usize,
    pub seconds: f64,
    pub rounds: usize,
    pub cold_runs: usize,
    pub sections: Vec<String>,
    pub bin_dir: PathBuf,
    pub table: String,
}

/// The variable `name` parsed, or `default` when it is unset; panics when it does not parse.
pub fn env_or<T: std::str::FromStr>(name: &str, default: T) -> T {
    match std::env::var(name) {
        Ok(value) => value
            .trim()
            .parse()
            .unwrap_or_else(|_| panic!("{name}={value:?} is not valid")),
        Err(_) => default,
    }
}

impl Settings {
    pub fn from_env() -> Self {
        let sizes = std::env::var("BENCH_SIZES").unwrap_or_else(|_| "1000,10000,100000".into());
        let sections = std::env::var("BENCH_SECTIONS")
            .unwrap_or_else(|_| "cost,overhead,warmup,cold,busy,flood,limits".into());
        let exe = std::env::current_exe().expect("this binary's path");
        Self {
            sizes: sizes
                .split(',')
                .map(|s| {
                    s.trim()
                        .replace('_', "")
                        .parse()
                        .expect("BENCH_SIZES: numbers separated by commas")
                })
                .collect(),
            concurrency: env_or("BENCH_CONCURRENCY", 8),
            seconds: env_or("BENCH_SECONDS", 4.0),
            rounds: env_or("BENCH_ROUNDS", 2),
            cold_runs: env_or("BENCH_COLD_RUNS", 7),
            sections: sections.split(',').map(|s| s.trim().to_owned()).collect(),
            bin_dir: std::env::var_os("BENCH_BIN_DIR")
                .map(PathBuf::from)
                .unwrap_or_else(|| exe.parent().expect("a directory").to_owned()),
            table: std::env::var("BENCH_TABLE").unwrap_or_else(|_| "clients-bench".into()),
        }
    }

    pub fn runs(&self, section: &str) -> bool {
        self.sections.iter().any(|s| s == section)
    }

    /// The functions' configuration for the bench table: keys cached a minute,
    /// as in a warm container.
    pub fn config(&self) -> Config {
        Config::for_table(&self.table)
    }
}

/// A progress line on stderr (the report goes to stdout).
pub fn say(message: impl AsRef<str>) {
    eprintln!("bench: {}", message.as_ref());
}
