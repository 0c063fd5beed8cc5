//! Configuration from the environment. (The config work fills this module.)
