#!/bin/sh
# SPDX-License-Identifier: MIT
# Builds bench_rewrite's corpus: real x86-64 relocatable objects, the kernel modules of
# Debian's linux-image package (fetched with apt-get download, never installed; .ko.xz
# decompressed). Stops once the modules hold at least MIN_MB megabytes of
# code (executable sections). Usage: rewrite-corpus.sh DIR [MIN_MB]. Idempotent: a DIR
# with a .complete marker is left alone.
set -eu
dir=$1
min_mb=${2:-12}
[ -f "$dir/.complete" ] && exit 0
command -v xz >/dev/null || { echo "rewrite-corpus: xz is needed (apt-get install xz-utils)" >&2; exit 1; }
mkdir -p "$dir/deb" "$dir/ko"
pkg=$(apt-cache search --names-only '^linux-image-[0-9.]+-[0-9]+-amd64$' | awk '{print $1}' | sort -V | tail -1)
[ -n "$pkg" ] || { echo "rewrite-corpus: no linux-image-*-amd64 package in the apt index" >&2; exit 1; }
if ! ls "$dir"/deb/*.deb >/dev/null 2>&1; then
	(cd "$dir/deb" && apt-get download "$pkg" >/dev/null 2>&1) ||
		{ echo "rewrite-corpus: apt-get download $pkg failed" >&2; exit 1; }
fi
rm -rf "$dir/x"
dpkg -x "$dir"/deb/*.deb "$dir/x"
code=0
# sorted, so every run (and machine) gets the same corpus
for f in $(find "$dir/x" -name '*.ko' -o -name '*.ko.xz' | sort); do
	out="$dir/ko/$(echo "${f#"$dir"/x/}" | tr / _ | sed 's/\.xz$//')"
	case "$f" in
	*.xz) xz -dc "$f" > "$out" ;;
	*) cp "$f" "$out" ;;
	esac
	bytes=$(python3 - "$out" <<'PY'
import struct, sys
d = open(sys.argv[1], "rb").read()
shoff, = struct.unpack_from("<Q", d, 0x28)
shnum, = struct.unpack_from("<H", d, 0x3c)
code = 0
for i in range(shnum):
    _, typ, flags, _, _, size = struct.unpack_from("<IIQQQQ", d, shoff + 64 * i)
    if typ == 1 and flags & 4:  # SHT_PROGBITS, SHF_EXECINSTR
        code += size
print(code)
PY
)
	code=$((code + bytes))
	[ "$code" -ge $((min_mb * 1000000)) ] && break
done
rm -rf "$dir/x"
echo "$code" > "$dir/.complete"
echo "rewrite-corpus: $(ls "$dir/ko" | wc -l) modules of $pkg, $code bytes of code, in $dir/ko"
