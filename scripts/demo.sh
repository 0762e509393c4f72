#!/usr/bin/env bash
# scripts/demo.sh: the README's main command. Installs what is missing, builds, then creates an FNet and a
# Fast-FNet, prints `info` for both, and embeds real text (the GPL-3 text every Debian ships, as bytes)
# with each, side by side. Outputs go to demo/ (git-ignored).
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/deps.sh
make -s -j2 all
FF=build/fastfnet
mkdir -p demo
T=256
common=(--vocab 260 --hidden 256 --layers 4 --intermediate 1024 --max-pos "$T" --seed 1 --force)
$FF init --arch fnet "${common[@]}" --out demo/fnet.safetensors
$FF init --arch fast-fnet --reduce 0 --residual avgpool "${common[@]}" --out demo/fast-fnet.safetensors
echo
$FF info demo/fnet.safetensors --batch 8 --seq "$T"
echo
$FF info demo/fast-fnet.safetensors --batch 8 --seq "$T"
echo
# real text as byte tokens (id = byte + 4, so the ids stay clear of the pad id 3), 8 lines of T tokens
TEXT=/usr/share/common-licenses/GPL-3
[ -r "$TEXT" ] || TEXT=README.md
head -c $((8 * T)) "$TEXT" | od -An -tu1 -v | tr -s ' \n' ' ' | awk -v T="$T" '{for (i = 1; i <= NF; i++) {printf "%d%s", $i + 4, (i % T == 0 ? "\n" : " ")}}' >demo/ids.txt
for m in fnet fast-fnet; do
    printf '%-10s ' "$m"
    $FF embed --model demo/$m.safetensors --ids demo/ids.txt --out demo/$m.embeddings.safetensors
done
