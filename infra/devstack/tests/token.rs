//! `devstack token` prints a JWT that the gateway's authorizer accepts.

use std::process::Command;

use tessera_devstack::jwt::{DevTokens, flatten_claims};
use tessera_devstack::plan;
use tessera_testkit::{Stack, Template};

#[test]
fn the_token_command_prints_a_token_the_templates_authorizer_accepts() {
    let output = Command::new(env!("CARGO_BIN_EXE_devstack"))
        .args(["token", "--user", "alice", "--tier", "pro", "--roles", "admin,editor"])
        .output()
        .unwrap();
    assert!(output.status.success(), "{}", String::from_utf8_lossy(&output.stderr));
    let token = String::from_utf8(output.stdout).unwrap();

    let stack = Stack::unprovisioned(Template::workspace().unwrap(), "check");
    let tokens = DevTokens::for_authorizer(plan::jwt_authorizer(&stack).unwrap().as_ref());
    let claims = flatten_claims(&tokens.verify(token.trim()).unwrap());

    assert_eq!(claims["sub"], "alice");
    assert_eq!(claims["tier"], "pro");
    assert_eq!(claims["roles"], "[admin editor]");
}

#[test]
fn the_token_command_refuses_to_run_without_a_user() {
    let output = Command::new(env!("CARGO_BIN_EXE_devstack")).args(["token", "--tier", "pro"]).output().unwrap();
    assert!(!output.status.success());
    assert!(String::from_utf8_lossy(&output.stderr).contains("--user"));
}
