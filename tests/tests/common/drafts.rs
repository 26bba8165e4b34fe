//! A copy of the shipped policy to edit, and the change the rollout tests
//! make to it: neighbour noise moves from the grid work station to the
//! residents' committee.

use std::path::{Path, PathBuf};

use super::{copy_dir, root};

/// The file the tests edit.
pub const ORDER: &str = "categories/order.whistle";
/// The lead line of `neighbour_noise` in the shipped policy.
pub const LEAD_A: &str = "lead   grid_team";
/// The same line after the change.
pub const LEAD_B: &str = "lead   committee";

/// A copy of the shipped policy to edit, and a data directory beside it
/// (not created): the temporary directory, the bundle, the data.
pub fn setup() -> (tempfile::TempDir, PathBuf, PathBuf) {
    let tmp = tempfile::tempdir().unwrap();
    let policy = tmp.path().join("policy");
    copy_dir(&root().join("policies/wuhou"), &policy);
    let data = tmp.path().join("data");
    (tmp, policy, data)
}

/// The text of [`ORDER`] in a bundle, as it is on disk.
pub fn order_text(policy: &Path) -> String {
    std::fs::read_to_string(policy.join(ORDER)).unwrap()
}
