# SPDX-License-Identifier: GPL-2.0-or-later
#
# Shared by build-deb.sh and build-rpm.sh (sourced, not run): which source
# files a package is built from, and copying them out of the checkout.
#
#   clean  the committed HEAD, as a fresh clone would have it
#   tree   the working tree: tracked and untracked files, less what
#          .gitignore hides (build directories, packaging/out)
# A directory that is no git checkout (an unpacked tarball) is copied whole,
# less build*/ and packaging/out/.

# The project version from meson.build's project() call.
source_version() {
	local v
	v=$(sed -n "s/^[[:space:]]*version[[:space:]]*:[[:space:]]*'\([^']*\)'.*/\1/p" "$1/meson.build" | head -n 1)
	if [ -z "$v" ]; then
		echo "cannot find the version in $1/meson.build" >&2
		return 1
	fi
	echo "$v"
}

_source_is_git() {
	git -C "$1" rev-parse --is-inside-work-tree >/dev/null 2>&1
}

# NUL-separated relative paths of the files in the working tree.
_source_tree_files() {
	local root=$1 f
	if _source_is_git "$root"; then
		git -C "$root" ls-files -z -co --exclude-standard | while IFS= read -r -d '' f; do
			# Tracked but deleted in the working tree: not part of it.
			[ -e "$root/$f" ] || [ -L "$root/$f" ] || continue
			printf '%s\0' "$f"
		done
	else
		(cd "$root" && find . \( -path './build*' -o -path ./packaging/out -o -name .git \) -prune \
			-o \( -type f -o -type l \) -printf '%P\0')
	fi
}

# A hash that changes whenever a file the package is built from changes.
source_hash() {
	local root=$1 mode=$2
	if [ "$mode" = clean ]; then
		printf 'clean %s\n' "$(git -C "$root" rev-parse 'HEAD^{tree}')"
		return
	fi
	(
		cd "$root" || exit 1
		_source_tree_files "$root" | LC_ALL=C sort -z | xargs -0 -r sha256sum | sha256sum | sed 's/ .*//;s/^/tree /'
	)
}

# Copies the chosen source into dest (which must not exist yet).
source_copy() {
	local root=$1 mode=$2 dest=$3
	if [ "$mode" = clean ]; then
		if ! _source_is_git "$root"; then
			echo "$root is no git checkout: use --tree" >&2
			return 1
		fi
		git clone --quiet --no-hardlinks "$root" "$dest"
		rm -rf "$dest/.git"
		return
	fi
	mkdir -p "$dest"
	_source_tree_files "$root" | (cd "$root" && tar --null -T - -cf -) | tar -C "$dest" -xf -
}
