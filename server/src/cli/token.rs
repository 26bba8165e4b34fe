//! `whistle token --name NAME --role ROLE...`: a new bearer token and the
//! config lines that grant it.

use clap::Args;
use rand::RngExt;
use sha2::{Digest, Sha256};

use super::OK;

/// Arguments of `whistle token`.
#[derive(Args)]
pub struct TokenArgs {
    /// Who will hold it.
    #[arg(long)]
    pub name: String,
    /// Roles: reporter, handler, officer, viewer (repeat the flag for several).
    #[arg(long = "role", required = true, value_parser = ["reporter", "handler", "officer", "viewer"])]
    pub roles: Vec<String>,
}

/// Prints the token (to hand to its holder) and the TOML to add to the config.
pub fn run(a: &TokenArgs) -> u8 {
    let bytes: [u8; 32] = rand::rng().random();
    let token = hex::encode(bytes);
    let hash = hex::encode(Sha256::digest(token.as_bytes()));
    let roles: Vec<String> = a.roles.iter().map(|r| format!("\"{r}\"")).collect();
    println!(
        "# token for {} (give it to them; it is not stored anywhere):\n# {token}\n",
        a.name
    );
    println!(
        "[[tokens]]\nname = {:?}\nsha256 = \"{hash}\"\nroles = [{}]",
        a.name,
        roles.join(", ")
    );
    OK
}
