# SPDX-License-Identifier: GPL-2.0
# shellcheck shell=bash
#
# Finding the kernel's BTF, for module BTF (CONFIG_DEBUG_INFO_BTF_MODULES)
# and vmlinux.h. Sourced by scripts/kernel.sh (the lab's kernels) and by
# dkms/build.sh (a host's kernels): Debian's 6.1 headers ship no vmlinux,
# but the bzImage holds the ELF image as one compressed stream (xz on 6.1,
# zstd on 6.12), and the first stream that decompresses to an ELF with .BTF
# is it.

# has_btf FILE: FILE is an ELF with a .BTF section.
# (awk reads all of readelf's output: "grep -q" could end the pipe early and
# fail it through SIGPIPE under pipefail.)
has_btf() {
	readelf -SW "$1" 2>/dev/null |
		awk '$2 == ".BTF" || $3 == ".BTF" { f = 1 } END { exit !f }'
}

# extract_vmlinux VMLINUZ OUT: writes the ELF image with .BTF to OUT.
extract_vmlinux() {
	local in=$1 out=$2 magic tool off f
	for f in 'xz -dc:\xfd7zXZ\x00' 'zstd -dc --memory=2048MB:\x28\xb5\x2f\xfd' \
		 'gzip -dc:\x1f\x8b\x08' 'bzip2 -dc:BZh' 'lz4 -dc:\x02\x21\x4c\x18' \
		 'xz -dc --format=lzma:\x5d\x00\x00\x00' 'lzop -dc:\x89LZO'; do
		tool=${f%%:*} magic=${f#*:}
		command -v "${tool%% *}" >/dev/null || continue
		for off in $(LC_ALL=C grep -obUaP "$magic" "$in" | cut -d: -f1 | head -8); do
			tail -c +$((off + 1)) "$in" | $tool 2>/dev/null > "$out" || true
			if has_btf "$out"; then
				echo "vmlinux is the ${tool%% *} stream at offset $off of ${in##*/}" >&2
				return 0
			fi
		done
	done
	rm -f "$out"
	return 1
}

# btf_of ELF: the sha256 of its .BTF section.
btf_of() {
	local off size
	read -r off size < <(readelf -SW "$1" |
		awk '$2 == ".BTF" { print $5, $6 } $3 == ".BTF" { print $6, $7 }')
	tail -c +$((16#$off + 1)) "$1" | head -c $((16#$size)) | sha256sum
}
