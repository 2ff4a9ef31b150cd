#!/usr/bin/env bash
# Fetch what the VM boot tests need into target/vm/ (cached): Debian's current kernel
# (extracted with dpkg -x, not installed) and qemu-system-x86_64.
#
# qemu: if the machine has qemu-system-x86_64, it is used. Otherwise Debian's
# qemu-system-x86, qemu-system-common (its accelerator modules), qemu-system-data and
# seabios packages are downloaded and extracted
# into target/vm/qemu/ (not installed: installing qemu-system-x86 would remove a newer
# qemu-utils from the machine), and only the shared libraries they need are installed.
set -euo pipefail
cd "$(dirname "$0")/../.."
out=target/vm
mkdir -p "$out"
cd "$out"

updated=0
apt_update() { if [ $updated = 0 ]; then apt-get update -qq; updated=1; fi; }

# --- the kernel -------------------------------------------------------------------
if [ ! -s vmlinuz ]; then
    apt_update
    pkg=$(apt-cache depends linux-image-amd64 | awk '/Depends: linux-image-[0-9]/ {print $2; exit}')
    [ -n "$pkg" ] || { echo "cannot find the kernel package behind linux-image-amd64" >&2; exit 1; }
    rm -rf kernel && mkdir kernel
    (cd kernel && apt-get download -qq "$pkg" && dpkg -x ./*.deb root)
    cp kernel/root/boot/vmlinuz-* vmlinuz
    rm -rf kernel
    echo "kernel: $pkg"
fi

# --- qemu -------------------------------------------------------------------------
if command -v qemu-system-x86_64 >/dev/null; then
    ln -sf "$(command -v qemu-system-x86_64)" qemu-system-x86_64
    echo "qemu: $(command -v qemu-system-x86_64)"
    exit 0
fi
if [ ! -x qemu/usr/bin/qemu-system-x86_64 ]; then
    apt_update
    rm -rf qemu debs && mkdir -p qemu debs
    (cd debs && apt-get download -qq qemu-system-x86 qemu-system-common qemu-system-data seabios ipxe-qemu)
    for d in debs/*.deb; do dpkg -x "$d" qemu; done
    rm -rf debs
    # Only the libraries: every lib* package qemu-system-x86 depends on.
    libs=$(apt-cache depends qemu-system-x86 | awk '/Depends: lib/ {print $2}' | sort -u)
    # shellcheck disable=SC2086
    apt-get install -y -qq --no-install-recommends $libs >/dev/null
fi
cat > qemu-system-x86_64 <<WRAP
#!/bin/sh
here=\$(cd "\$(dirname "\$0")" && pwd)
export QEMU_MODULE_DIR="\$here/qemu/usr/lib/x86_64-linux-gnu/qemu"
exec "\$here/qemu/usr/bin/qemu-system-x86_64" -L "\$here/qemu/usr/share/seabios" -L "\$here/qemu/usr/share/qemu" "\$@"
WRAP
chmod +x qemu-system-x86_64
./qemu-system-x86_64 --version | head -1
