# Sourced by scripts/test and scripts/bench: `missing_packages ENTRY...`,
# each ENTRY "program debian-package", prints the package of every program
# not installed, once each.
missing_packages() {
  local entry program package
  for entry in "$@"; do
    read -r program package <<<"$entry"
    # Debian puts daemons in sbin, which a user's PATH may lack.
    if ! PATH="$PATH:/usr/local/sbin:/usr/sbin:/sbin" command -v "$program" >/dev/null 2>&1; then
      echo "$package"
    fi
  done | sort -u
}
