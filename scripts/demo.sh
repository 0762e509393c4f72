#!/usr/bin/env bash
# scripts/demo.sh: the README's main command. Installs what is missing (Debian packages, the pinned data
# sets), builds, then trains an FNet and the authors' Fast-FNet (--arch fast-fnet, its defaults) side by side
# on a real task (SpamAssassin ham vs spam,
# message bodies as bytes) and prints accuracy, parameters, time and peak memory. Then it embeds a few
# test messages with the trained Fast-FNet. Outputs go to demo/ (git-ignored). About a minute once the data is fetched.
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/deps.sh
make -s -j2 all
FF=build/fastfnet
mkdir -p demo
STEPS=${DEMO_STEPS:-200}
common=(--data text --max-len 512 --hidden 64 --layers 2 --intermediate 256 --batch 32 --steps "$STEPS" --lr 2e-3
    --eval-every 100 --log-every 50 --seed 1 --force)
for arch in fnet fast-fnet; do
    echo "== training $arch on SpamAssassin bodies (bytes, 512 tokens), $STEPS steps"
    $FF train "${common[@]}" --arch "$arch" --out "demo/$arch" >"demo/$arch.result.json"
done
echo
/usr/bin/python3 - <<'PY'
import json
rows = [(a, json.load(open(f"demo/{a}.result.json"))) for a in ("fnet", "fast-fnet")]
print(f"{'model':<10} {'test acc':>9} {'valid acc':>10} {'params':>9} {'train s':>8} {'peak RSS MiB':>13}")
for a, r in rows:
    print(f"{a:<10} {r['test_accuracy']:>9.4f} {r['valid_accuracy']:>10.4f} {r['parameters']:>9} {r['train_seconds']:>8.1f} {r['peak_rss_mib']:>13.1f}")
f, ff = rows[0][1], rows[1][1]
print(f"Fast-FNet (the authors' model) / FNet: parameters {ff['parameters']/f['parameters']:.2f}, time {ff['train_seconds']/f['train_seconds']:.2f}, "
      f"peak memory {ff['peak_rss_mib']/f['peak_rss_mib']:.2f}")
PY
echo
$FF info demo/fast-fnet --batch 32 --seq 512 | tail -n 12
$FF plot demo/fnet/metrics.jsonl demo/fast-fnet/metrics.jsonl --out demo/curves.svg --title "FNet vs Fast-FNet, SpamAssassin"
# embed the first bytes of a few real messages with the trained model (ids = 5 + byte, [CLS] first)
for f in data/spam-assassin/data/spam-1/00001.*.txt data/spam-assassin/data/easy-ham-1/00001.*.txt; do
    printf '0 '
    head -c 255 "$f" | od -An -tu1 -v | tr -s ' \n' ' ' | awk '{for (i = 1; i <= NF; i++) printf "%d ", $i + 5; print ""}'
done >demo/ids.txt
$FF embed --model demo/fast-fnet/model.safetensors --ids demo/ids.txt --out demo/embeddings.safetensors
