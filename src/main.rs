#![allow(dead_code)] // modules are wired up issue by issue
//! rinit: a PID 1 for containers and virtual machines.
//!
//! This file is the command line (DESIGN §1): it parses the arguments, sets up rinit's
//! own logging on stderr, and hands over to the supervisor. Exit status 2 means a usage or
//! configuration error before anything started.

mod config;
mod graph;
mod pattern;
mod pidfd;
mod proctree;
mod shutdown;
mod signals;
mod spawn;
mod supervisor;

use std::io::Write;

const USAGE: &str = "\
usage: rinit [-c PATH] [--vm] [-- COMMAND [ARG...]]   run as init
       rinit --help | --version

Runs COMMAND as the main service, reaps every zombie, forwards signals to it, and on
SIGTERM, SIGINT, SIGPWR or SIGRTMIN+3 stops everything, children before parents.
rinit exits with COMMAND's status (128+N if signal N killed it).

environment: RINIT_LOG (log filter, default info)";

/// A usage or configuration error: printed on stderr, exit status 2.
const EXIT_USAGE: i32 = 2;

/// What the command line asks for.
#[derive(Debug, PartialEq, Eq)]
enum Cli {
    Help,
    Version,
    Init {
        config: Option<String>,
        vm: bool,
        command: Vec<String>,
    },
}

fn parse_args(args: &[String]) -> Result<Cli, String> {
    let mut config = None;
    let mut vm = false;
    let mut iter = args.iter();
    while let Some(arg) = iter.next() {
        match arg.as_str() {
            "-h" | "--help" => return Ok(Cli::Help),
            "-V" | "--version" => return Ok(Cli::Version),
            "--vm" => vm = true,
            "-c" | "--config" => {
                config = Some(iter.next().ok_or("-c needs a PATH")?.clone());
            }
            "--" => {
                let command: Vec<String> = iter.cloned().collect();
                if command.is_empty() {
                    return Err("-- needs a COMMAND".into());
                }
                return Ok(Cli::Init {
                    config,
                    vm,
                    command,
                });
            }
            other => return Err(format!("unexpected argument {other:?}")),
        }
    }
    if config.is_none() {
        return Err("nothing to run: give -- COMMAND or a configuration".into());
    }
    Ok(Cli::Init {
        config,
        vm,
        command: Vec::new(),
    })
}

fn init_logging() {
    let filter = std::env::var("RINIT_LOG").unwrap_or_else(|_| "info".to_string());
    env_logger::Builder::new()
        .parse_filters(&filter)
        .format(|buf, record| {
            let level = match record.level() {
                log::Level::Error => "error: ",
                log::Level::Warn => "warning: ",
                _ => "",
            };
            writeln!(buf, "rinit: {level}{}", record.args())
        })
        .target(env_logger::Target::Stderr)
        .init();
}

fn main() {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let code = match parse_args(&args) {
        Ok(Cli::Help) => {
            println!("{USAGE}");
            0
        }
        Ok(Cli::Version) => {
            println!("rinit {}", env!("CARGO_PKG_VERSION"));
            0
        }
        Ok(Cli::Init {
            config: Some(path), ..
        }) => {
            eprintln!("rinit: configuration files are not supported yet: {path}");
            EXIT_USAGE
        }
        Ok(Cli::Init { command, .. }) => {
            init_logging();
            run_init(&command)
        }
        Err(msg) => {
            eprintln!("rinit: {msg}\n\n{USAGE}");
            EXIT_USAGE
        }
    };
    std::process::exit(code);
}

fn run_init(command: &[String]) -> i32 {
    let mut sup = match supervisor::Supervisor::new() {
        Ok(s) => s,
        Err(e) => {
            eprintln!("rinit: cannot set up signal handling: {e}");
            return 1;
        }
    };
    if let Err(e) = sup.start_main(command) {
        log::error!("{e}");
        return 1;
    }
    sup.run()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn args(s: &[&str]) -> Vec<String> {
        s.iter().map(|a| a.to_string()).collect()
    }

    #[test]
    fn parses_command_lines() {
        assert_eq!(
            parse_args(&args(&["--", "sh", "-c", "exit 3"])),
            Ok(Cli::Init {
                config: None,
                vm: false,
                command: args(&["sh", "-c", "exit 3"])
            })
        );
        assert_eq!(parse_args(&args(&["--help"])), Ok(Cli::Help));
        assert!(parse_args(&args(&[])).is_err());
        assert!(parse_args(&args(&["--"])).is_err());
        assert!(parse_args(&args(&["sh"])).is_err());
        assert!(parse_args(&args(&["-c"])).is_err());
    }
}
