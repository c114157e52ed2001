//! The theme render worker for tests: the app under test runs inside a test harness, which
//! cannot be started again as `storefront theme-worker`, so [`TestApp`] names this binary
//! instead. The same allocator as `storefront`, as the worker's memory limit depends on how
//! it reserves memory.
//!
//! [`TestApp`]: storefront_tests::TestApp

#[global_allocator]
static GLOBAL: mimalloc::MiMalloc = mimalloc::MiMalloc;

fn main() -> std::process::ExitCode {
    platform::theme::worker::main()
}
