#!/usr/bin/env bash
# Peak memory and CPU of `ladder stats` on the resource-exhaustion captures of the fuzz campaign
# (../shared/repro/gen_resource.py), at the default limits. Usage:
#   bash bench/bench_hostile.sh DIR     # DIR: where to write the captures (about 1.2 GB)
# Prints one line per capture: name, file size, user+sys CPU s, peak RSS MB, exit code, and the
# warning lines (limits reached, file problems).
set -u
dir=${1:?usage: bench_hostile.sh DIR}
here=$(cd "$(dirname "$0")/.." && pwd)
gen=$here/../shared/repro/gen_resource.py
mkdir -p "$dir"
for which in ${WHICH:-a b c d1 d2 e1 e2 f g}; do
  file=$dir/$which.pcap
  [ -s "$file" ] || python3 "$gen" "$which" "$file"
  /usr/bin/time -f "%U %S %M" -o "$dir/$which.time" "$here/.venv/bin/python" -m ladder stats "$file" \
    >"$dir/$which.out" 2>"$dir/$which.err"
  code=$?
  read -r user sys rss < <(tail -1 "$dir/$which.time")  # after "Command exited with ..."
  printf '%-3s %8.1f MB  cpu %6.1f s  peak %6.0f MB  exit %d\n' "$which" \
    "$(echo "$(stat -c %s "$file") / 1048576" | bc -l)" "$(echo "$user + $sys" | bc -l)" "$(echo "$rss / 1024" | bc -l)" "$code"
  grep -v '^ ' "$dir/$which.err" | cut -c1-200 | sed 's/^/      /'
done
