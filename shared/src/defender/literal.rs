//! What the two query builders ([`super::odata`] and [`super::kql`]) share: which Rust values become
//! a query literal, and as which variant.
//!
//! Each language writes its own literals (OData doubles `'`, KQL backslash-escapes inside `"`); what
//! is the same is the set of typed values a caller may pass: text, the string ids of [`crate::ids`]
//! (their `Display` is the id as the service spells it) and plain scalars. One list here means an id
//! newtype added for one builder is a literal in both.

/// `From<$t>` for a literal enum, each wrapping the value in the named variant (`via` a wider type
/// first where the variant holds one: `i32 => Int via i64`).
macro_rules! literal_from {
    ($lit:ty { $($t:ty => $variant:ident $(via $via:ty)?),+ $(,)? }) => {
        $(impl From<$t> for $lit {
            fn from(v: $t) -> Self {
                Self::$variant($crate::defender::literal::literal_from!(@conv v $(, $via)?))
            }
        })+
    };
    (@conv $v:ident) => {
        $v
    };
    (@conv $v:ident, $via:ty) => {
        <$via>::from($v)
    };
}

/// `From<&str>`, `From<&String>` and `From<&Id>` for every string id, into the enum's `Str` variant.
macro_rules! literal_from_text {
    ($lit:ty) => {
        $crate::defender::literal::literal_from_text!(@each $lit:
            str,
            String,
            $crate::ids::MachineId,
            $crate::ids::AlertId,
            $crate::ids::ActionId,
            $crate::ids::Sha1,
            $crate::ids::Sha256,
            $crate::ids::Md5,
            $crate::ids::DomainName,
            $crate::ids::Hostname,
            $crate::ids::AccountName,
            std::net::IpAddr
        );
    };
    (@each $lit:ty: $($t:ty),+) => {
        $(impl From<&$t> for $lit {
            fn from(v: &$t) -> Self {
                Self::Str(v.to_string())
            }
        })+
    };
}

pub(crate) use {literal_from, literal_from_text};
