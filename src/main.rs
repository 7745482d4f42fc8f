//! The `tinkex` binary: parse, run, and turn the outcome into an exit code.

fn main() {
    std::process::exit(tinkex::cli::main());
}
