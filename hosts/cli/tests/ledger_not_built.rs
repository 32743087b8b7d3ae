//! The default build has no `mailroom ledger` (no AWS SDK in it): asking for it says how to get
//! it, rather than clap's "unrecognized subcommand".

#![cfg(not(feature = "ledger"))]

mod common;

#[test]
fn the_default_build_says_how_to_get_the_ledger_commands() {
    for args in [
        &["ledger"][..],
        &["ledger", "lift", "ana@example.com", "--reason", "fixed"],
        &["ledger", "--help"],
    ] {
        let output = common::mailroom(&common::repo())
            .args(args)
            .output()
            .unwrap();
        let stderr = String::from_utf8(output.stderr).unwrap();
        assert_eq!(output.status.code(), Some(2), "{args:?}: {stderr}");
        assert!(
            stderr.contains("`mailroom ledger` is not in this build")
                && stderr.contains("cargo install --path hosts/cli --features ledger"),
            "{args:?}: {stderr}"
        );
    }
    // The main help lists it, with the same hint.
    let help = common::mailroom(&common::repo())
        .arg("--help")
        .output()
        .unwrap();
    let help = String::from_utf8(help.stdout).unwrap();
    assert!(
        help.contains("ledger") && help.contains("--features ledger"),
        "{help}"
    );
}
