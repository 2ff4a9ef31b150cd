//! rinit: a PID 1 for containers and virtual machines.
//!
//! This file is the command line (DESIGN §1): it parses the arguments, sets up rinit's
//! own logging on stderr, and hands over to the supervisor. Exit status 2 means a usage or
//! configuration error before anything started.

use std::ffi::OsString;
use std::io::Write;
use std::path::PathBuf;

use rinit::{config, control, stack, supervisor, sysinit};

/// The allocator: malloc behind a cache of freed small blocks (see `rinit::alloc`).
#[global_allocator]
static ALLOCATOR: rinit::alloc::BlockCache = rinit::alloc::BlockCache::new();

const USAGE: &str = "\
usage: rinit [-c PATH] [--vm] [-- COMMAND [ARG...]]   run as init
       rinit check [-c PATH]                          validate a configuration
       rinit ctl [-s SOCKET] [--json] COMMAND [NAME] [SIGNAL]   talk to a running rinit
       rinit import supervisord FILE...               print a supervisord configuration as rinit TOML
       rinit --help | --version

Starts the services of the configuration (a TOML file or a directory of them) in
dependency order, and COMMAND as the critical service `main` after them; reaps every
zombie; forwards signals to main; and on SIGTERM, SIGINT, SIGPWR or SIGRTMIN+3 stops
everything, dependents first and children before parents. rinit exits with main's
status (128+N if signal N killed it), or 0.

-c PATH defaults to $RINIT_CONFIG, else /etc/rinit/rinit.toml, else /etc/rinit/rinit.d/.
environment: RINIT_LOG (log filter, default info)";

/// A usage or configuration error: printed on stderr, exit status 2.
const EXIT_USAGE: i32 = 2;

/// What the command line asks for.
#[derive(Debug, PartialEq, Eq)]
enum Cli {
    Help,
    Version,
    Check {
        config: Option<PathBuf>,
    },
    Ctl(Vec<String>),
    Import {
        files: Vec<PathBuf>,
    },
    Init {
        config: Option<PathBuf>,
        vm: bool,
        command: Vec<OsString>,
    },
}

