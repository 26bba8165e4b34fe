//! `whistle token --name NAME --role ROLE...`: a new bearer token and the
//! config lines that grant it.

use clap::Args;
use rand::RngExt;
use sha2::{Digest, Sha256};

use super::{CANNOT_RUN, OK};

/// Arguments of `whistle token`.
#[derive(Args)]
pub struct TokenArgs {
    /// Who will hold it.
    #[arg(long, value_parser = holder_name)]
    pub name: String,
    /// Roles: reporter, handler, officer, viewer (repeat the flag for several).
    #[arg(long = "role", required = true, value_parser = ["reporter", "handler", "officer", "viewer"])]
    pub roles: Vec<String>,
}

/// A holder's name as the config and every log line will show it: some
/// text, on one line.
fn holder_name(s: &str) -> Result<String, String> {
    if s.trim().is_empty() {
        return Err("the name is empty; say who will hold the token".into());
    }
    if s.chars().any(char::is_control) {
        return Err(
            "the name has a control character (a line break?); use one line of text".into(),
        );
    }
    Ok(s.to_string())
}

/// Prints the token (to hand to its holder) and the TOML to add to the config.
pub fn run(a: &TokenArgs) -> u8 {
    use std::io::Write as _;
    let bytes: [u8; 32] = rand::rng().random();
    let text = render(&a.name, &a.roles, &hex::encode(bytes));
    // The token is shown once: one that could not be written is a failure,
    // not a token handed to nobody.
    let mut out = std::io::stdout().lock();
    match out.write_all(text.as_bytes()).and_then(|()| out.flush()) {
        Ok(()) => OK,
        Err(e) => {
            say!("error: the token could not be written out ({e}); none was made");
            CANNOT_RUN
        }
    }
}

/// The token with its holder's config lines.
fn render(name: &str, roles: &[String], token: &str) -> String {
    let hash = hex::encode(Sha256::digest(token.as_bytes()));
    let mut granted: Vec<String> = Vec::new();
    for r in roles {
        let quoted = format!("\"{r}\"");
        // `--role viewer --role viewer` grants one role.
        if !granted.contains(&quoted) {
            granted.push(quoted);
        }
    }
    format!(
        "# token for {name} (give it to them; it is not stored anywhere):\n# {token}\n# they send it with every request: `Authorization: Bearer {token}`\n\n[[tokens]]\nname = {name:?}\nsha256 = \"{hash}\"\nroles = [{}]\n",
        granted.join(", ")
    )
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;

    /// What is printed is a config that grants the token: the server reads
    /// it back with the holder's name and each role once.
    #[test]
    fn the_printed_lines_are_a_config_that_grants_the_token() {
        let roles = ["viewer", "officer", "viewer"].map(String::from);
        let text = render("王 \"五\"", &roles, "secret");
        assert!(
            text.contains("`Authorization: Bearer secret`"),
            "it says how the token is sent: {text}"
        );
        let c = crate::config::Config::parse(&text).unwrap();
        assert_eq!(c.tokens.len(), 1);
        assert_eq!(c.tokens[0].name, "王 \"五\"");
        assert_eq!(c.tokens[0].roles.len(), 2);
        let auth = crate::api::auth::Auth::new(&c.tokens);
        assert!(auth.check(Some("Bearer secret"), None).is_ok());
    }

    #[test]
    fn a_name_is_some_text_on_one_line() {
        assert!(holder_name("李四").is_ok());
        assert!(holder_name("  ").unwrap_err().contains("empty"));
        assert!(
            holder_name("a\nb")
                .unwrap_err()
                .contains("control character")
        );
    }
}
