#![no_std]

#[cfg(feature = "kernel")]
pub mod illumos;
