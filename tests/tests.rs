//! End-to-end tests: the real `netrare` binary on the checked-in fleet fixture.

mod util;

mod architecture;
mod backfill;
mod cli;
mod clock;
mod crash;
mod demo;
mod evaluate;
mod ingest;
mod jobs;
mod layouts;
mod leaf_order;
mod new_terms;
mod objects;
mod outputs;
mod renormalization;
mod results;
mod run;
mod snapshot;
mod spark;
mod triage;
