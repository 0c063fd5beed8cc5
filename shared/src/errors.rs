//! The one rendering of an error with its causes, for logs and operator output.

use std::error::Error;

/// `e` and each of its sources, outermost first, joined by `": "` (`reading x: permission denied`).
///
/// Errors here keep their cause as `#[source]` rather than repeating it in their message, so the log
/// gets the whole chain only through this.
pub fn chain(e: &dyn Error) -> String {
    std::iter::successors(Some(e), |&e| e.source()).map(ToString::to_string).collect::<Vec<_>>().join(": ")
}

#[cfg(test)]
mod tests {
    use super::chain;

    #[derive(Debug, thiserror::Error)]
    #[error("outer")]
    struct Outer(#[source] Middle);

    #[derive(Debug, thiserror::Error)]
    #[error("middle")]
    struct Middle(#[source] std::io::Error);

    #[test]
    fn every_cause_is_rendered_outermost_first() {
        let e = Outer(Middle(std::io::Error::other("inner")));
        assert_eq!(chain(&e), "outer: middle: inner");
        assert_eq!(chain(&std::io::Error::other("alone")), "alone");
    }
}
