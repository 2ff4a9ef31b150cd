#!/usr/bin/env bash
# Fills fuzz/corpus/TARGET/ with starting inputs: the checked-in seeds (fuzz/seeds/TARGET/),
# the crashes kept as regressions (fuzz/regressions/TARGET/), the project's example configs,
# the supervisord configurations of tests/fixtures/supervisord/
# and the TOML snippets of src/config/tests.rs's tests, and captures of /proc from this machine.
# Adds to what the corpus already holds (what earlier runs found is kept): `rm -rf
# fuzz/corpus` to start over. Needs nothing but coreutils; perl for the config snippets.
set -euo pipefail
fuzz="$(cd "$(dirname "$0")" && pwd)"
root="$(dirname "$fuzz")"
corpus="$fuzz/corpus"
targets=(config config_dir proc_stat proc_net notify control supervisord)

for t in "${targets[@]}"; do
    mkdir -p "$corpus/$t"
    for d in "$fuzz/seeds/$t" "$fuzz/regressions/$t"; do
        if [ -d "$d" ]; then
            find "$d" -maxdepth 1 -type f -exec cp -f {} "$corpus/$t/" \;
        fi
    done
done

# The example configs, alone and (for config_dir) two by two as one directory.
configs=("$root"/configs/*.toml)
if [ -e "${configs[0]}" ]; then
    for f in "${configs[@]}"; do
        cp -f "$f" "$corpus/config/example-$(basename "$f")"
        cp -f "$f" "$corpus/config_dir/example-$(basename "$f")"
    done
    n=${#configs[@]}
    for ((i = 0; i + 1 < n; i++)); do
        { cat "${configs[$i]}"; printf '\n---\n'; cat "${configs[$((i + 1))]}"; } \
            > "$corpus/config_dir/examples-$i-$((i + 1)).toml"
    done
fi

# The real supervisord configurations of tests/fixtures/supervisord/.
find "$root/tests/fixtures/supervisord" -type f -name '*.conf' 2>/dev/null | while read -r f; do
    cp -f "$f" "$corpus/supervisord/fixture-$(basename "$(dirname "$f")")-$(basename "$f")"
done

# The TOML snippets of src/config/tests.rs's tests: raw strings (r#"…"#) and ordinary string
# literals (escapes undone) that hold a table header; key lines without one get the header
# of the tests' `service_with`.
if command -v perl >/dev/null 2>&1 && [ -f "$root/src/config/tests.rs" ]; then
    perl -0777 -ne '
        my $dir = $ARGV; $dir =~ s{/src/config/tests\.rs$}{/fuzz/corpus/config};
        my $tests = $_;
        my %seen; my $i = 0;
        my @found;
        while ($tests =~ /r#"(.*?)"#|(?<![#\w])"((?:[^"\\]|\\.)*)"/sg) {
            my $s = defined $1 ? $1 : $2;
            if (!defined $1) {
                $s =~ s/\\\n\s*//g;
                $s =~ s/\\u\{([0-9a-fA-F]+)\}/chr(hex($1))/ge;
                $s =~ s/\\(["\\nt0])/$1 eq "n" ? "\n" : $1 eq "t" ? "\t" : $1 eq "0" ? "\0" : $1/ge;
            }
            if ($s !~ /^\s*\[/m) {
                next unless $s =~ /^[a-z_]+ = /m;
                $s = "[service.a]\nexec = \"a\"\n$s\n";
            }
            next if $seen{$s}++;
            open(my $fh, ">:utf8", sprintf("%s/test-%03d.toml", $dir, $i++)) or die;
            print $fh $s; close $fh;
        }' "$root/src/config/tests.rs"
fi

# Captures from this machine. A read can fail (a process gone, no /proc/net): skip it.
capture() { # SOURCE DEST
    cat "$1" > "$2.tmp" 2>/dev/null && mv -f "$2.tmp" "$2" || rm -f "$2.tmp"
}
capture /proc/self/stat "$corpus/proc_stat/self-stat"
capture /proc/1/stat "$corpus/proc_stat/pid1-stat"
capture /proc/self/cmdline "$corpus/proc_stat/self-cmdline"
n=0
for f in /proc/[0-9]*/stat; do
    [ $n -lt 8 ] || break
    capture "$f" "$corpus/proc_stat/stat-$n" && n=$((n + 1))
done
for t in tcp tcp6 udp udp6; do
    capture "/proc/net/$t" "$corpus/proc_net/$t"
done
n=0
for l in /proc/[0-9]*/fd/*; do # socket links, as the sweep reads them
    [ $n -lt 4 ] || break
    link="$(readlink "$l" 2>/dev/null)" || continue
    case "$link" in socket:*) printf '%s' "$link" > "$corpus/proc_net/fd-link-$n"; n=$((n + 1)) ;; esac
done

for t in "${targets[@]}"; do
    echo "seed: $t: $(find "$corpus/$t" -type f | wc -l) inputs in fuzz/corpus/$t"
done
