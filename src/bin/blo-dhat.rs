//! The operator under the dhat heap profiler (`--features dhat-heap`), for the memory bench:
//! `hack/profile-heap.sh` runs it in place of the controller and summarises dhat-heap.json,
//! written when the process exits (SIGTERM shuts the controller down gracefully).

#[global_allocator]
static ALLOC: dhat::Alloc = dhat::Alloc;

fn main() -> std::process::ExitCode {
    let _profiler = dhat::Profiler::new_heap();
    blo::cli::main()
}
