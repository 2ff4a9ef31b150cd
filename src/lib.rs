//! rinit as a library: every module of the init, so that the binary (`src/main.rs`) and
//! the fuzz targets (`fuzz/`) share one implementation. Nothing here is a stable API.

pub mod alloc;
pub mod census;
pub mod cgroup;
pub mod clone;
pub mod config;
pub mod control;
pub mod graph;
pub mod health;
pub mod import;
pub mod logs;
pub mod notify;
pub mod pattern;
pub mod pidfd;
pub mod pidhash;
pub mod probe;
pub mod process;
pub mod proctree;
pub mod ready;
pub mod service;
pub mod shutdown;
pub mod signals;
pub mod spawn;
pub mod stack;
pub mod supervisor;
pub mod sweep;
pub mod sysinit;
pub mod users;
