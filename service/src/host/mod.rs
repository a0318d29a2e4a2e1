//! Host-only plumbing of the service: the socket it listens on and the diagnostics route.

pub mod diag_socket;
pub mod socket;
