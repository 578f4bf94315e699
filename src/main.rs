fn main() -> std::process::ExitCode {
    blo::cli::main()
}
