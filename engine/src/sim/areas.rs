//! The simulated district's area tree: the policy's own, one read from a
//! file, or one generated to a size.

use std::sync::Arc;

use whistle_grammar::areas::{AreaTree, Community, District, Street};

use crate::model::AreaIndex;

/// A tree of `districts` × `streets` × `communities` × `grids`, with ids in
/// the shipped district's style: `D01`, `S01`, `C0101`, `G010101` (longer
/// districts get a district prefix so that ids stay unique).
pub fn generate(districts: u32, streets: u32, communities: u32, grids: u32) -> AreaTree {
    let prefix = |d: u32| {
        if districts > 1 {
            format!("{d:02}")
        } else {
            String::new()
        }
    };
    AreaTree {
        districts: (1..=districts)
            .map(|d| District {
                id: format!("D{d:02}"),
                name: None,
                streets: (1..=streets)
                    .map(|s| {
                        let p = prefix(d);
                        Street {
                            id: format!("S{p}{s:02}"),
                            name: None,
                            communities: (1..=communities)
                                .map(|c| Community {
                                    id: format!("C{p}{s:02}{c:02}"),
                                    name: None,
                                    grids: (1..=grids)
                                        .map(|g| format!("G{p}{s:02}{c:02}{g:02}"))
                                        .collect(),
                                })
                                .collect(),
                        }
                    })
                    .collect(),
            })
            .collect(),
    }
}

/// The grid ids of an index, sorted (the generator's fixed order).
pub fn grids(idx: &AreaIndex) -> Vec<Arc<str>> {
    let mut g: Vec<Arc<str>> = idx.grids.keys().map(|k| Arc::from(&**k)).collect();
    g.sort();
    g
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn generated_trees_have_the_shipped_id_style() {
        let t = generate(1, 2, 3, 4);
        assert_eq!(t.counts(), [1, 2, 6, 24]);
        let idx = AreaIndex::of(&t);
        let u = &idx.grids["G010304"];
        assert_eq!(u[1].as_deref(), Some("C0103"));
        assert_eq!(u[2].as_deref(), Some("S01"));
        assert_eq!(u[3].as_deref(), Some("D01"));
        let two = generate(2, 1, 1, 1);
        assert_eq!(grids(&AreaIndex::of(&two)).len(), 2);
        assert!(AreaIndex::of(&two).grids.contains_key("G02010101"));
    }
}
