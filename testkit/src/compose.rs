//! Reads `docker-compose.yml` and `.env.example` so tests can hold them to the config each binary
//! really accepts: a variable the binary ignores, a value it cannot parse, or an undocumented
//! setting fails the build instead of a deployment.

use std::{collections::BTreeMap, path::PathBuf};

use serde_norway::Value;

/// The workspace root: the nearest folder holding `docker-compose.yml`, searched upwards from the
/// running test's crate (cargo sets `CARGO_MANIFEST_DIR` when it runs a test), so a testkit built
/// in another checkout still reads this checkout's files.
pub fn workspace_root() -> PathBuf {
    let start = std::env::var_os("CARGO_MANIFEST_DIR")
        .map(PathBuf::from)
        .unwrap_or_else(|| PathBuf::from(env!("CARGO_MANIFEST_DIR")));
    start
        .ancestors()
        .find(|dir| dir.join("docker-compose.yml").is_file())
        .unwrap_or_else(|| panic!("no docker-compose.yml above {start:?}"))
        .to_path_buf()
}

fn load_compose() -> Value {
    let path = workspace_root().join("docker-compose.yml");
    let text = std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("read {path:?}: {e}"));
    serde_norway::from_str(&text).unwrap_or_else(|e| panic!("parse {path:?}: {e}"))
}

/// The environment compose gives `service`, in either of compose's two spellings (map or list).
pub fn service_environment(service: &str) -> BTreeMap<String, String> {
    let compose = load_compose();
    let Some(svc) = compose.get("services").and_then(|s| s.get(service)) else {
        panic!("docker-compose.yml has no service {service:?}");
    };
    let mut env = BTreeMap::new();
    match svc.get("environment") {
        None => {}
        Some(Value::Mapping(map)) => {
            for (k, v) in map {
                let key = k.as_str().expect("environment keys are strings").to_owned();
                let value = match v {
                    Value::String(s) => s.clone(),
                    Value::Number(n) => n.to_string(),
                    Value::Bool(b) => b.to_string(),
                    Value::Null => String::new(),
                    other => panic!("{service}.{key}: unsupported value {other:?}"),
                };
                env.insert(key, value);
            }
        }
        Some(Value::Sequence(items)) => {
            for item in items {
                let s = item.as_str().expect("environment list items are strings");
                let (k, v) = s.split_once('=').unwrap_or((s, ""));
                env.insert(k.to_owned(), v.to_owned());
            }
        }
        Some(other) => panic!("{service}.environment: unsupported shape {other:?}"),
    }
    env
}

/// The names of every variable in `.env.example` (commented-out or not).
pub fn env_example_names() -> Vec<String> {
    let path = workspace_root().join(".env.example");
    let text = std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("read {path:?}: {e}"));
    text.lines()
        .map(|l| l.trim_start_matches('#').trim())
        .filter_map(|l| l.split_once('='))
        .map(|(k, _)| k.trim().to_owned())
        .filter(|k| {
            !k.is_empty()
                && k.chars()
                    .all(|c| c.is_ascii_uppercase() || c.is_ascii_digit() || c == '_')
        })
        .collect()
}

/// Every environment variable `command` (or one of its subcommands) reads, with its long flag.
pub fn accepted_env(command: &clap::Command) -> BTreeMap<String, String> {
    let mut out = BTreeMap::new();
    for arg in command.get_arguments() {
        if let (Some(env), Some(long)) = (arg.get_env(), arg.get_long()) {
            out.insert(env.to_string_lossy().into_owned(), long.to_owned());
        }
    }
    for sub in command.get_subcommands() {
        out.extend(accepted_env(sub));
    }
    out
}

/// Holds compose's `service` to the binary's `command`:
/// - every variable compose sets is one the binary reads;
/// - every value parses, by feeding it to the binary's own parser as the matching flag;
/// - every address the service binds listens on all interfaces (loopback is unreachable between
///   containers);
/// - every variable the binary reads is documented in `.env.example`.
pub fn assert_service_matches(service: &str, command: clap::Command) {
    let accepted = accepted_env(&command);
    let env = service_environment(service);
    assert!(
        !env.is_empty(),
        "{service} has no environment in docker-compose.yml"
    );

    let mut argv = vec![command.get_name().to_owned()];
    for (key, value) in &env {
        let Some(long) = accepted.get(key) else {
            panic!(
                "docker-compose.yml sets {key} for {service}, which it does not read; it reads {:?}",
                accepted.keys().collect::<Vec<_>>()
            );
        };
        if key.ends_with("_ADDR") {
            assert!(
                value.starts_with("0.0.0.0:"),
                "{service}: {key}={value} must bind 0.0.0.0 inside a container"
            );
        }
        argv.push(format!("--{long}"));
        argv.push(value.clone());
    }
    if let Err(e) = command.clone().try_get_matches_from(&argv) {
        panic!("{service}: docker-compose.yml values do not parse as its config:\n{e}");
    }

    let documented = env_example_names();
    for key in accepted.keys() {
        assert!(
            documented.contains(key),
            "{service} reads {key} but .env.example does not document it"
        );
    }
}
