//! What the sources and the engine share, so neither reaches into the other: the bounded
//! record queue between them ([`queue`]), the ingest counters sources write and the engine
//! reads ([`counters`]), the source board ([`sources`]) and the clock records are stamped
//! with ([`clock`]), the user's folders ([`folders`]) and warnings that repeat per item ([`repeated`]). It depends on the model's record types only; `ingest` and `engine` both
//! depend on it (see the layer table in `docs/architecture.md`).

pub mod clock;
pub mod counters;
pub mod folders;
pub mod queue;
pub mod repeated;
pub mod sources;
