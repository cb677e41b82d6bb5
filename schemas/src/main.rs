//! Regenerates `schemas/json/` from the Rust types: `cargo run -p buildwire-schemas`.

fn main() -> std::process::ExitCode {
    let dir = buildwire_schemas::schema_files::dir();
    match buildwire_schemas::schema_files::write_all(&dir) {
        Ok(changed) if changed.is_empty() => println!("schemas: {} is up to date", dir.display()),
        Ok(changed) => println!("schemas: rewrote {}", changed.join(", ")),
        Err(err) => {
            eprintln!("schemas: cannot write {}: {err}", dir.display());
            return std::process::ExitCode::FAILURE;
        }
    }
    std::process::ExitCode::SUCCESS
}