/// Parse the command line. Arguments are bytes: COMMAND and paths pass through exactly,
/// whatever their encoding; only rinit's own words must be what they say.
fn parse_args(args: &[OsString]) -> Result<Cli, String> {
    let word = |i: usize| args.get(i).and_then(|a| a.to_str());
    if word(0) == Some("ctl") {
        let rest = args.get(1..).unwrap_or_default();
        let rest = rest.iter().map(|a| a.to_string_lossy().into_owned());
        return Ok(Cli::Ctl(rest.collect()));
    }
    if word(0) == Some("import") {
        return match args.get(1..).unwrap_or_default() {
            [from, files @ ..] if from == "supervisord" && !files.is_empty() => Ok(Cli::Import {
                files: files.iter().map(PathBuf::from).collect(),
            }),
            _ => Err("usage: rinit import supervisord FILE...".into()),
        };
    }
    if word(0) == Some("check") {
        return match args.get(1..).unwrap_or_default() {
            [] => Ok(Cli::Check { config: None }),
            [flag, path] if flag == "-c" || flag == "--config" => Ok(Cli::Check {
                config: Some(PathBuf::from(path)),
            }),
            _ => Err("usage: rinit check [-c PATH]".into()),
        };
    }
    let mut config = None;
    let mut vm = false;
    let mut iter = args.iter();
    while let Some(arg) = iter.next() {
        match arg.to_str().unwrap_or_default() {
            "-h" | "--help" => return Ok(Cli::Help),
            "-V" | "--version" => return Ok(Cli::Version),
            "--vm" => vm = true,
            "-c" | "--config" => {
                config = Some(PathBuf::from(iter.next().ok_or("-c needs a PATH")?));
            }
            "--" => {
                let command: Vec<OsString> = iter.cloned().collect();
                if command.is_empty() {
                    return Err("-- needs a COMMAND".into());
                }
                return Ok(Cli::Init {
                    config,
                    vm,
                    command,
                });
            }
            _ => return Err(format!("unexpected argument {arg:?}")),
        }
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
        // Lines are queued, and the event loop writes them when stderr can take them: a
        // stuck stderr must never stall PID 1.
        .target(env_logger::Target::Pipe(Box::new(
            rinit::logs::QueueWriter::default(),
        )))
        .init();
}

fn main() {
    let args: Vec<OsString> = std::env::args_os().skip(1).collect();
    let parsed = parse_args(&args);
    // As the kernel's init, rinit must never exit: even a usage error powers off.
    let kernel_init = std::process::id() == 1 && sysinit::detect_vm(false);
    if let (true, Err(msg)) = (kernel_init, &parsed) {
        sysinit::fatal(msg);
    }
    if !matches!(parsed, Ok(Cli::Init { .. })) {
        // The command-line tools (check, ctl, help) end quietly when their reader goes
        // away (`rinit check | head`), like any Unix tool; only init ignores SIGPIPE.
        rinit::signals::set_action(libc::SIGPIPE, libc::SIG_DFL);
    }
    let code = match parsed {
        Ok(Cli::Help) => {
            println!("{USAGE}");
            0
        }
        Ok(Cli::Version) => {
            println!("rinit {}", env!("CARGO_PKG_VERSION"));
            0
        }
        Ok(Cli::Check { config }) => check(config),
        Ok(Cli::Ctl(args)) => control::client(&args),
        Ok(Cli::Import { files }) => import(&files),
        Ok(Cli::Init {
            config,
            command,
            vm,
        }) => {
            init_logging();
            if vm && std::process::id() != 1 {
                eprintln!("rinit: --vm needs rinit to be PID 1");
                std::process::exit(EXIT_USAGE);
            }
            let vm = vm || kernel_init;
            let path = config.or_else(config::default_path);
            match build_config(path.clone(), command.clone()) {
                Ok(cfg) => run_init(cfg, path, command, vm),
                Err(msg) if vm => sysinit::fatal(&msg),
                Err(msg) => {
                    eprintln!("rinit: {msg}");
                    EXIT_USAGE
                }
            }
        }
        Err(msg) => {
            eprintln!("rinit: {msg}\n\n{USAGE}");
            EXIT_USAGE
        }
    };
    // rinit's last log lines may wait a little for a slow stderr, not forever.
    let until = std::time::Instant::now() + std::time::Duration::from_secs(1);
    rinit::logs::rinit_lines().flush_until(until);
    // Straight out: std's and libc's exit paths would only undo, one system call at a
    // time, what the kernel takes at once (the main thread's signal stack, buffers that
    // are empty by now) — in the latency of every stop.
    let _ = std::io::Write::flush(&mut std::io::stdout());
    // SAFETY: nothing is left to run or flush: every buffer was written above.
    unsafe { libc::_exit(code) }
}

/// Load the configuration (from -c, or the default places), print its warnings.
fn load_config(path: Option<PathBuf>) -> Result<Option<config::Config>, String> {
    let Some(path) = path.or_else(config::default_path) else {
        return Ok(None);
    };
    let loaded = config::load(&path).map_err(|e| e.to_string())?;
    for w in &loaded.warnings {
        eprintln!("rinit: warning: {w}");
    }
    Ok(Some(loaded.config))
}

/// The configuration to run: the files, plus `-- COMMAND` as service `main`.
fn build_config(path: Option<PathBuf>, command: Vec<OsString>) -> Result<config::Config, String> {
    let loaded = load_config(path)?;
    if loaded.is_none() && command.is_empty() {
        return Err(format!(
            "nothing to run: give -- COMMAND or a configuration\n\n{USAGE}"
        ));
    }
    let mut cfg = loaded.unwrap_or_default();
    if !command.is_empty() {
        cfg = cfg.with_main(command)?;
    }
    cfg.require_exec().map_err(|e| e.to_string())?;
    if cfg.services.is_empty() {
        return Err("the configuration has no services".into());
    }
    Ok(cfg)
}

fn run_init(cfg: config::Config, path: Option<PathBuf>, command: Vec<OsString>, vm: bool) -> i32 {
    if vm {
        sysinit::early_boot(cfg.rinit.hostname.as_deref());
    }
    // `reload` and SIGHUP read the same files again, with the same `-- COMMAND`.
    let reloader = Box::new(move || build_config(path.clone(), command.clone()));
    match supervisor::Supervisor::new(cfg, reloader, vm) {
        Ok(mut sup) => {
            // A stop's first signal must not wait for a fresh stack page.
            stack::make_present();
            let code = sup.run();
            if vm {
                sysinit::finish(sup.power_action());
            }
            // Its sockets' files are removed and its cgroups too (`finish`); the rest —
            // memory, fds — goes with the process at exit, all at once, instead of
            // being freed and closed one by one on the way out of a stop.
            std::mem::forget(sup);
            code
        }
        Err(e) if vm => sysinit::fatal(&e),
        Err(e) => {
            eprintln!("rinit: {e}");
            EXIT_USAGE
        }
    }
}

/// `rinit import supervisord FILE…`: the TOML on stdout, or the error on stderr (2).
fn import(files: &[PathBuf]) -> i32 {
    // `%(here)s` is the file's absolute directory, as in supervisord.
    let cwd = std::env::current_dir().unwrap_or_default();
    let environ = |name: &str| std::env::var(name).ok();
    match rinit::import::supervisord(files, &rinit::import::sources::Disk, &cwd, &environ) {
        Ok(toml) => {
            print!("{toml}");
            0
        }
        Err(msg) => {
            eprintln!("rinit: {msg}");
            EXIT_USAGE
        }
    }
}

/// `rinit check`: validate, then print the start and stop waves.
fn check(path: Option<PathBuf>) -> i32 {
    let cfg = match load_config(path) {
        Ok(Some(cfg)) => cfg,
        Ok(None) => {
            eprintln!("rinit: no configuration found (give -c PATH or set RINIT_CONFIG)");
            return EXIT_USAGE;
        }
        Err(msg) => {
            eprintln!("rinit: {msg}");
            return EXIT_USAGE;
        }
    };
    // Run as non-root (the container's user), `user`/`group` cannot work: say so now.
    let as_user = !rinit::users::is_root();
    for svc in cfg.services.iter().filter(|_| as_user) {
        let creds = match (&svc.user, &svc.group) {
            (None, None) => continue,
            (Some(user), group) => rinit::users::resolve(user, group.as_deref()),
            (None, Some(group)) => {
                rinit::users::resolve(&nix::unistd::getuid().to_string(), Some(group))
            }
        };
        // A name this machine does not know is the image's business, not check's.
        let problem = creds
            .ok()
            .and_then(|c| rinit::users::switch_needs_root(&c, svc));
        if let Some(problem) = problem {
            let e =
                config::ConfigError::at(&svc.origin, format!("service {:?}: {problem}", svc.name));
            eprintln!("rinit: {e}");
            return EXIT_USAGE;
        }
    }
    let graph = match cfg.graph() {
        Ok(g) => g,
        Err(e) => {
            eprintln!("rinit: {e}");
            return EXIT_USAGE;
        }
    };
    let names = |wave: &[usize]| -> String {
        let names: Vec<&str> = wave
            .iter()
            .filter_map(|&i| cfg.services.get(i).map(|s| s.name.as_str()))
            .collect();
        names.join(" ")
    };
    println!("configuration OK: {} service(s)", cfg.services.len());
    println!("start waves:");
    for (n, wave) in graph.start_waves().iter().enumerate() {
        println!("  {}: {}", n + 1, names(wave));
    }
    println!("stop waves (an overview: each service stops once its own dependents have):");
    for (n, wave) in graph.stop_waves().iter().enumerate() {
        println!("  {}: {}", n + 1, names(wave));
    }
    0
}

#[cfg(test)]
mod tests {
    use super::*;

    fn args(s: &[&str]) -> Vec<OsString> {
        s.iter().map(OsString::from).collect()
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
        assert_eq!(
            parse_args(&args(&["check", "-c", "x.toml"])),
            Ok(Cli::Check {
                config: Some("x.toml".into())
            })
        );
        // Bytes that are not UTF-8 pass through as they are.
        use std::os::unix::ffi::OsStrExt;
        let odd = std::ffi::OsStr::from_bytes(b"\xff\xfe").to_os_string();
        let mut line = args(&["--", "sh", "-c", "echo"]);
        line.push(odd.clone());
        match parse_args(&line) {
            Ok(Cli::Init { command, .. }) => assert_eq!(command.last(), Some(&odd)),
            other => panic!("{other:?}"),
        }
        assert!(
            parse_args(&[odd]).is_err(),
            "an unknown word is an error, not a panic"
        );
        assert!(parse_args(&args(&["check", "x"])).is_err());
        assert_eq!(
            parse_args(&args(&["import", "supervisord", "a.conf", "b.conf"])),
            Ok(Cli::Import {
                files: vec![PathBuf::from("a.conf"), PathBuf::from("b.conf")]
            })
        );
        assert!(parse_args(&args(&["import", "supervisord"])).is_err());
        assert!(parse_args(&args(&["import", "s6", "x"])).is_err());
        assert!(parse_args(&args(&["--"])).is_err());
        assert!(parse_args(&args(&["sh"])).is_err());
        assert!(parse_args(&args(&["-c"])).is_err());
    }
}
