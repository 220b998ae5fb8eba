//! Every integration test of tessera-core, in one test binary (one link of the crate graph):
//! the conformance suite on the in-memory store, and the rotation rules of the engine, by
//! example and as a property. `common` is the engine harness with a controllable clock.
mod common;

mod memory_conformance;
mod mfa;
mod passkeys;
mod rotation;
mod rotation_properties;
