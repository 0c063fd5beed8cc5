//! Clouds and their hosts. (The config work fills the full table.)

/// A Microsoft cloud.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default)]
pub enum Cloud {
    /// Commercial (worldwide).
    #[default]
    Commercial,
    /// US Government Community Cloud.
    Gcc,
    /// GCC High.
    GccHigh,
    /// Department of Defense.
    Dod,
}

/// An API family: decides the token audience, the host and the error envelope.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum ApiFamily {
    /// Defender for Endpoint.
    Mde,
    /// Defender XDR.
    Xdr,
    /// Microsoft Graph.
    Graph,
    /// Azure Key Vault.
    KeyVault,
}
