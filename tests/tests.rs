//! End-to-end tests: the real `netrare` binary on the checked-in fleet fixture.

mod util;

mod run;
mod backfill;
mod crash;
mod cli;
mod demo;
mod evaluate;
mod ingest;
mod jobs;
