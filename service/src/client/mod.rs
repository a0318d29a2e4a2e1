//! Client-side helpers shared by gunyahctl and the tests: connecting, guest memory as sealed
//! memfds, a minimal VM config.

pub mod connect;
pub mod demo;
pub mod memfd;
