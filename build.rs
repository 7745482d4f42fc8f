//! Build facts for `tinkex version --verbose/--json`: git commit, target triple, glibc floor.
//!
//! Nothing time-dependent is recorded, so two builds of one commit stay byte-identical.

use std::path::Path;
use std::process::Command;

fn main() {
    println!("cargo:rerun-if-changed=build.rs");
    println!("cargo:rerun-if-env-changed=TINKEX_GIT_COMMIT");
    println!("cargo:rerun-if-env-changed=TINKEX_GLIBC_FLOOR");
    let commit = match std::env::var("TINKEX_GIT_COMMIT") {
        Ok(commit) if !commit.trim().is_empty() => commit.trim().to_string(),
        _ => git_commit().unwrap_or_else(|| "unknown".into()),
    };
    let target = std::env::var("TARGET").unwrap_or_else(|_| "unknown".into());
    // Only a glibc target has a floor; make dist builds against 2.17 symbol versions and says
    // so, a plain cargo build links against whatever glibc the build host has.
    let floor = if std::env::var("CARGO_CFG_TARGET_ENV").as_deref() == Ok("gnu") {
        std::env::var("TINKEX_GLIBC_FLOOR").unwrap_or_else(|_| "host".into())
    } else {
        "none".into()
    };
    println!("cargo:rustc-env=TINKEX_BUILD_COMMIT={commit}");
    println!("cargo:rustc-env=TINKEX_BUILD_TARGET={target}");
    println!("cargo:rustc-env=TINKEX_BUILD_GLIBC_FLOOR={floor}");
}

/// HEAD of the git checkout this crate is the root of; None from a source tarball, from a
/// crate unpacked inside some other repository, or without git.
fn git_commit() -> Option<String> {
    let manifest_dir = std::env::var("CARGO_MANIFEST_DIR").ok()?;
    let top = git(&manifest_dir, &["rev-parse", "--show-toplevel"])?;
    let same =
        Path::new(&top).canonicalize().ok()? == Path::new(&manifest_dir).canonicalize().ok()?;
    if !same {
        return None;
    }
    // Rebuild when HEAD moves: HEAD itself (a branch switch), the branch's loose ref, and
    // packed-refs. Only existing files: cargo treats a missing one as always changed.
    let git_dir = git(&manifest_dir, &["rev-parse", "--absolute-git-dir"])?;
    let common = git(&manifest_dir, &["rev-parse", "--git-common-dir"])?;
    let common = Path::new(&manifest_dir).join(common);
    let mut watched = vec![Path::new(&git_dir).join("HEAD"), common.join("packed-refs")];
    if let Some(branch) = git(&manifest_dir, &["symbolic-ref", "-q", "HEAD"]) {
        watched.push(common.join(branch));
    }
    for path in watched.iter().filter(|p| p.is_file()) {
        println!("cargo:rerun-if-changed={}", path.display());
    }
    git(&manifest_dir, &["rev-parse", "HEAD"])
}

/// Output of `git ARGS` run in `dir`, trimmed; None when git is missing or fails.
fn git(dir: &str, args: &[&str]) -> Option<String> {
    let out = Command::new("git")
        .arg("-C")
        .arg(dir)
        .args(args)
        .output()
        .ok()?;
    let text = String::from_utf8(out.stdout).ok()?;
    (out.status.success() && !text.trim().is_empty()).then(|| text.trim().to_string())
}
