//! A rate-limit policy file for tests about something else: the shipped
//! rules with every limit raised out of reach, so a test that drives
//! hundreds of requests as one user still runs the limiter on every one.

use std::path::PathBuf;
use std::sync::OnceLock;

use crate::workspace::workspace_root;

/// The roomy policy file's path, written once per test binary.
pub fn roomy_policy_file() -> PathBuf {
    static PATH: OnceLock<PathBuf> = OnceLock::new();
    PATH.get_or_init(|| {
        let shipped = std::fs::read_to_string(workspace_root().join("infra/rate-limits.yaml"))
            .expect("reading infra/rate-limits.yaml");
        let mut policies: serde_yaml::Value = serde_yaml::from_str(&shipped).expect("the shipped policies are YAML");
        for rule in policies["rules"].as_sequence_mut().expect("rules is a list") {
            rule["limit"] = 100_000.into();
        }
        let path = std::env::temp_dir().join(format!("tessera-roomy-rate-limits-{}.yaml", std::process::id()));
        std::fs::write(&path, serde_yaml::to_string(&policies).expect("serialising YAML"))
            .expect("writing the roomy policy file");
        path
    })
    .clone()
}
