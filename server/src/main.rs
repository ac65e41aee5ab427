/// mimalloc rather than glibc's allocator: with a large config snapshot in memory (10,000 workspaces),
/// glibc's free lists fragment and every rebuild spends most of its time in `malloc` (measured: about 40% of
/// the CPU of a change; mimalloc halves the time a change takes to be served, `scripts/bench/run`).
#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

fn main() -> std::process::ExitCode {
    server::cli::main()
}
