//! gunyahctl's command-line surface without a service: help, the ABI dump, completions and
//! the man page. (Also makes `cargo test` build gunyahctl, which the workspace's integration
//! tests in `tests/` run.)

use std::process::Command;

fn gunyahctl(args: &[&str]) -> std::process::Output {
    Command::new(env!("CARGO_BIN_EXE_gunyahctl"))
        .args(args)
        .output()
        .expect("run gunyahctl")
}

#[test]
fn test_gunyahctl_help_lists_commands() {
    let out = gunyahctl(&["--help"]);
    assert!(out.status.success());
    let help = String::from_utf8_lossy(&out.stdout);
    for cmd in ["info", "list", "run", "dump", "abi", "completions", "man"] {
        assert!(help.contains(cmd), "{cmd} missing from:\n{help}");
    }
}

#[test]
fn test_gunyahctl_abi_json_names_kernel_symbols() {
    let out = gunyahctl(&["abi", "--json"]);
    assert!(out.status.success());
    let abi: serde_json::Value = serde_json::from_slice(&out.stdout).expect("JSON");
    assert_eq!(
        abi["a14"]["ioctls"]["GH_VM_SET_USER_MEM_REGION"],
        "0x40204701"
    );
    assert_eq!(
        abi["ack-ext"]["structs"]["gunyah_map_cma_mem_args"]["fields"]["guest_mem_fd"],
        20
    );
    assert_eq!(
        abi["a14"]["structs"]["gh_vcpu_run"]["fields"]["status.exit_info"],
        20
    );
    assert_eq!(abi["upstream"]["ioctls"]["GUNYAH_VM_MAP_MEM"], "0x40204709");
}

#[test]
fn test_abi_human_lists_each_generation() {
    let out = gunyahctl(&["abi"]);
    assert!(out.status.success());
    let text = String::from_utf8_lossy(&out.stdout);
    for section in ["[a14]", "[ack-ext]", "[upstream]"] {
        assert!(text.contains(section), "{section} missing:\n{text}");
    }
    assert!(
        text.lines()
            .any(|l| l.split_whitespace().collect::<Vec<_>>()
                == ["GH_VM_SET_USER_MEM_REGION", "0x40204701"]),
        "{text}"
    );
}

#[test]
fn test_completions_cover_every_subcommand_and_flag() {
    for shell in ["bash", "zsh", "fish", "elvish", "powershell"] {
        let out = gunyahctl(&["completions", shell]);
        assert!(out.status.success(), "{shell}: {out:?}");
        let script = String::from_utf8_lossy(&out.stdout);
        for word in ["info", "run", "kernel", "console", "json"] {
            assert!(script.contains(word), "{shell}: {word} missing");
        }
    }
    let out = gunyahctl(&["completions", "tcsh"]);
    assert_eq!(out.status.code(), Some(2));
}

#[test]
fn test_man_page_is_roff_and_documents_the_commands() {
    let out = gunyahctl(&["man"]);
    assert!(out.status.success());
    let page = String::from_utf8_lossy(&out.stdout);
    assert!(page.starts_with(".ie \\n(.g .ds Aq"), "{}", &page[..80]);
    assert!(page.contains(".TH gunyahctl 1"), "{page}");
    for word in ["run", "info", "completions", "\\-\\-socket"] {
        assert!(page.contains(word), "{word} missing:\n{page}");
    }
    let out = gunyahctl(&["--json", "man"]);
    assert_eq!(out.status.code(), Some(2));
    let err: serde_json::Value = serde_json::from_slice(&out.stdout).expect("JSON error");
    assert_eq!(err["error"]["message"], "--json: man has no JSON form");
}

#[test]
fn test_bad_flags_name_the_flag() {
    let out = gunyahctl(&["run", "--kernel", "Image"]);
    assert_eq!(out.status.code(), Some(2));
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("--kernel"), "{err}");
    assert!(err.contains("expected FILE@ADDR"), "{err}");
    let out = gunyahctl(&["run", "--boot", "x99=1"]);
    assert_eq!(out.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&out.stderr).contains("unknown register"));
}
