#!/usr/bin/python3
"""tests/st_tool.py: small safetensors checks for the shell tests (no safetensors package needed).
  st_tool.py equal A B        exit 0 and print "identical" if every tensor is bit-identical, else "differ: ..."
  st_tool.py close A B TOL    print "ok REL" if max|a-b| / max|a| over all F32 tensors < TOL, else "differs REL"
  st_tool.py worst A B TOL [l2|max]  per tensor ||a-b|| / ||a|| (l2, default, or max norm); prints the worst and its name
  st_tool.py shape FILE NAME  print the tensor's shape as a JSON list"""
import array, json, struct, sys


def load(path):
    raw = open(path, "rb").read()
    n = struct.unpack("<Q", raw[:8])[0]
    head = json.loads(raw[8:8 + n])
    data = raw[8 + n:]
    return {k: (v, data[v["data_offsets"][0]:v["data_offsets"][1]]) for k, v in head.items() if k != "__metadata__"}


def floats(blob):
    a = array.array("f")
    a.frombytes(blob)
    return a


cmd = sys.argv[1]
if cmd == "equal":
    a, b = load(sys.argv[2]), load(sys.argv[3])
    diff = [k for k in a if k not in b or a[k][1] != b[k][1]] + [k for k in b if k not in a]
    print("identical" if not diff else "differ: " + ", ".join(diff[:3]))
    sys.exit(1 if diff else 0)
elif cmd == "close":
    a, b, tol = load(sys.argv[2]), load(sys.argv[3]), float(sys.argv[4])
    if a.keys() != b.keys():
        print("differs: tensor names")
        sys.exit(1)
    num = max(abs(x - y) for k in a for x, y in zip(floats(a[k][1]), floats(b[k][1])))
    den = max(abs(x) for k in a for x in floats(a[k][1]))
    rel = num / den if den else num
    print(("ok %.1e" if rel < tol else "differs %.1e") % rel)
    sys.exit(0 if rel < tol else 1)
elif cmd == "worst":
    a, b, tol = load(sys.argv[2]), load(sys.argv[3]), float(sys.argv[4])
    if a.keys() != b.keys():
        print("differs: tensor names")
        sys.exit(1)
    worst, name = 0.0, ""
    l2 = len(sys.argv) < 6 or sys.argv[5] == "l2"
    for k in a:
        x, y = floats(a[k][1]), floats(b[k][1])
        if l2:
            num = sum((p - q) ** 2 for p, q in zip(x, y)) ** 0.5
            den = sum(p * p for p in x) ** 0.5
        else:
            num = max((abs(p - q) for p, q in zip(x, y)), default=0.0)
            den = max((abs(p) for p in x), default=0.0)
        rel = num / den if den else num
        if rel >= worst:
            worst, name = rel, k
    print(("ok %.1e (%s)" if worst < tol else "differs %.1e (%s)") % (worst, name))
    sys.exit(0 if worst < tol else 1)
elif cmd == "shape":
    print(json.dumps(load(sys.argv[2])[sys.argv[3]][0]["shape"]))
else:
    sys.exit("usage: st_tool.py equal A B | close A B TOL | worst A B TOL | shape FILE NAME")
