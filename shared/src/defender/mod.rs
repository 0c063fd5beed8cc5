//! The Defender client. (The client work fills this module.)
