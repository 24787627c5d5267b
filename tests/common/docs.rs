//! The README and the pages of docs/, as the tests that hold them to what
//! the code does read them: one reader, one section finder.

use super::bin;

/// A page of the checkout: `README.md` or `docs/NAME.md`.
pub fn page(name: &str) -> String {
    let path = bin::repo().join(name);
    std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("{}: {e}", path.display()))
}

/// The `## heading...` section of `text` (heading line included, up to the
/// next `## `); fails the test when `page` has none.
pub fn section<'a>(text: &'a str, page: &str, heading: &str) -> &'a str {
    text.split("\n## ")
        .find(|s| s.starts_with(heading))
        .unwrap_or_else(|| panic!("{page} has a \"## {heading}\" section"))
}
