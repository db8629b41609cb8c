#!/usr/bin/env bash
# Fails when C sources call a function STYLE.md bans: sprintf, vsprintf,
# strcpy, strcat, atoi, atol, atoll, gets.  Use snprintf, memcpy with a
# checked length, and strtoll with its end pointer instead.
set -u
cd "$(dirname "$0")/.."
hits=$(grep -rnE --include='*.c' --include='*.h' \
  '(^|[^_a-zA-Z0-9.>])(v?sprintf|strcpy|strcat|atoi|atol|atoll|gets)[[:space:]]*\(' \
  lib daemon api cli workers tests 2>/dev/null)
if [ -n "$hits" ]; then
  echo "banned functions in use:"
  echo "$hits"
  exit 1
fi
echo "no banned functions"
