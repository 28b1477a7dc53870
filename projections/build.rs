// `sqlx::migrate!` embeds the migration folders at compile time; without this a new
// migration file would not reach the binary until something else forced a rebuild.
fn main() {
    println!("cargo:rerun-if-changed=../migrations/sqlite/read");
    println!("cargo:rerun-if-changed=../migrations/mysql");
}
