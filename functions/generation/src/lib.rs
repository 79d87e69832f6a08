//! AI generation: the providers that do the work behind one trait.
//! The jobs API and the queue worker build on them.

pub mod providers;
