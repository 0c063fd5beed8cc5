//! The tenant registry. (The config work fills this module.)
